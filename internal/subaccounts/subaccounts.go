// Package subaccounts is the domain of the service: accounts with their contracts,
// subaccounts with their configurations, the operator's OAuth2 clients, the errors the
// service speaks in, the storage interface, and the logic that keeps every subaccount
// inside its account's contract.
//
// It depends on the policy engine and on nothing that talks to a database or the network.
package subaccounts

import (
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
}

// Account is a platform customer, the tenant.
type Account struct {
	ID        uuid.UUID
	Name      string
	Contract  Contract
	CreatedAt time.Time
	UpdatedAt time.Time
}

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
	CreatedAt     time.Time
	UpdatedAt     time.Time
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
}

// SigningKey is a persisted private key of the built-in issuer.
type SigningKey struct {
	KID        string
	Algorithm  string
	PrivatePEM string
	CreatedAt  time.Time
}

// Page asks for one page of a list.
type Page struct {
	Limit int
	// After is the id of the last item of the previous page; uuid.Nil for the first page.
	After uuid.UUID
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
