package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// handleCreateTransfer serves POST /v1/credit-transfers and /v1/balance-transfers.
func handleCreateTransfer(svc *ledger.Service, kind subaccounts.EntryKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body api.TransferRequest
		if !decode(c, &body) {
			return
		}
		e, err := svc.Transfer(c.Request.Context(), mustPrincipal(c), kind, ledger.TransferInput{
			From: body.From, To: body.To, Amount: body.Amount, Reference: body.Reference,
		})
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, api.FromTransfer(e))
	}
}

// handleListTransfers serves GET /v1/credit-transfers and /v1/balance-transfers.
func handleListTransfers(svc *ledger.Service, kind subaccounts.EntryKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		var errs []subaccounts.FieldError
		q := ledger.TransferQuery{SubaccountID: queryUUID(c, "subaccountId", &errs), Window: queryWindow(c, &errs)}
		if queryInvalid(c, errs) {
			return
		}
		items, next, err := svc.ListTransfers(c.Request.Context(), mustPrincipal(c), kind, q, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, api.FromTransfer))
	}
}

type topUpBody struct {
	Amount    *int64  `json:"amount"`
	Reference *string `json:"reference"`
}

func handleTopUp(svc *ledger.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "accountId")
		if !ok {
			return
		}
		var body topUpBody
		if !decode(c, &body) {
			return
		}
		r, err := svc.TopUp(c.Request.Context(), id, body.Amount, body.Reference)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusCreated, api.TopUp{
			ID: r.Entry.ID.String(), AccountID: id.String(), Amount: r.Entry.Amount, Currency: r.Account.Contract.Currency,
			Reference: r.Entry.Reference, Balance: r.Account.Balance, CreatedAt: api.Time(r.Entry.CreatedAt),
		})
	}
}

func toUsageView(u ledger.Usage) api.Usage {
	v := api.Usage{
		SubaccountID: u.SubaccountID.String(), Name: u.Name, From: api.Time(u.From), To: api.Time(u.To), Currency: u.Currency,
		Enrolments: u.Enrolments, ActiveCards: u.ActiveCards,
		Transactions: api.UsageTransactions{Count: u.TransactionCount(), ByCurrency: make([]api.CurrencyVolume, len(u.Transactions))},
		Charges:      api.UsageCharges{CardEnrolments: u.CardEnrolmentCharges, Transactions: u.TransactionCharges},
		TotalUsage:   u.TotalUsage, PaidByPrimary: u.PaidByPrimary,
	}
	for i, t := range u.Transactions {
		v.Transactions.ByCurrency[i] = api.CurrencyVolume{Currency: t.Currency, Count: t.Count, Volume: t.Volume}
	}
	return v
}

func handleSubaccountUsage(svc *ledger.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "subaccountId")
		if !ok {
			return
		}
		var errs []subaccounts.FieldError
		w := queryWindow(c, &errs)
		if queryInvalid(c, errs) {
			return
		}
		u, err := svc.SubaccountUsage(c.Request.Context(), mustPrincipal(c), id, w)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toUsageView(u))
	}
}

func handleAccountUsage(svc *ledger.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := page(c)
		if !ok {
			return
		}
		var errs []subaccounts.FieldError
		w := queryWindow(c, &errs)
		if queryInvalid(c, errs) {
			return
		}
		items, next, err := svc.AccountUsage(c.Request.Context(), mustPrincipal(c), w, p)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toList(items, next, toUsageView))
	}
}
