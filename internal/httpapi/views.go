package httpapi

import (
	"encoding/base64"
	"errors"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

func toConfigurationBodies(cs []policy.Configuration) []api.Configuration {
	out := make([]api.Configuration, len(cs))
	for i, c := range cs {
		out[i] = api.Configuration{Countries: c.Countries, Networks: c.Networks}
	}
	return out
}

// toPolicyConfigurations keeps nil as nil, so the domain can tell an absent list from an
// empty one.
func toPolicyConfigurations(cs []api.Configuration) []policy.Configuration {
	if cs == nil {
		return nil
	}
	out := make([]policy.Configuration, len(cs))
	for i, c := range cs {
		out[i] = policy.Configuration{Countries: c.Countries, Networks: c.Networks}
	}
	return out
}

func toPairView(p policy.Pair) api.Pair {
	return api.Pair{Country: p.Country, Network: p.Network.String()}
}

func toAccountView(a subaccounts.Account) api.Account {
	return api.Account{
		ID:   a.ID.String(),
		Name: a.Name,
		Contract: api.Contract{
			Configurations: toConfigurationBodies(a.Contract.Configurations),
			MaxSubaccounts: a.Contract.MaxSubaccounts,
			Version:        a.Contract.Version,
			Currency:       a.Contract.Currency,
			Pricing:        api.Pricing{CardEnrolment: a.Contract.Pricing.CardEnrolment, Transaction: a.Contract.Pricing.Transaction},
		},
		Balance:         a.Balance,
		CreditLimit:     a.CreditLimit,
		AllocatedCredit: a.AllocatedCredit,
		AvailableCredit: a.AvailableCredit(),
		OverLimit:       a.OverLimit,
		CreatedAt:       api.Time(a.CreatedAt),
		UpdatedAt:       api.Time(a.UpdatedAt),
	}
}

func toSubaccountView(s subaccounts.Subaccount) api.Subaccount {
	v := api.Subaccount{
		ID:                       s.ID.String(),
		AccountID:                s.AccountID.String(),
		Name:                     s.Name,
		Configurations:           toConfigurationBodies(s.Configurations),
		ConfigVersion:            s.ConfigVersion,
		Metadata:                 s.Metadata,
		Suspended:                s.Suspended,
		UsePrimaryAccountBalance: s.UsePrimaryBalance,
		OverLimit:                s.OverLimit,
		MaxCards:                 s.MaxCards,
		CreatedAt:                api.Time(s.CreatedAt),
		UpdatedAt:                api.Time(s.UpdatedAt),
	}
	if !s.UsePrimaryBalance {
		balance, credit := s.Balance, s.CreditLimit
		v.Balance, v.CreditLimit = &balance, &credit
		v.AutoTopUp = &api.AutoTopUp{Threshold: s.AutoTopUp.Threshold, Amount: s.AutoTopUp.Amount}
	}
	return v
}

func toClientView(c subaccounts.Client) api.Client {
	v := api.Client{ClientID: c.ID, Name: c.Name, Scopes: c.Scopes, SubaccountID: idPtr(c.SubaccountID), CreatedAt: api.Time(c.CreatedAt), RateLimit: rateLimitDefault}
	if c.RateLimit != nil {
		v.RateLimit = *c.RateLimit
	}
	if c.AccountID != nil {
		v.AccountID = (*c.AccountID).String()
	}
	return v
}

func toAffectedView(a subaccounts.AffectedSubaccount) api.AffectedSubaccount {
	v := api.AffectedSubaccount{
		ID: a.ID.String(), Name: a.Name, Configurations: toConfigurationBodies(a.After), OutsideContract: []api.Pair{},
		CardsPutOutOfPolicy: a.CardsPutOutOfPolicy, CardsByPair: toPairCountViews(a.CardsByPair),
	}
	for _, p := range a.Outside {
		v.OutsideContract = append(v.OutsideContract, toPairView(p))
	}
	return v
}

func toContractChangeView(ch tenancy.ContractChange) api.ContractChange {
	v := api.ContractChange{Account: toAccountView(ch.Account), DryRun: ch.DryRun, Mode: "reject", AffectedSubaccounts: []api.AffectedSubaccount{}}
	if ch.Cascade {
		v.Mode = "cascade"
	}
	for _, a := range ch.Affected {
		v.AffectedSubaccounts = append(v.AffectedSubaccounts, toAffectedView(a))
	}
	return v
}

func toList[T, V any](items []T, next *uuid.UUID, conv func(T) V) api.List[V] {
	out := api.List[V]{Items: make([]V, len(items))}
	for i, it := range items {
		out.Items[i] = conv(it)
	}
	if next != nil {
		s := encodeCursor(*next)
		out.NextCursor = &s
	}
	return out
}

// Cursors are opaque to clients: the base64url form of the last id of the page.
func encodeCursor(id uuid.UUID) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

func decodeCursor(s string) (uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 16 {
		return uuid.Nil, errors.New("invalid cursor")
	}
	return uuid.UUID(b), nil
}

// idPtr is id in its wire form, or nil.
func idPtr(id *uuid.UUID) *string {
	if id == nil {
		return nil
	}
	s := id.String()
	return &s
}

// idStrings are ids in their wire form.
func idStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}
