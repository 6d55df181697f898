package httpapi

import (
	"net/url"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type cardView struct {
	ID           uuid.UUID         `json:"id"`
	AccountID    uuid.UUID         `json:"accountId"`
	SubaccountID uuid.UUID         `json:"subaccountId"`
	Network      string            `json:"network"`
	CountryCode  string            `json:"countryCode"`
	FirstNumbers string            `json:"firstNumbers"`
	LastNumbers  string            `json:"lastNumbers"`
	ExpMonth     int               `json:"expMonth"`
	ExpYear      int               `json:"expYear"`
	Status       string            `json:"status"`
	PolicyStatus string            `json:"policyStatus"`
	Metadata     map[string]string `json:"metadata"`
	CreatedAt    timestamp         `json:"createdAt"`
	UpdatedAt    timestamp         `json:"updatedAt"`
}

// toCardView is the only way a card leaves the service: the fingerprint stays behind.
func toCardView(c subaccounts.Card) cardView {
	md := c.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return cardView{
		ID: c.ID, AccountID: c.AccountID, SubaccountID: c.SubaccountID,
		Network: c.Network.String(), CountryCode: c.CountryCode,
		FirstNumbers: c.FirstNumbers, LastNumbers: c.LastNumbers,
		ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Status: string(c.Status), PolicyStatus: string(c.PolicyStatus), Metadata: md,
		CreatedAt: timestamp(c.CreatedAt), UpdatedAt: timestamp(c.UpdatedAt),
	}
}

type pairCountView struct {
	Country string `json:"country"`
	Network string `json:"network"`
	Cards   int64  `json:"cards"`
}

func toPairCountViews(pcs []subaccounts.PairCount) []pairCountView {
	out := make([]pairCountView, len(pcs))
	for i, pc := range pcs {
		out[i] = pairCountView{Country: pc.Pair.Country, Network: pc.Pair.Network.String(), Cards: pc.Cards}
	}
	return out
}

type subaccountDryRunView struct {
	DryRun              bool            `json:"dryRun"`
	Subaccount          subaccountView  `json:"subaccount"`
	CardsPutOutOfPolicy int64           `json:"cardsPutOutOfPolicy"`
	CardsByPair         []pairCountView `json:"cardsByPair"`
}

type merchantView struct {
	Name        string `json:"name"`
	MCC         string `json:"mcc"`
	CountryCode string `json:"countryCode"`
	City        string `json:"city,omitempty"`
}

type lifecycleView struct {
	ID           uuid.UUID `json:"id"`
	Type         string    `json:"type"`
	Amount       int64     `json:"amount"`
	Currency     string    `json:"currency"`
	Datetime     timestamp `json:"datetime"`
	SubaccountID uuid.UUID `json:"subaccountId"`
}

type transactionView struct {
	ID                   uuid.UUID       `json:"id"`
	AccountID            uuid.UUID       `json:"accountId"`
	SubaccountID         uuid.UUID       `json:"subaccountId"`
	CardID               uuid.UUID       `json:"cardId"`
	NetworkTransactionID string          `json:"networkTransactionId"`
	Type                 string          `json:"type"`
	Amount               int64           `json:"amount"`
	Currency             string          `json:"currency"`
	Datetime             timestamp       `json:"datetime"`
	Merchant             merchantView    `json:"merchant"`
	AuthCode             string          `json:"authCode,omitempty"`
	RoutedAt             timestamp       `json:"routedAt"`
	ConfigVersion        int64           `json:"configVersion"`
	PolicyStatus         string          `json:"policyStatus"`
	SubaccountSuspended  bool            `json:"subaccountSuspended"`
	ReceivedAt           timestamp       `json:"receivedAt"`
	Lifecycle            []lifecycleView `json:"lifecycle,omitempty"`
}

func toMerchantView(m subaccounts.Merchant) merchantView {
	return merchantView{Name: m.Name, MCC: m.MCC, CountryCode: m.CountryCode, City: m.City}
}

func toTransactionView(t subaccounts.Transaction) transactionView {
	return transactionView{
		ID: t.ID, AccountID: t.AccountID, SubaccountID: t.SubaccountID, CardID: t.CardID,
		NetworkTransactionID: t.NetworkTransactionID, Type: string(t.Type),
		Amount: t.Amount, Currency: t.Currency, Datetime: timestamp(t.Datetime),
		Merchant: toMerchantView(t.Merchant), AuthCode: t.AuthCode,
		RoutedAt: timestamp(t.RoutedAt), ConfigVersion: t.ConfigVersion,
		PolicyStatus: string(t.PolicyStatus), SubaccountSuspended: t.SubaccountSuspended, ReceivedAt: timestamp(t.ReceivedAt),
	}
}

func withLifecycle(v transactionView, life []subaccounts.Transaction) transactionView {
	v.Lifecycle = make([]lifecycleView, len(life))
	for i, l := range life {
		v.Lifecycle[i] = lifecycleView{ID: l.ID, Type: string(l.Type), Amount: l.Amount, Currency: l.Currency, Datetime: timestamp(l.Datetime), SubaccountID: l.SubaccountID}
	}
	return v
}

type unroutedView struct {
	ID                   uuid.UUID    `json:"id"`
	AccountID            uuid.UUID    `json:"accountId"`
	NetworkTransactionID string       `json:"networkTransactionId"`
	Type                 string       `json:"type"`
	Amount               int64        `json:"amount"`
	Currency             string       `json:"currency"`
	Datetime             timestamp    `json:"datetime"`
	Merchant             merchantView `json:"merchant"`
	AuthCode             string       `json:"authCode,omitempty"`
	CardID               *uuid.UUID   `json:"cardId,omitempty"`
	Reason               string       `json:"reason"`
	ReceivedAt           timestamp    `json:"receivedAt"`
	Status               string       `json:"status"`
}

func toUnroutedView(t subaccounts.Transaction) unroutedView {
	return unroutedView{
		ID: t.ID, AccountID: t.AccountID, NetworkTransactionID: t.NetworkTransactionID, Type: string(t.Type),
		Amount: t.Amount, Currency: t.Currency, Datetime: timestamp(t.Datetime),
		Merchant: toMerchantView(t.Merchant), AuthCode: t.AuthCode, CardID: t.RequestedCardID,
		Reason: t.UnroutedReason, ReceivedAt: timestamp(t.ReceivedAt), Status: "unrouted",
	}
}

type subaccountOutsideView struct {
	SubaccountID    uuid.UUID  `json:"subaccountId"`
	Name            string     `json:"name"`
	OutsideContract []pairView `json:"outsideContract"`
}

type cardViolationView struct {
	SubaccountID uuid.UUID   `json:"subaccountId"`
	Country      string      `json:"country"`
	Network      string      `json:"network"`
	Cards        int64       `json:"cards"`
	CardIDs      []uuid.UUID `json:"cardIds"`
	List         string      `json:"list"`
}

type transactionViolationView struct {
	SubaccountID uuid.UUID `json:"subaccountId"`
	Country      string    `json:"country"`
	Network      string    `json:"network"`
	Transactions int64     `json:"transactions"`
}

type complianceView struct {
	AccountID uuid.UUID `json:"accountId"`
	Compliant bool      `json:"compliant"`
	CheckedAt timestamp `json:"checkedAt"`
	Window    struct {
		From timestamp `json:"from"`
		To   timestamp `json:"to"`
	} `json:"window"`
	Summary struct {
		Subaccounts                int   `json:"subaccounts"`
		ActiveCards                int64 `json:"activeCards"`
		SubaccountsOutsideContract int   `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration  int64 `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy    int64 `json:"transactionsOutOfPolicy"`
	} `json:"summary"`
	Violations struct {
		SubaccountsOutsideContract []subaccountOutsideView    `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration  []cardViolationView        `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy    []transactionViolationView `json:"transactionsOutOfPolicy"`
	} `json:"violations"`
}

func toComplianceView(r compliance.ComplianceReport) complianceView {
	var v complianceView
	v.AccountID, v.Compliant, v.CheckedAt = r.AccountID, r.Compliant(), timestamp(r.CheckedAt)
	v.Window.From, v.Window.To = timestamp(r.From), timestamp(r.To)
	v.Summary.Subaccounts = r.Subaccounts
	v.Summary.ActiveCards = r.ActiveCards
	v.Summary.SubaccountsOutsideContract = len(r.SubaccountsOutside)
	v.Summary.CardsOutsideConfiguration = r.CardsOutsideCount()
	v.Summary.TransactionsOutOfPolicy = r.TransactionsOutOfPolicyCount()
	v.Violations.SubaccountsOutsideContract = make([]subaccountOutsideView, len(r.SubaccountsOutside))
	for i, s := range r.SubaccountsOutside {
		sv := subaccountOutsideView{SubaccountID: s.ID, Name: s.Name, OutsideContract: make([]pairView, len(s.Outside))}
		for j, p := range s.Outside {
			sv.OutsideContract[j] = toPairView(p)
		}
		v.Violations.SubaccountsOutsideContract[i] = sv
	}
	v.Violations.CardsOutsideConfiguration = make([]cardViolationView, len(r.CardsOutside))
	for i, c := range r.CardsOutside {
		ids := c.SampleIDs
		if ids == nil {
			ids = []uuid.UUID{}
		}
		q := url.Values{}
		q.Set("subaccountId", c.SubaccountID.String())
		q.Set("countryCode", c.Pair.Country)
		q.Set("network", c.Pair.Network.String())
		q.Set("status", string(subaccounts.CardActive))
		v.Violations.CardsOutsideConfiguration[i] = cardViolationView{
			SubaccountID: c.SubaccountID, Country: c.Pair.Country, Network: c.Pair.Network.String(),
			Cards: c.Cards, CardIDs: ids, List: "/v1/cards?" + q.Encode(),
		}
	}
	v.Violations.TransactionsOutOfPolicy = make([]transactionViolationView, len(r.TransactionsOutOfPolicy))
	for i, t := range r.TransactionsOutOfPolicy {
		v.Violations.TransactionsOutOfPolicy[i] = transactionViolationView{
			SubaccountID: t.SubaccountID, Country: t.Pair.Country, Network: t.Pair.Network.String(), Transactions: t.Transactions,
		}
	}
	return v
}
