package httpapi

import (
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/policy"
)

// timestamp renders as ISO 8601 UTC with milliseconds, e.g. 2024-05-01T17:08:43.810Z.
type timestamp time.Time

func (t timestamp) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}

type configurationBody struct {
	Countries []string `json:"countries"`
	Networks  []string `json:"networks"`
}

type pairView struct {
	Country string `json:"country"`
	Network string `json:"network"`
}

type pricingView struct {
	CardEnrolment int64 `json:"cardEnrolment"`
	Transaction   int64 `json:"transaction"`
}

type contractView struct {
	Configurations []configurationBody `json:"configurations"`
	MaxSubaccounts int                 `json:"maxSubaccounts"`
	Version        int64               `json:"version"`
	Currency       string              `json:"currency"`
	Pricing        pricingView         `json:"pricing"`
}

type accountView struct {
	ID              uuid.UUID    `json:"id"`
	Name            string       `json:"name"`
	Contract        contractView `json:"contract"`
	Balance         int64        `json:"balance"`
	CreditLimit     int64        `json:"creditLimit"`
	AllocatedCredit int64        `json:"allocatedCredit"`
	AvailableCredit int64        `json:"availableCredit"`
	OverLimit       bool         `json:"overLimit"`
	CreatedAt       timestamp    `json:"createdAt"`
	UpdatedAt       timestamp    `json:"updatedAt"`
}

type autoTopUpBody struct {
	Threshold *int64 `json:"threshold"`
	Amount    *int64 `json:"amount"`
}

type autoTopUpView struct {
	Threshold int64 `json:"threshold"`
	Amount    int64 `json:"amount"`
}

type subaccountView struct {
	ID             uuid.UUID           `json:"id"`
	AccountID      uuid.UUID           `json:"accountId"`
	Name           string              `json:"name"`
	Configurations []configurationBody `json:"configurations"`
	ConfigVersion  int64               `json:"configVersion"`
	Metadata       map[string]string   `json:"metadata"`
	Suspended      bool                `json:"suspended"`
	// Balance, CreditLimit and AutoTopUp are null while the subaccount uses the primary
	// balance.
	UsePrimaryAccountBalance bool           `json:"usePrimaryAccountBalance"`
	Balance                  *int64         `json:"balance"`
	CreditLimit              *int64         `json:"creditLimit"`
	OverLimit                bool           `json:"overLimit"`
	AutoTopUp                *autoTopUpView `json:"autoTopUp"`
	MaxCards                 int            `json:"maxCards"`
	CreatedAt                timestamp      `json:"createdAt"`
	UpdatedAt                timestamp      `json:"updatedAt"`
}

type clientView struct {
	ClientID     string     `json:"clientId"`
	AccountID    uuid.UUID  `json:"accountId"`
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	SubaccountID *uuid.UUID `json:"subaccountId"`
	CreatedAt    timestamp  `json:"createdAt"`
	// RateLimit is the client's own limit (requests per second, 0 for unlimited) or
	// "default".
	RateLimit any `json:"rateLimit"`
}

type createdClientView struct {
	clientView
	ClientSecret string `json:"clientSecret"`
}

type affectedView struct {
	ID                  uuid.UUID           `json:"id"`
	Name                string              `json:"name"`
	OutsideContract     []pairView          `json:"outsideContract"`
	Configurations      []configurationBody `json:"configurations"`
	CardsPutOutOfPolicy int64               `json:"cardsPutOutOfPolicy"`
	CardsByPair         []pairCountView     `json:"cardsByPair"`
}

type contractChangeView struct {
	Account             accountView    `json:"account"`
	DryRun              bool           `json:"dryRun"`
	Mode                string         `json:"mode"`
	AffectedSubaccounts []affectedView `json:"affectedSubaccounts"`
}

type entitlementView struct {
	SubaccountID  uuid.UUID `json:"subaccountId"`
	Country       string    `json:"country"`
	Network       string    `json:"network"`
	Permitted     bool      `json:"permitted"`
	Reason        string    `json:"reason"`
	DeniedBy      *string   `json:"deniedBy"`
	Configuration *int      `json:"configuration"`
}

type listView[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func toConfigurationBodies(cs []policy.Configuration) []configurationBody {
	out := make([]configurationBody, len(cs))
	for i, c := range cs {
		out[i] = configurationBody{Countries: c.Countries, Networks: c.Networks}
	}
	return out
}

// toPolicyConfigurations keeps nil as nil, so the domain can tell an absent list from an
// empty one.
func toPolicyConfigurations(cs []configurationBody) []policy.Configuration {
	if cs == nil {
		return nil
	}
	out := make([]policy.Configuration, len(cs))
	for i, c := range cs {
		out[i] = policy.Configuration{Countries: c.Countries, Networks: c.Networks}
	}
	return out
}

func toPairView(p policy.Pair) pairView {
	return pairView{Country: p.Country, Network: p.Network.String()}
}

func toAccountView(a subaccounts.Account) accountView {
	return accountView{
		ID:   a.ID,
		Name: a.Name,
		Contract: contractView{
			Configurations: toConfigurationBodies(a.Contract.Configurations),
			MaxSubaccounts: a.Contract.MaxSubaccounts,
			Version:        a.Contract.Version,
			Currency:       a.Contract.Currency,
			Pricing:        pricingView{CardEnrolment: a.Contract.Pricing.CardEnrolment, Transaction: a.Contract.Pricing.Transaction},
		},
		Balance:         a.Balance,
		CreditLimit:     a.CreditLimit,
		AllocatedCredit: a.AllocatedCredit,
		AvailableCredit: a.AvailableCredit(),
		OverLimit:       a.OverLimit,
		CreatedAt:       timestamp(a.CreatedAt),
		UpdatedAt:       timestamp(a.UpdatedAt),
	}
}

func toSubaccountView(s subaccounts.Subaccount) subaccountView {
	v := subaccountView{
		ID:                       s.ID,
		AccountID:                s.AccountID,
		Name:                     s.Name,
		Configurations:           toConfigurationBodies(s.Configurations),
		ConfigVersion:            s.ConfigVersion,
		Metadata:                 s.Metadata,
		Suspended:                s.Suspended,
		UsePrimaryAccountBalance: s.UsePrimaryBalance,
		OverLimit:                s.OverLimit,
		MaxCards:                 s.MaxCards,
		CreatedAt:                timestamp(s.CreatedAt),
		UpdatedAt:                timestamp(s.UpdatedAt),
	}
	if !s.UsePrimaryBalance {
		balance, credit := s.Balance, s.CreditLimit
		v.Balance, v.CreditLimit = &balance, &credit
		v.AutoTopUp = &autoTopUpView{Threshold: s.AutoTopUp.Threshold, Amount: s.AutoTopUp.Amount}
	}
	return v
}

func toClientView(c subaccounts.Client) clientView {
	v := clientView{ClientID: c.ID, Name: c.Name, Scopes: c.Scopes, SubaccountID: c.SubaccountID, CreatedAt: timestamp(c.CreatedAt), RateLimit: rateLimitDefault}
	if c.RateLimit != nil {
		v.RateLimit = *c.RateLimit
	}
	if c.AccountID != nil {
		v.AccountID = *c.AccountID
	}
	return v
}

func toAffectedView(a subaccounts.AffectedSubaccount) affectedView {
	v := affectedView{
		ID: a.ID, Name: a.Name, Configurations: toConfigurationBodies(a.After), OutsideContract: []pairView{},
		CardsPutOutOfPolicy: a.CardsPutOutOfPolicy, CardsByPair: toPairCountViews(a.CardsByPair),
	}
	for _, p := range a.Outside {
		v.OutsideContract = append(v.OutsideContract, toPairView(p))
	}
	return v
}

func toContractChangeView(ch tenancy.ContractChange) contractChangeView {
	v := contractChangeView{Account: toAccountView(ch.Account), DryRun: ch.DryRun, Mode: "reject", AffectedSubaccounts: []affectedView{}}
	if ch.Cascade {
		v.Mode = "cascade"
	}
	for _, a := range ch.Affected {
		v.AffectedSubaccounts = append(v.AffectedSubaccounts, toAffectedView(a))
	}
	return v
}

func toList[T, V any](items []T, next *uuid.UUID, conv func(T) V) listView[V] {
	out := listView[V]{Items: make([]V, len(items))}
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
