package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type transferBody struct {
	From      *string `json:"from"`
	To        *string `json:"to"`
	Amount    *int64  `json:"amount"`
	Reference *string `json:"reference"`
}

type transferView struct {
	ID           uuid.UUID  `json:"id"`
	Amount       int64      `json:"amount"`
	From         string     `json:"from"`
	To           string     `json:"to"`
	SubaccountID *uuid.UUID `json:"subaccountId"`
	Reference    string     `json:"reference"`
	CreatedAt    timestamp  `json:"createdAt"`
}

func toTransferView(e subaccounts.Entry) transferView {
	return transferView{
		ID: e.ID, Amount: e.Amount, From: e.From, To: e.To, SubaccountID: e.SubaccountID,
		Reference: e.Reference, CreatedAt: timestamp(e.CreatedAt),
	}
}

// handleCreateTransfer serves POST /v1/credit-transfers and /v1/balance-transfers.
func handleCreateTransfer(svc *ledger.Service, kind subaccounts.EntryKind) gin.HandlerFunc {
	return func(c *gin.Context) {
		var body transferBody
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
		writeJSON(c, http.StatusCreated, toTransferView(e))
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
		writeJSON(c, http.StatusOK, toList(items, next, toTransferView))
	}
}

type topUpBody struct {
	Amount    *int64  `json:"amount"`
	Reference *string `json:"reference"`
}

type topUpView struct {
	ID        uuid.UUID `json:"id"`
	AccountID uuid.UUID `json:"accountId"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reference string    `json:"reference"`
	Balance   int64     `json:"balance"`
	CreatedAt timestamp `json:"createdAt"`
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
		writeJSON(c, http.StatusCreated, topUpView{
			ID: r.Entry.ID, AccountID: id, Amount: r.Entry.Amount, Currency: r.Account.Contract.Currency,
			Reference: r.Entry.Reference, Balance: r.Account.Balance, CreatedAt: timestamp(r.Entry.CreatedAt),
		})
	}
}

type currencyVolumeView struct {
	Currency string `json:"currency"`
	Count    int64  `json:"count"`
	Volume   int64  `json:"volume"`
}

type usageTransactionsView struct {
	Count      int64                `json:"count"`
	ByCurrency []currencyVolumeView `json:"byCurrency"`
}

type usageChargesView struct {
	CardEnrolments int64 `json:"cardEnrolments"`
	Transactions   int64 `json:"transactions"`
}

type usageView struct {
	SubaccountID  uuid.UUID             `json:"subaccountId"`
	Name          string                `json:"name"`
	From          timestamp             `json:"from"`
	To            timestamp             `json:"to"`
	Currency      string                `json:"currency"`
	Enrolments    int64                 `json:"enrolments"`
	ActiveCards   int64                 `json:"activeCards"`
	Transactions  usageTransactionsView `json:"transactions"`
	Charges       usageChargesView      `json:"charges"`
	TotalUsage    int64                 `json:"totalUsage"`
	PaidByPrimary bool                  `json:"paidByPrimary"`
}

func toUsageView(u ledger.Usage) usageView {
	v := usageView{
		SubaccountID: u.SubaccountID, Name: u.Name, From: timestamp(u.From), To: timestamp(u.To), Currency: u.Currency,
		Enrolments: u.Enrolments, ActiveCards: u.ActiveCards,
		Transactions: usageTransactionsView{Count: u.TransactionCount(), ByCurrency: make([]currencyVolumeView, len(u.Transactions))},
		Charges:      usageChargesView{CardEnrolments: u.CardEnrolmentCharges, Transactions: u.TransactionCharges},
		TotalUsage:   u.TotalUsage, PaidByPrimary: u.PaidByPrimary,
	}
	for i, t := range u.Transactions {
		v.Transactions.ByCurrency[i] = currencyVolumeView{Currency: t.Currency, Count: t.Count, Volume: t.Volume}
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
