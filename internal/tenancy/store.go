package tenancy

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Store is what accounts, contracts and subaccounts need of the database: their rows,
// the card counts a contract or configuration change checks, and the journal writes of
// the ledger's Book (ledger.Writer).
type Store interface {
	ledger.Writer
	// HasLedgerEntries reports whether the account's journal holds any entry (a contract
	// cannot change currency once money moved).
	HasLedgerEntries(ctx context.Context, accountID uuid.UUID) (bool, error)
	// Transact runs fn in one database transaction that every store call made with the
	// context fn receives joins. Outermost it commits when fn returns nil and runs fn
	// again after a serialization failure or busy lock, so fn must be safe to run again;
	// inside another Transact it runs fn in a savepoint, which an error from fn rolls
	// back alone.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	CreateAccount(ctx context.Context, a subaccounts.Account) error
	// GetAccount returns the account; lock takes a row lock for the rest of the
	// transaction, which serialises all writers of one account.
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	ListAccounts(ctx context.Context, p subaccounts.Page) ([]subaccounts.Account, error)
	CreateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	ListSubaccounts(ctx context.Context, accountID uuid.UUID, f subaccounts.SubaccountFilter, p subaccounts.Page) ([]subaccounts.Subaccount, error)
	// AllSubaccounts returns every live subaccount of the account, for contract checks.
	AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error)
	CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error)
	DeleteSubaccount(ctx context.Context, accountID, id uuid.UUID) error
	// CountActiveCards counts the active cards of one subaccount.
	CountActiveCards(ctx context.Context, accountID, subaccountID uuid.UUID) (int64, error)
	// CardPairCounts counts a subaccount's active cards by (country, network), by
	// aggregation in the database.
	CardPairCounts(ctx context.Context, accountID, subaccountID uuid.UUID) ([]subaccounts.PairCount, error)
	// RecomputeCardPolicy sets policy_status of the subaccount's active cards from its
	// current entitlement rows (out-of-policy where its pair is not permitted, in-policy
	// where it is) and returns the cards that changed.
	RecomputeCardPolicy(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) ([]subaccounts.Card, error)
	// RemoveSubaccountCards unenrols every active card of a subaccount and returns how
	// many it removed.
	RemoveSubaccountCards(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) (int64, error)
}
