package httpapi

import (
	"net/url"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func withLifecycle(v api.Transaction, life []subaccounts.Transaction) api.Transaction {
	v.Lifecycle = make([]api.LifecycleEntry, len(life))
	for i, l := range life {
		v.Lifecycle[i] = api.LifecycleEntry{ID: l.ID.String(), Type: string(l.Type), Amount: l.Amount, Currency: l.Currency, Datetime: api.Time(l.Datetime), SubaccountID: l.SubaccountID.String()}
	}
	return v
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
			sv.OutsideContract[j] = api.FromPair(p)
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
			Cards: c.Cards, CardIDs: api.IDStrings(ids), List: "/v1/cards?" + q.Encode(),
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
