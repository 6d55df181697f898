package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type merchantBody struct {
	Name        *string `json:"name"`
	MCC         *string `json:"mcc"`
	CountryCode *string `json:"countryCode"`
	City        *string `json:"city"`
}

// messageBody is one network message as sent. CardNumber, when used, is a PAN: it lives
// only in this struct while the request is handled.
type messageBody struct {
	NetworkTransactionID *string       `json:"networkTransactionId"`
	Type                 *string       `json:"type"`
	CardID               *string       `json:"cardId"`
	CardNumber           *string       `json:"cardNumber"`
	Amount               *int64        `json:"amount"`
	Currency             *string       `json:"currency"`
	Datetime             *string       `json:"datetime"`
	Merchant             *merchantBody `json:"merchant"`
	AuthCode             *string       `json:"authCode"`
}

func (b messageBody) toInput() routing.MessageInput {
	in := routing.MessageInput{
		NetworkTransactionID: b.NetworkTransactionID, Type: b.Type, CardID: b.CardID, CardNumber: b.CardNumber,
		Amount: b.Amount, Currency: b.Currency, Datetime: b.Datetime, AuthCode: b.AuthCode,
	}
	if b.Merchant != nil {
		in.Merchant = &routing.MerchantInput{Name: b.Merchant.Name, MCC: b.Merchant.MCC, CountryCode: b.Merchant.CountryCode, City: b.Merchant.City}
	}
	return in
}

// writeIngestOutcome answers one message: 201 routed now, 200 a duplicate of a stored
// one, 202 kept in the unrouted queue.
func writeIngestOutcome(c *gin.Context, o routing.IngestOutcome) {
	switch o.Status {
	case routing.IngestRouted:
		writeTransaction(c, http.StatusCreated, api.FromTransaction(o.Transaction))
	case routing.IngestDuplicate:
		writeTransaction(c, http.StatusOK, api.FromTransaction(o.Transaction))
	default:
		writeUnrouted(c, api.FromUnrouted(o.Transaction))
	}
}

func handleIngestTransaction(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body messageBody
		if !decode(c, &body) {
			return
		}
		o, err := svc.IngestTransaction(c.Request.Context(), mustPrincipal(c), body.toInput())
		if err != nil {
			fail(c, err)
			return
		}
		writeIngestOutcome(c, o)
	}
}

// member is messageBody's fastBody decoder; a test holds it to the json tags.
func (b *messageBody) member(key []byte) (int, any, bool) {
	switch string(key) {
	case "networkTransactionId":
		return 0, &b.NetworkTransactionID, true
	case "type":
		return 1, &b.Type, true
	case "cardId":
		return 2, &b.CardID, true
	case "cardNumber":
		return 3, &b.CardNumber, true
	case "amount":
		return 4, &b.Amount, true
	case "currency":
		return 5, &b.Currency, true
	case "datetime":
		return 6, &b.Datetime, true
	case "merchant":
		// Made before its value is read, as encoding/json does; a value of another type
		// fails the decode, so an empty merchant is never seen.
		if b.Merchant == nil {
			b.Merchant = new(merchantBody)
		}
		return 7, b.Merchant, true
	case "authCode":
		return 8, &b.AuthCode, true
	}
	return 0, nil, false
}

// member is merchantBody's fastBody decoder.
func (b *merchantBody) member(key []byte) (int, any, bool) {
	switch string(key) {
	case "name":
		return 0, &b.Name, true
	case "mcc":
		return 1, &b.MCC, true
	case "countryCode":
		return 2, &b.CountryCode, true
	case "city":
		return 3, &b.City, true
	}
	return 0, nil, false
}

// messageBatchBody is a batch of messages as sent. Each item is checked and decoded on
// its own terms (see fastWalker.items), so that a malformed one is refused in its own
// result, in the same scan as the batch.
type messageBatchBody struct {
	Messages messageItems `json:"messages"`
}

func (b *messageBatchBody) member(key []byte) (int, any, bool) {
	if string(key) == "messages" {
		return 0, &b.Messages, true
	}
	return 0, nil, false
}

func handleIngestTransactions(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body messageBatchBody
		if !decode(c, &body) {
			return
		}
		items := make([]routing.MessageInput, len(body.Messages))
		for i, m := range body.Messages {
			if m.err != nil {
				items[i].Malformed = []subaccounts.FieldError{*m.err}
				continue
			}
			items[i] = m.body.toInput()
		}
		outcomes, err := svc.IngestTransactions(c.Request.Context(), mustPrincipal(c), items)
		if err != nil {
			fail(c, err)
			return
		}
		var v api.MessageBatch
		v.Results = make([]api.MessageOutcome, len(outcomes))
		for i, o := range outcomes {
			r := api.MessageOutcome{Index: i}
			switch {
			case o.Err != nil:
				p := problemFor(c, o.Err)
				r.Status, r.Problem = p.Status, &p
				v.Summary.Rejected++
			case o.Status == routing.IngestRouted || o.Status == routing.IngestDuplicate:
				tv := api.FromTransaction(o.Transaction)
				r.Status, r.Transaction = http.StatusCreated, &tv
				if o.Status == routing.IngestDuplicate {
					r.Status = http.StatusOK
					v.Summary.Duplicates++
				} else {
					v.Summary.Routed++
				}
			default:
				uv := api.FromUnrouted(o.Transaction)
				r.Status, r.Unrouted = http.StatusAccepted, &uv
				v.Summary.Unrouted++
			}
			v.Results[i] = r
		}
		writeAppended(c, http.StatusOK, func(b []byte) []byte { return appendMessageBatch(b, &v) })
	}
}

// transactionQuery parses a transaction listing's filters; subaccountId only where the
// route does not name the subaccount itself.
func transactionQuery(c *gin.Context, withSubaccount bool) (routing.TransactionQuery, bool) {
	var errs []subaccounts.FieldError
	var q routing.TransactionQuery
	if withSubaccount {
		q.SubaccountID = queryUUID(c, "subaccountId", &errs)
	}
	q.CardID = queryUUID(c, "cardId", &errs)
	switch t := subaccounts.TransactionType(c.Query("type")); t {
	case "":
	case subaccounts.TxAuth, subaccounts.TxClearing, subaccounts.TxRefund, subaccounts.TxReversal:
		q.Type = t
	default:
		errs = append(errs, subaccounts.FieldError{Parameter: "type", Detail: "must be auth, clearing, refund or reversal"})
	}
	q.Window = queryWindow(c, &errs)
	return q, !queryInvalid(c, errs)
}

func handleListTransactions(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		q, ok := transactionQuery(c, true)
		if !ok {
			return
		}
		items, next, err := svc.ListTransactions(c.Request.Context(), mustPrincipal(c), q, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromTransaction))
	}
}

func handleListSubaccountTransactions(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		p, ok := page(c)
		if !ok {
			return
		}
		q, ok := transactionQuery(c, false)
		if !ok {
			return
		}
		items, next, err := svc.ListSubaccountTransactions(c.Request.Context(), mustPrincipal(c), id, q, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromTransaction))
	}
}

func handleGetTransaction(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "transactionId")
		if !ok {
			return
		}
		t, life, err := svc.GetTransaction(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, withLifecycle(api.FromTransaction(t), life))
	}
}

func handleListUnrouted(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		items, next, err := svc.ListUnrouted(c.Request.Context(), mustPrincipal(c), p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromUnrouted))
	}
}

func handleRetryUnrouted(svc *routing.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "transactionId")
		if !ok {
			return
		}
		o, err := svc.RetryUnrouted(c.Request.Context(), mustPrincipal(c), id)
		if err != nil {
			fail(c, err)
			return
		}
		writeIngestOutcome(c, o)
	}
}
