package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
)

type pricingBody struct {
	CardEnrolment *int64 `json:"cardEnrolment"`
	Transaction   *int64 `json:"transaction"`
}

type contractBody struct {
	Configurations []api.Configuration `json:"configurations"`
	MaxSubaccounts *int                `json:"maxSubaccounts"`
	Currency       *string             `json:"currency"`
	Pricing        *pricingBody        `json:"pricing"`
}

func (b *contractBody) toInput() tenancy.ContractInput {
	if b == nil {
		return tenancy.ContractInput{}
	}
	in := tenancy.ContractInput{Configurations: toPolicyConfigurations(b.Configurations), MaxSubaccounts: b.MaxSubaccounts, Currency: b.Currency}
	if b.Pricing != nil {
		in.Pricing = &tenancy.PricingInput{CardEnrolment: b.Pricing.CardEnrolment, Transaction: b.Pricing.Transaction}
	}
	return in
}

type createAccountBody struct {
	Name     *string       `json:"name"`
	Contract *contractBody `json:"contract"`
}

func handleCreateAccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body createAccountBody
		if !decode(c, &body) {
			return
		}
		var missing []subaccounts.FieldError
		if body.Name == nil {
			missing = append(missing, subaccounts.FieldError{Pointer: "/name", Detail: "is required"})
		}
		if body.Contract == nil {
			missing = append(missing, subaccounts.FieldError{Pointer: "/contract", Detail: "is required"})
		}
		if len(missing) > 0 {
			fail(c, subaccounts.Invalid(missing...))
			return
		}
		a, err := svc.CreateAccount(c.Request.Context(), *body.Name, body.Contract.toInput())
		if err != nil {
			fail(c, err)
			return
		}
		c.Header("Location", "/v1/accounts/"+a.ID.String())
		setETag(c, a.Version)
		writeJSON(c, http.StatusCreated, api.FromAccount(a))
	}
}

func handleListAccounts(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		items, next, err := svc.ListAccounts(c.Request.Context(), p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromAccount))
	}
}

func handleGetAccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "accountId")
		if !ok {
			return
		}
		a, err := svc.GetAccount(c.Request.Context(), id)
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, a.Version)
		writeJSON(c, http.StatusOK, api.FromAccount(a))
	}
}

// handleOwnAccount answers GET /v1/account: the caller's own account and contract.
func handleOwnAccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		a, err := svc.GetAccount(c.Request.Context(), mustPrincipal(c).AccountID)
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, a.Version)
		writeJSON(c, http.StatusOK, api.FromAccount(a))
	}
}

type patchAccountBody struct {
	Name        *string `json:"name"`
	CreditLimit *int64  `json:"creditLimit"`
}

func handlePatchAccount(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "accountId")
		if !ok {
			return
		}
		var body patchAccountBody
		if !decode(c, &body) {
			return
		}
		a, err := svc.UpdateAccount(c.Request.Context(), id, tenancy.AccountPatch{Name: body.Name, CreditLimit: body.CreditLimit}, ifMatch(c))
		if err != nil {
			fail(c, err)
			return
		}
		setETag(c, a.Version)
		writeJSON(c, http.StatusOK, api.FromAccount(a))
	}
}

func handlePutContract(svc *tenancy.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "accountId")
		if !ok {
			return
		}
		dryRun, ok := boolParam(c, "dryRun")
		if !ok {
			return
		}
		cascade := false
		switch mode := c.Query("mode"); mode {
		case "", "reject":
		case "cascade":
			cascade = true
		default:
			invalidParam(c, "mode", "must be reject or cascade")
			return
		}
		var body contractBody
		if !decode(c, &body) {
			return
		}
		ch, err := svc.SetContract(c.Request.Context(), id, body.toInput(), dryRun, cascade, ifMatch(c))
		if err != nil {
			fail(c, err)
			return
		}
		if !dryRun {
			setETag(c, ch.Account.Version)
		}
		writeJSON(c, http.StatusOK, toContractChangeView(ch))
	}
}
