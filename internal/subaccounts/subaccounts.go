// Package subaccounts is the domain's vocabulary: the types every subdomain speaks in
// (accounts and contracts, subaccounts, clients and keys, cards and transactions, ledger
// entries, audit events), the error codes and sentinel errors, Principal and its scopes,
// paging, the Recorder seam changes write their side records through, and the small
// validation helpers every service applies alike. It holds no service and no store.
//
// The subdomains (tenancy, cards, routing, ledger, audit, compliance, idempotency) import
// it; it imports only policy and pan, never a subdomain, the store, httpapi or cmd.
package subaccounts

import (
	"maps"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/policy"
)

// Contract is what an account is entitled to: the (country, network) pairs its
// subaccounts may permit and how many subaccounts it may have.
type Contract struct {
	// Configurations are kept in policy's canonical form.
	Configurations []policy.Configuration
	MaxSubaccounts int
	Version        int64
	// Currency is the ISO 4217 code every balance, limit and price of the account is in.
	Currency string
	Pricing  Pricing
}

// Pricing is what each billable event costs, in minor units of the contract's currency.
type Pricing struct {
	CardEnrolment int64
	Transaction   int64
}

// Account is a platform customer, the tenant.
type Account struct {
	ID       uuid.UUID
	Name     string
	Contract Contract
	// Balance is the primary balance; it may fall to -(CreditLimit - AllocatedCredit).
	Balance     int64
	CreditLimit int64
	// AllocatedCredit is the sum of the subaccounts' credit limits, handed out of
	// CreditLimit by credit transfers.
	AllocatedCredit int64
	// OverLimit is set when network fees took the primary balance below its floor; it
	// blocks enrolments charged to it until a top-up or transfer brings it back.
	OverLimit bool
	// Version grows with every change a PATCH or a contract PUT makes (not with balance
	// movements); it is the account's ETag.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AvailableCredit is the credit the primary has not handed to its subaccounts.
func (a Account) AvailableCredit() int64 { return a.CreditLimit - a.AllocatedCredit }

// Floor is the lowest balance a customer-initiated operation may leave the primary at.
func (a Account) Floor() int64 { return -a.AvailableCredit() }

// Subaccount is one business client's bucket inside an account.
type Subaccount struct {
	ID             uuid.UUID
	AccountID      uuid.UUID
	Name           string
	Configurations []policy.Configuration
	// ConfigVersion grows with every change of Configurations, so what was in force
	// when something was decided can be named later.
	ConfigVersion int64
	Metadata      map[string]string
	Suspended     bool
	// UsePrimaryBalance charges the subaccount's usage to the primary balance; then
	// Balance and CreditLimit are zero and not shown.
	UsePrimaryBalance bool
	Balance           int64
	CreditLimit       int64
	OverLimit         bool
	AutoTopUp         AutoTopUp
	// MaxCards caps the active cards; 0 means no quota.
	MaxCards int
	// Version grows with every change a PATCH makes (not with balance movements, which
	// would make every If-Match on a busy subaccount stale); it is the ETag.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AutoTopUp moves Amount from the primary into a subaccount with its own balance whenever
// a charge leaves that balance below Threshold. Amount 0 disables it.
type AutoTopUp struct {
	Threshold int64
	Amount    int64
}

// Client is an OAuth2 client of the built-in issuer.
type Client struct {
	ID string
	// AccountID is nil for operator clients.
	AccountID    *uuid.UUID
	SubaccountID *uuid.UUID
	Name         string
	Scopes       []string
	SecretHash   string
	CreatedAt    time.Time
	// RateLimit is the client's own limit in requests per second (0: unlimited); nil
	// means the service's default (CLIENT_RATE_LIMIT).
	RateLimit *int
}

// SigningKey is a persisted private key of the built-in issuer. PrivateKey is sealed
// under the master key (package keys); only databases of earlier releases hold plain
// PEM, which the issuer seals in place at start.
type SigningKey struct {
	KID        string
	Algorithm  string
	PrivateKey string
	CreatedAt  time.Time
	// ActivatesAt is when the key starts signing; until then it is only published. Zero
	// (keys of earlier releases) means CreatedAt.
	ActivatesAt time.Time
}

// Page asks for one page of a list.
type Page struct {
	Limit int
	// After is the id of the last item of the previous page; uuid.Nil for the first page.
	After uuid.UUID
}

// Window is a time range of a query: From inclusive, To exclusive; a zero end is open
// (or, where a query says so, defaulted).
type Window struct {
	From, To time.Time
}

// SubaccountFilter narrows a subaccount list.
type SubaccountFilter struct {
	NamePrefix string
	Country    string
	Network    string
	// Only, when set, restricts the list to one subaccount (a confined client).
	Only *uuid.UUID
}

// Now returns the current time at the millisecond precision the API exposes, so a value
// read back from either database equals the one written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// AffectedSubaccount is a subaccount that a contract change puts outside the contract.
type AffectedSubaccount struct {
	ID   uuid.UUID
	Name string
	// Outside are the pairs the subaccount permits that the new contract does not.
	Outside []policy.Pair
	// After is the subaccount's configuration once narrowed to the new contract.
	After []policy.Configuration
	// CardsPutOutOfPolicy counts the active cards the narrowing puts out of policy, and
	// CardsByPair breaks them down by pair.
	CardsPutOutOfPolicy int64
	CardsByPair         []PairCount
}

// Cut trims a list fetched with one extra item to limit and returns the id to continue
// after when there was more.
func Cut[T any](items []T, limit int, id func(T) uuid.UUID) ([]T, *uuid.UUID) {
	if len(items) <= limit {
		return items, nil
	}
	items = items[:limit]
	next := id(items[limit-1])
	return items, &next
}

// OrEmpty returns a copy of m, never nil.
func OrEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return maps.Clone(m)
}
