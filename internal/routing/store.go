package routing

import (
	"context"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Store is what routing needs of the database.
type Store interface {
	ledger.Writer
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// TransactGroup runs fn in one transaction for a group of messages, with the fewest
	// round trips the database allows; inside it only LoadGroup, InsertTransactions,
	// TransactionsByKey and the events' writes are sure to work (see store.TransactGroup).
	TransactGroup(ctx context.Context, fn func(ctx context.Context) error) error
	// LoadGroup reads what routing one account's messages needs.
	LoadGroup(ctx context.Context, accountID uuid.UUID, q subaccounts.GroupQuery) (subaccounts.GroupRead, error)
	// InTransaction reports whether ctx carries a transaction (an idempotent request's):
	// a single message then joins it instead of the group commit.
	InTransaction(ctx context.Context) bool
	// GetAccount returns the account; lock takes its row lock (network fees take it).
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	// GetSubaccount returns a live subaccount of the account.
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	// GetCards returns the account's cards among ids (active or removed), in any order.
	GetCards(ctx context.Context, accountID uuid.UUID, ids []uuid.UUID) ([]subaccounts.Card, error)
	// ActiveCardsByFingerprint returns the account's active cards with these fingerprints.
	ActiveCardsByFingerprint(ctx context.Context, accountID uuid.UUID, fingerprints [][]byte) ([]subaccounts.Card, error)
	// GetCard returns a card of the account (active or removed).
	GetCard(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Card, error)
	// InsertTransactions inserts messages (routed or unrouted) and returns the ids of those
	// inserted; one whose (account, network transaction id, type) already exists is
	// skipped, not an error.
	InsertTransactions(ctx context.Context, txs []subaccounts.Transaction) ([]uuid.UUID, error)
	// TransactionsByKey returns the account's stored messages (routed or unrouted) with
	// any of these keys.
	TransactionsByKey(ctx context.Context, accountID uuid.UUID, keys []subaccounts.TransactionKey) ([]subaccounts.Transaction, error)
	// GetTransaction returns one message of the account, routed or not; lock takes a row
	// lock for the rest of the transaction on PostgreSQL.
	GetTransaction(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Transaction, error)
	// ListTransactions returns one page in id (arrival) order.
	ListTransactions(ctx context.Context, accountID uuid.UUID, f subaccounts.TransactionFilter, p subaccounts.Page) ([]subaccounts.Transaction, error)
	// Lifecycle returns the routed messages of the account sharing a network transaction
	// id, oldest datetime first.
	Lifecycle(ctx context.Context, accountID uuid.UUID, networkTransactionID string) ([]subaccounts.Transaction, error)
	// RouteTransaction turns an unrouted message into a routed one (writing the routing
	// fields and clearing the fingerprint); ErrNotFound when it is not unrouted any more.
	RouteTransaction(ctx context.Context, t subaccounts.Transaction) error
	// UpdateUnroutedReason records a new reason on a message still unrouted.
	UpdateUnroutedReason(ctx context.Context, accountID, id uuid.UUID, reason string) error
}
