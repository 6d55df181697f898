package subaccounts

import (
	"context"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/policy"
)

// Store persists the domain. Every tenant-scoped method takes the account id explicitly
// and filters on it; implementations translate driver errors into ErrNotFound and
// ErrConflict.
type Store interface {
	// Transact runs fn in one database transaction, retrying it when the database
	// reports a serialization failure or a busy lock. fn must be safe to run again.
	Transact(ctx context.Context, fn func(tx Tx) error) error
	// Ping reports whether the database is reachable and its migrations are applied.
	Ping(ctx context.Context) error
	Tx
}

// Tx is the set of operations available inside (or outside) a transaction.
type Tx interface {
	CreateAccount(ctx context.Context, a Account) error
	// GetAccount returns the account; lock takes a row lock for the rest of the
	// transaction, which serialises all writers of one account.
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (Account, error)
	ListAccounts(ctx context.Context, p Page) ([]Account, error)
	UpdateAccount(ctx context.Context, a Account) error

	CreateSubaccount(ctx context.Context, s Subaccount, pairs []policy.Pair) error
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (Subaccount, error)
	ListSubaccounts(ctx context.Context, accountID uuid.UUID, f SubaccountFilter, p Page) ([]Subaccount, error)
	// AllSubaccounts returns every live subaccount of the account, for contract checks.
	AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]Subaccount, error)
	CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error)
	// UpdateSubaccount writes s; pairs, when non-nil, replaces its entitlement rows.
	UpdateSubaccount(ctx context.Context, s Subaccount, pairs []policy.Pair) error
	DeleteSubaccount(ctx context.Context, accountID, id uuid.UUID) error

	CreateClient(ctx context.Context, c Client) error
	// GetClient returns an active (not revoked) client by id, of any account.
	GetClient(ctx context.Context, clientID string) (Client, error)
	// ListClients returns one page of the active clients of an account in id order (ids
	// are UUIDv7, so that is creation order), after the id in afterID when it is set.
	ListClients(ctx context.Context, accountID uuid.UUID, afterID string, limit int) ([]Client, error)
	RevokeClient(ctx context.Context, accountID uuid.UUID, clientID string) error
	// OperatorClientExists reports whether any active operator client exists.
	OperatorClientExists(ctx context.Context) (bool, error)
	// UpsertOperatorClient creates or replaces an operator client; it fails with
	// ErrConflict when the id belongs to a tenant's client.
	UpsertOperatorClient(ctx context.Context, c Client) error

	// LockSigningKeys serialises key creation across replicas until the transaction ends.
	LockSigningKeys(ctx context.Context) error
	// SigningKeys returns the issuer's keys, newest first.
	SigningKeys(ctx context.Context) ([]SigningKey, error)
	CreateSigningKey(ctx context.Context, k SigningKey) error
}
