package httpapi

import (
	"net/url"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// toCardView is the only way a card leaves the service: the fingerprint stays behind.
func toCardView(c subaccounts.Card) api.Card {
	md := c.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return api.Card{
		ID: c.ID.String(), AccountID: c.AccountID.String(), SubaccountID: c.SubaccountID.String(),
		Network: c.Network.String(), CountryCode: c.CountryCode,
		FirstNumbers: c.FirstNumbers, LastNumbers: c.LastNumbers,
		ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Status: string(c.Status), PolicyStatus: string(c.PolicyStatus), Metadata: md,
		CreatedAt: api.Time(c.CreatedAt), UpdatedAt: api.Time(c.UpdatedAt),
	}
}

func toPairCountViews(pcs []subaccounts.PairCount) []api.PairCount {
	out := make([]api.PairCount, len(pcs))
	for i, pc := range pcs {
		out[i] = api.PairCount{Country: pc.Pair.Country, Network: pc.Pair.Network.String(), Cards: pc.Cards}
	}
	return out
}

func toMerchantView(m subaccounts.Merchant) api.Merchant {
	return api.Merchant{Name: m.Name, MCC: m.MCC, CountryCode: m.CountryCode, City: m.City}
}

func toTransactionView(t subaccounts.Transaction) api.Transaction {
	return api.Transaction{
		ID: t.ID.String(), AccountID: t.AccountID.String(), SubaccountID: t.SubaccountID.String(), CardID: t.CardID.String(),
		NetworkTransactionID: t.NetworkTransactionID, Type: string(t.Type),
		Amount: t.Amount, Currency: t.Currency, Datetime: api.Time(t.Datetime),
		Merchant: toMerchantView(t.Merchant), AuthCode: t.AuthCode,
		RoutedAt: api.Time(t.RoutedAt), ConfigVersion: t.ConfigVersion,
		PolicyStatus: string(t.PolicyStatus), SubaccountSuspended: t.SubaccountSuspended, ReceivedAt: api.Time(t.ReceivedAt),
	}
}

func withLifecycle(v api.Transaction, life []subaccounts.Transaction) api.Transaction {
	v.Lifecycle = make([]api.LifecycleEntry, len(life))
	for i, l := range life {
		v.Lifecycle[i] = api.LifecycleEntry{ID: l.ID.String(), Type: string(l.Type), Amount: l.Amount, Currency: l.Currency, Datetime: api.Time(l.Datetime), SubaccountID: l.SubaccountID.String()}
	}
	return v
}

func toUnroutedView(t subaccounts.Transaction) api.Unrouted {
	return api.Unrouted{
		ID: t.ID.String(), AccountID: t.AccountID.String(), NetworkTransactionID: t.NetworkTransactionID, Type: string(t.Type),
		Amount: t.Amount, Currency: t.Currency, Datetime: api.Time(t.Datetime),
		Merchant: toMerchantView(t.Merchant), AuthCode: t.AuthCode, CardID: idPtr(t.RequestedCardID),
		Reason: t.UnroutedReason, ReceivedAt: api.Time(t.ReceivedAt), Status: "unrouted",
	}
}

func toComplianceView(r compliance.ComplianceReport) api.ComplianceReport {
	var v api.ComplianceReport
	compliant := r.Compliant()
	v.AccountID, v.Compliant, v.CheckedAt = r.AccountID.String(), &compliant, api.Time(r.CheckedAt)
	v.Window.From, v.Window.To = api.Time(r.From), api.Time(r.To)
	v.Summary.Subaccounts = r.Subaccounts
	v.Summary.ActiveCards = r.ActiveCards
	v.Summary.SubaccountsOutsideContract = len(r.SubaccountsOutside)
	v.Summary.CardsOutsideConfiguration = r.CardsOutsideCount()
	v.Summary.TransactionsOutOfPolicy = r.TransactionsOutOfPolicyCount()
	v.Violations.SubaccountsOutsideContract = make([]api.SubaccountOutside, len(r.SubaccountsOutside))
	for i, s := range r.SubaccountsOutside {
		sv := api.SubaccountOutside{SubaccountID: s.ID.String(), Name: s.Name, OutsideContract: make([]api.Pair, len(s.Outside))}
		for j, p := range s.Outside {
			sv.OutsideContract[j] = toPairView(p)
		}
		v.Violations.SubaccountsOutsideContract[i] = sv
	}
	v.Violations.CardsOutsideConfiguration = make([]api.CardViolation, len(r.CardsOutside))
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
		v.Violations.CardsOutsideConfiguration[i] = api.CardViolation{
			SubaccountID: c.SubaccountID.String(), Country: c.Pair.Country, Network: c.Pair.Network.String(),
			Cards: c.Cards, CardIDs: idStrings(ids), List: "/v1/cards?" + q.Encode(),
		}
	}
	v.Violations.TransactionsOutOfPolicy = make([]api.TransactionViolation, len(r.TransactionsOutOfPolicy))
	for i, t := range r.TransactionsOutOfPolicy {
		v.Violations.TransactionsOutOfPolicy[i] = api.TransactionViolation{
			SubaccountID: t.SubaccountID.String(), Country: t.Pair.Country, Network: t.Pair.Network.String(), Transactions: t.Transactions,
		}
	}
	return v
}
