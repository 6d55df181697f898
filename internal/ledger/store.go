package ledger

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Writer is what Book.Flush writes to, in the caller's transaction.
type Writer interface {
	UpdateAccount(ctx context.Context, a subaccounts.Account) error
	// UpdateSubaccount writes s; pairs, when non-nil, replaces its entitlement rows.
	UpdateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error
	// InsertLedgerEntries appends journal entries; the journal is never updated.
	InsertLedgerEntries(ctx context.Context, entries []subaccounts.Entry) error
}

// Store is what the ledger's service needs of the database.
type Store interface {
	Writer
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// GetAccount returns the account; lock takes its row lock, which serialises every
	// writer of the account's money.
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	// GetSubaccount returns a live subaccount of the account.
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	// ListSubaccounts returns one page of the account's live subaccounts in id order.
	ListSubaccounts(ctx context.Context, accountID uuid.UUID, f subaccounts.SubaccountFilter, p subaccounts.Page) ([]subaccounts.Subaccount, error)
	// AllSubaccounts returns every live subaccount of the account.
	AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error)
	// ListLedgerEntries returns one page of entries in id (creation) order.
	ListLedgerEntries(ctx context.Context, accountID uuid.UUID, f subaccounts.EntryFilter, p subaccounts.Page) ([]subaccounts.Entry, error)
	// LedgerPositions sums the account's journal per party and ledger.
	LedgerPositions(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Position, error)
	// HasLedgerEntries reports whether the account's journal holds any entry.
	HasLedgerEntries(ctx context.Context, accountID uuid.UUID) (bool, error)
	// Usage aggregates enrolments, transactions and charges in [from, to) and the active
	// cards now, for the given subaccounts.
	Usage(ctx context.Context, accountID uuid.UUID, subaccountIDs []uuid.UUID, from, to time.Time) ([]subaccounts.UsageCounts, error)
}
