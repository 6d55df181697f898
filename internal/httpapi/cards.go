package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// cardBody is an enrolment as sent, api.CardEnrolment under a name of this package so
// that it can carry toInput. Number is the PAN: it lives only in this struct while the
// request is handled and is never logged or echoed.
type cardBody api.CardEnrolment

func (b cardBody) toInput() cards.CardInput {
	return cards.CardInput{
		Number: b.Number, ExpMonth: b.ExpMonth, ExpYear: b.ExpYear,
		CountryCode: b.CountryCode, TermsOfUse: b.TermsOfUse, Metadata: b.Metadata,
	}
}

// member is cardBody's fastBody decoder; a test holds it to the json tags.
func (b *cardBody) member(key []byte) (int, any, bool) {
	switch string(key) {
	case "number":
		return 0, &b.Number, true
	case "expMonth":
		return 1, &b.ExpMonth, true
	case "expYear":
		return 2, &b.ExpYear, true
	case "countryCode":
		return 3, &b.CountryCode, true
	case "termsOfUse":
		return 4, &b.TermsOfUse, true
	case "metadata":
		return 5, &b.Metadata, true
	}
	return 0, nil, false
}

func handleEnrolCard(svc *cards.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		subID, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		var body cardBody
		if !decode(c, &body) {
			return
		}
		card, err := svc.EnrolCard(c.Request.Context(), mustPrincipal(c), subID, body.toInput())
		if err != nil {
			fail(c, err)
			return
		}
		c.Header("Location", "/v1/cards/"+card.ID.String())
		v := api.FromCard(card)
		writeAppended(c, http.StatusCreated, func(b []byte) []byte { return appendCard(b, &v) })
	}
}

// cardBatchBody is a batch enrolment as sent. Each item is decoded on its own (see
// decodeBytes), so that a malformed one is refused in its own result.
type cardBatchBody struct {
	Cards []json.RawMessage `json:"cards"`
}

func handleEnrolCards(svc *cards.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		subID, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		var body cardBatchBody
		if !decode(c, &body) {
			return
		}
		items := make([]cards.CardInput, len(body.Cards))
		for i, raw := range body.Cards {
			var b cardBody
			if fe := decodeBytes(raw, &b); fe != nil {
				items[i].Malformed = []subaccounts.FieldError{*fe}
				continue
			}
			items[i] = b.toInput()
		}
		outcomes, err := svc.EnrolCards(c.Request.Context(), mustPrincipal(c), subID, items)
		if err != nil {
			fail(c, err)
			return
		}
		var v api.CardBatch
		v.Results = make([]api.CardOutcome, len(outcomes))
		for i, o := range outcomes {
			r := api.CardOutcome{Index: i}
			if o.Err != nil {
				p := problemFor(c, o.Err)
				r.Status, r.Problem = p.Status, &p
				v.Summary.Failed++
			} else {
				cv := api.FromCard(*o.Card)
				r.Status, r.Card = http.StatusCreated, &cv
				v.Summary.Enrolled++
			}
			v.Results[i] = r
		}
		writeJSON(c, http.StatusOK, v)
	}
}

func handleListCards(svc *cards.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		f := subaccounts.CardFilter{
			Network: c.Query("network"), Country: c.Query("countryCode"),
			Status: subaccounts.CardStatus(c.Query("status")), PolicyStatus: subaccounts.PolicyStatus(c.Query("policyStatus")),
		}
		var errs []subaccounts.FieldError
		if f.SubaccountID = queryUUID(c, "subaccountId", &errs); queryInvalid(c, errs) {
			return
		}
		items, next, err := svc.ListCards(c.Request.Context(), mustPrincipal(c), f, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromCard))
	}
}

func handleGetCard(svc *cards.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "cardId")
		if !ok {
			return
		}
		card, err := svc.GetCard(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, api.FromCard(card))
	}
}

func handleRemoveCard(svc *cards.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "cardId")
		if !ok {
			return
		}
		card, err := svc.RemoveCard(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, api.FromCard(card))
	}
}

func handleMoveCard(svc *cards.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "cardId")
		if !ok {
			return
		}
		var body api.CardMove
		if !decode(c, &body) {
			return
		}
		if body.SubaccountID == nil {
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/subaccountId", Detail: "is required"}))
			return
		}
		to, err := uuid.Parse(*body.SubaccountID)
		if err != nil || len(*body.SubaccountID) != 36 {
			fail(c, subaccounts.Invalid(subaccounts.FieldError{Pointer: "/subaccountId", Detail: "must be a UUID"}))
			return
		}
		card, err := svc.MoveCard(c.Request.Context(), mustPrincipal(c), id, to)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, api.FromCard(card))
	}
}
