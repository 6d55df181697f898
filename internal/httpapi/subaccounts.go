package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
)

// toAutoTopUp reads an autoTopUp member; both of its fields are required.
func toAutoTopUp(b *api.AutoTopUpRequest) (*subaccounts.AutoTopUp, error) {
	if b == nil {
		return nil, nil
	}
	var missing []subaccounts.FieldError
	if b.Threshold == nil {
		missing = append(missing, subaccounts.FieldError{Pointer: "/autoTopUp/threshold", Detail: "is required"})
	}
	if b.Amount == nil {
		missing = append(missing, subaccounts.FieldError{Pointer: "/autoTopUp/amount", Detail: "is required (0 turns auto top-up off)"})
	}
	if len(missing) > 0 {
		return nil, subaccounts.Invalid(missing...)
	}
	return &subaccounts.AutoTopUp{Threshold: *b.Threshold, Amount: *b.Amount}, nil
}

func handleCreateSubaccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body api.CreateSubaccountRequest
		if !decode(c, &body) {
			return
		}
		if body.Name == nil {
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/name", Detail: "is required"}))
			return
		}
		topUp, err := toAutoTopUp(body.AutoTopUp)
		if err != nil {
			fail(c, err)
			return
		}
		s, err := svc.CreateSubaccount(c.Request.Context(), mustPrincipal(c), tenancy.SubaccountInput{
			Name:              *body.Name,
			Configurations:    toPolicyConfigurations(body.Configurations),
			Metadata:          body.Metadata,
			UsePrimaryBalance: body.UsePrimaryAccountBalance,
			AutoTopUp:         topUp,
			MaxCards:          body.MaxCards,
		})
		if err != nil {
			fail(c, err)
			return
		}
		c.Header("Location", "/v1/subaccounts/"+s.ID.String())
		setETag(c, s.Version)
		writeJSON(c, http.StatusCreated, api.FromSubaccount(s))
	}
}

func handleListSubaccounts(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		f := subaccounts.SubaccountFilter{NamePrefix: c.Query("name"), Country: c.Query("country"), Network: c.Query("network")}
		items, next, err := svc.ListSubaccounts(c.Request.Context(), mustPrincipal(c), f, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromSubaccount))
	}
}

func handleGetSubaccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		s, err := svc.GetSubaccount(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, s.Version)
		writeJSON(c, http.StatusOK, api.FromSubaccount(s))
	}
}

func handlePatchSubaccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		dryRun, ok := boolParam(c, "dryRun")
		if !ok {
			return
		}
		var body api.PatchSubaccountRequest
		if !decode(c, &body) {
			return
		}
		topUp, err := toAutoTopUp(body.AutoTopUp)
		if err != nil {
			fail(c, err)
			return
		}
		patch := tenancy.SubaccountPatch{
			Name: body.Name, Metadata: body.Metadata, Suspended: body.Suspended,
			UsePrimaryBalance: body.UsePrimaryAccountBalance, AutoTopUp: topUp, MaxCards: body.MaxCards,
		}
		if body.Configurations != nil {
			cfg := toPolicyConfigurations(*body.Configurations)
			patch.Configurations = &cfg
		}
		ch, err := svc.UpdateSubaccount(c.Request.Context(), mustPrincipal(c), id, patch, dryRun, ifMatch(c))
		if err != nil {
			fail(c, err)
			return
		}
		if dryRun {
			writeJSON(c, http.StatusOK, api.SubaccountDryRun{
				DryRun: true, Subaccount: api.FromSubaccount(ch.Subaccount),
				CardsPutOutOfPolicy: ch.CardsPutOutOfPolicy, CardsByPair: api.FromPairCounts(ch.CardsByPair),
			})
			return
		}
		setETag(c, ch.Subaccount.Version)
		writeJSON(c, http.StatusOK, api.FromSubaccount(ch.Subaccount))
	}
}

func handleDeleteSubaccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		cascade, ok := boolParam(c, "cascade")
		if !ok {
			return
		}
		if err := svc.DeleteSubaccount(c.Request.Context(), mustPrincipal(c), id, cascade); err != nil {
			fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

func handleEntitlements(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		country, network := c.Query("country"), c.Query("network")
		ex, err := svc.Explain(c.Request.Context(), mustPrincipal(c), id, country, network)
		if err != nil {
			fail(c, err)
			return
		}
		v := api.Entitlement{SubaccountID: id.String(), Country: country, Network: network, Permitted: ex.Permitted, Reason: ex.Reason}
		if ex.DeniedBy != "" {
			v.DeniedBy = &ex.DeniedBy
		}
		if ex.Element >= 0 {
			v.Configuration = &ex.Element
		}
		writeJSON(c, http.StatusOK, v)
	}
}
