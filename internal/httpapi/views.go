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

func toClientView(c subaccounts.Client) api.Client {
	v := api.Client{ClientID: c.ID, Name: c.Name, Scopes: c.Scopes, SubaccountID: api.IDPtr(c.SubaccountID), CreatedAt: api.Time(c.CreatedAt), RateLimit: rateLimitDefault}
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
		ID: a.ID.String(), Name: a.Name, Configurations: api.FromConfigurations(a.After), OutsideContract: []api.Pair{},
		CardsPutOutOfPolicy: a.CardsPutOutOfPolicy, CardsByPair: api.FromPairCounts(a.CardsByPair),
	}
	for _, p := range a.Outside {
		v.OutsideContract = append(v.OutsideContract, api.FromPair(p))
	}
	return v
}

func toContractChangeView(ch tenancy.ContractChange) api.ContractChange {
	v := api.ContractChange{Account: api.FromAccount(ch.Account), DryRun: ch.DryRun, Mode: "reject", AffectedSubaccounts: []api.AffectedSubaccount{}}
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
