package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type createClientBody struct {
	Name         *string  `json:"name"`
	Scopes       []string `json:"scopes"`
	SubaccountID *string  `json:"subaccountId"`
	// RateLimit is an integer (requests per second, 0 for unlimited) or "default".
	RateLimit json.RawMessage `json:"rateLimit"`
}

type patchClientBody struct {
	RateLimit json.RawMessage `json:"rateLimit"`
}

// rateLimitDefault is the rateLimit value that leaves a client to the service's default.
const rateLimitDefault = "default"

// parseRateLimit reads a rateLimit value: "default" is nil, otherwise an integer.
// JSON null is refused by decode, so the default needs a name of its own.
func parseRateLimit(raw json.RawMessage) (*int, *subaccounts.FieldError) {
	if bytes.Equal(raw, []byte(`"`+rateLimitDefault+`"`)) {
		return nil, nil
	}
	var n int
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, &subaccounts.FieldError{Pointer: "/rateLimit", Detail: fmt.Sprintf("must be an integer from 0 (unlimited) to %d requests per second, or %q", issuer.MaxClientRateLimit, rateLimitDefault)}
	}
	return &n, nil
}

var errExternalIssuer = subaccounts.Errorf(subaccounts.CodeNotSupported,
	"Clients are managed by the external OAuth2 issuer (OIDC_ISSUER_URL), not by this service.")

// clientsAccount reads the account id of a client route, and refuses the route when
// clients live in an external issuer.
func clientsAccount(c *gin.Context, is *issuer.Issuer) (uuid.UUID, bool) {
	accountID, ok := pathID(c, "accountId")
	if !ok {
		return uuid.Nil, false
	}
	if is == nil {
		fail(c, errExternalIssuer)
		return uuid.Nil, false
	}
	return accountID, true
}

func handleCreateClient(is *issuer.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		accountID, ok := clientsAccount(c, is)
		if !ok {
			return
		}
		var body createClientBody
		if !decode(c, &body) {
			return
		}
		var errs []subaccounts.FieldError
		if body.Name == nil {
			errs = append(errs, subaccounts.FieldError{Pointer: "/name", Detail: "is required"})
		}
		in := issuer.ClientInput{Scopes: body.Scopes}
		if body.SubaccountID != nil {
			id, err := uuid.Parse(*body.SubaccountID)
			if err != nil || len(*body.SubaccountID) != 36 {
				errs = append(errs, subaccounts.FieldError{Pointer: "/subaccountId", Detail: "must be a UUID"})
			} else {
				in.SubaccountID = &id
			}
		}
		if body.RateLimit != nil {
			var fe *subaccounts.FieldError
			if in.RateLimit, fe = parseRateLimit(body.RateLimit); fe != nil {
				errs = append(errs, *fe)
			}
		}
		if len(errs) > 0 {
			fail(c, subaccounts.Invalid(errs...))
			return
		}
		in.Name = *body.Name
		cl, secret, err := is.CreateClient(c.Request.Context(), accountID, in)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, api.CreatedClient{Client: toClientView(cl), ClientSecret: secret})
	}
}

func handleListClients(is *issuer.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		accountID, ok := clientsAccount(c, is)
		if !ok {
			return
		}
		p, ok := page(c)
		if !ok {
			return
		}
		items, next, err := is.ListClients(c.Request.Context(), accountID, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, toClientView))
	}
}

func handleDeleteClient(is *issuer.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		accountID, ok := clientsAccount(c, is)
		if !ok {
			return
		}
		if err := is.RevokeClient(c.Request.Context(), accountID, c.Param("clientId")); err != nil {
			fail(c, err)
			return
		}
		c.Status(http.StatusNoContent)
	}
}

// handlePatchClient changes an account's client; rateLimit is the only changeable field.
func handlePatchClient(is *issuer.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		accountID, ok := clientsAccount(c, is)
		if !ok {
			return
		}
		var body patchClientBody
		if !decode(c, &body) {
			return
		}
		if body.RateLimit == nil {
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/rateLimit", Detail: "is required"}))
			return
		}
		limit, fe := parseRateLimit(body.RateLimit)
		if fe != nil {
			fail(c, subaccounts.Invalid(*fe))
			return
		}
		cl, err := is.SetClientRateLimit(c.Request.Context(), accountID, c.Param("clientId"), limit)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toClientView(cl))
	}
}
