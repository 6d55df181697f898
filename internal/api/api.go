// Package api holds the JSON request and response bodies of the HTTP API, as openapi.yaml
// describes them: the responses the server writes (httpapi converts domain values into
// them) and the CLI reads, the request bodies the CLI sends and the server decodes, and
// the problem document. It is the one definition of each for server and CLI; the tests
// keep their own copies where they check them against the spec. Ids and times are
// strings, as on the wire, so a client reads exactly what the server wrote. It holds no
// behaviour beyond formatting (a PAN never prints) and the From conversions of the
// domain's values into their resources, which the responses and the events share.
//
// Request bodies the CLI does not send (accounts, clients, top-ups, transaction messages,
// webhook endpoints) are still declared beside their handlers in httpapi.
package api

import (
	"time"
)

// Time is t in the API's one time form: ISO 8601 UTC with milliseconds, e.g.
// 2024-05-01T17:08:43.810Z.
func Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// TimePtr is Time of *t, or nil.
func TimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := Time(*t)
	return &s
}

// Configuration permits every listed country on every listed network.
type Configuration struct {
	Countries []string `json:"countries"`
	Networks  []string `json:"networks"`
}

// Pair is one (country, network) pair.
type Pair struct {
	Country string `json:"country"`
	Network string `json:"network"`
}

// String is the pair as people read it, "GBR on VISA".
func (p Pair) String() string { return p.Country + " on " + p.Network }

// Pricing is what an account pays per card enrolled and per transaction routed, in minor
// units.
type Pricing struct {
	CardEnrolment int64 `json:"cardEnrolment"`
	Transaction   int64 `json:"transaction"`
}

// Contract is an account's contract: what its subaccounts may permit, and its pricing.
type Contract struct {
	Configurations []Configuration `json:"configurations"`
	MaxSubaccounts int             `json:"maxSubaccounts"`
	Version        int64           `json:"version"`
	Currency       string          `json:"currency"`
	Pricing        Pricing         `json:"pricing"`
}

// Account is the Account resource, the primary and its contract.
type Account struct {
	ID              string   `json:"id"`
	Name            string   `json:"name"`
	Contract        Contract `json:"contract"`
	Balance         int64    `json:"balance"`
	CreditLimit     int64    `json:"creditLimit"`
	AllocatedCredit int64    `json:"allocatedCredit"`
	AvailableCredit int64    `json:"availableCredit"`
	OverLimit       bool     `json:"overLimit"`
	CreatedAt       string   `json:"createdAt"`
	UpdatedAt       string   `json:"updatedAt"`
}

// AutoTopUp is a subaccount's auto top-up as the server answers it; a request sends
// AutoTopUpRequest.
type AutoTopUp struct {
	Threshold int64 `json:"threshold"`
	Amount    int64 `json:"amount"`
}

// Subaccount is the Subaccount resource.
type Subaccount struct {
	ID             string            `json:"id"`
	AccountID      string            `json:"accountId"`
	Name           string            `json:"name"`
	Configurations []Configuration   `json:"configurations"`
	ConfigVersion  int64             `json:"configVersion"`
	Metadata       map[string]string `json:"metadata"`
	Suspended      bool              `json:"suspended"`
	// Balance, CreditLimit and AutoTopUp are null while the subaccount uses the primary
	// balance.
	UsePrimaryAccountBalance bool       `json:"usePrimaryAccountBalance"`
	Balance                  *int64     `json:"balance"`
	CreditLimit              *int64     `json:"creditLimit"`
	OverLimit                bool       `json:"overLimit"`
	AutoTopUp                *AutoTopUp `json:"autoTopUp"`
	MaxCards                 int        `json:"maxCards"`
	CreatedAt                string     `json:"createdAt"`
	UpdatedAt                string     `json:"updatedAt"`
}

// Client is an API client of an account; its secret is never part of it.
type Client struct {
	ClientID     string   `json:"clientId"`
	AccountID    string   `json:"accountId"`
	Name         string   `json:"name"`
	Scopes       []string `json:"scopes"`
	SubaccountID *string  `json:"subaccountId"`
	CreatedAt    string   `json:"createdAt"`
	// RateLimit is the client's own limit (requests per second, 0 for unlimited) or
	// "default".
	RateLimit any `json:"rateLimit"`
}

// CreatedClient is a client as its creation answers it: with the secret, shown only then.
type CreatedClient struct {
	Client
	ClientSecret string `json:"clientSecret"`
}

// AffectedSubaccount is a subaccount a contract change would put (partly) outside the
// contract.
type AffectedSubaccount struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	OutsideContract     []Pair          `json:"outsideContract"`
	Configurations      []Configuration `json:"configurations"`
	CardsPutOutOfPolicy int64           `json:"cardsPutOutOfPolicy"`
	CardsByPair         []PairCount     `json:"cardsByPair"`
}

// ContractChange answers a contract change (or its dry run) with the subaccounts it
// affects.
type ContractChange struct {
	Account             Account              `json:"account"`
	DryRun              bool                 `json:"dryRun"`
	Mode                string               `json:"mode"`
	AffectedSubaccounts []AffectedSubaccount `json:"affectedSubaccounts"`
}

// Entitlement says whether a subaccount permits one (country, network) pair, and why.
type Entitlement struct {
	SubaccountID  string  `json:"subaccountId"`
	Country       string  `json:"country"`
	Network       string  `json:"network"`
	Permitted     bool    `json:"permitted"`
	Reason        string  `json:"reason"`
	DeniedBy      *string `json:"deniedBy"`
	Configuration *int    `json:"configuration"`
}

// CreateSubaccountRequest is the body of POST /v1/subaccounts.
//
// The request bodies hold a pointer for each member the server must tell absent from
// zero, so that it can decode them strictly (see httpapi's decode), and omit what a
// client leaves unset, so that a client sends only what it means to.
type CreateSubaccountRequest struct {
	Name                     *string           `json:"name,omitempty"`
	Configurations           []Configuration   `json:"configurations,omitempty"`
	Metadata                 map[string]string `json:"metadata,omitempty"`
	UsePrimaryAccountBalance *bool             `json:"usePrimaryAccountBalance,omitempty"`
	AutoTopUp                *AutoTopUpRequest `json:"autoTopUp,omitempty"`
	MaxCards                 *int              `json:"maxCards,omitempty"`
}

// PatchSubaccountRequest is the body of PATCH /v1/subaccounts/{id}: absent members are
// left as they are.
type PatchSubaccountRequest struct {
	Name           *string            `json:"name,omitempty"`
	Configurations *[]Configuration   `json:"configurations,omitempty"`
	Metadata       *map[string]string `json:"metadata,omitempty"`
	Suspended      *bool              `json:"suspended,omitempty"`
	// Cost controls, which only an unconfined client may change.
	UsePrimaryAccountBalance *bool             `json:"usePrimaryAccountBalance,omitempty"`
	AutoTopUp                *AutoTopUpRequest `json:"autoTopUp,omitempty"`
	MaxCards                 *int              `json:"maxCards,omitempty"`
}

// AutoTopUpRequest is AutoTopUp as a request carries it. It is a type of its own because
// both members are required and 0 is a meaningful amount (off): the server must see a
// missing member as missing, not as 0.
type AutoTopUpRequest struct {
	Threshold *int64 `json:"threshold"`
	Amount    *int64 `json:"amount"`
}

// List is one page of a collection; NextCursor is null on the last page.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}
