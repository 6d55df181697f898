package tenancy

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Store persists the domain. Every tenant-scoped method takes the account id explicitly
// and filters on it; implementations translate driver errors into ErrNotFound and
// ErrConflict.
type Store interface {
	// Transact runs fn in one database transaction that every store call made with the
	// context fn receives joins. Outermost it commits when fn returns nil and runs fn
	// again after a serialization failure or busy lock, so fn must be safe to run again;
	// inside another Transact it runs fn in a savepoint, which an error from fn rolls
	// back alone.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// Ping reports whether the database is reachable and its migrations are applied.
	Ping(ctx context.Context) error
	// InTransaction reports whether ctx carries Transact's transaction.
	InTransaction(ctx context.Context) bool

	Tx
}

// Tx is the set of operations available inside (or outside) a transaction.
type Tx interface {
	CreateAccount(ctx context.Context, a subaccounts.Account) error
	// GetAccount returns the account; lock takes a row lock for the rest of the
	// transaction, which serialises all writers of one account.
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	ListAccounts(ctx context.Context, p subaccounts.Page) ([]subaccounts.Account, error)
	UpdateAccount(ctx context.Context, a subaccounts.Account) error

	CreateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	ListSubaccounts(ctx context.Context, accountID uuid.UUID, f subaccounts.SubaccountFilter, p subaccounts.Page) ([]subaccounts.Subaccount, error)
	// AllSubaccounts returns every live subaccount of the account, for contract checks.
	AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error)
	CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error)
	// UpdateSubaccount writes s; pairs, when non-nil, replaces its entitlement rows.
	UpdateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error
	DeleteSubaccount(ctx context.Context, accountID, id uuid.UUID) error

	CreateClient(ctx context.Context, c subaccounts.Client) error
	// GetClient returns an active (not revoked) client by id, of any account.
	GetClient(ctx context.Context, clientID string) (subaccounts.Client, error)
	// ListClients returns one page of the active clients of an account in id order (ids
	// are UUIDv7, so that is creation order), after the id in afterID when it is set.
	ListClients(ctx context.Context, accountID uuid.UUID, afterID string, limit int) ([]subaccounts.Client, error)
	RevokeClient(ctx context.Context, accountID uuid.UUID, clientID string) error
	// SetClientRateLimit sets an active client's own rate limit (nil: the default); a
	// client of another account is ErrNotFound.
	SetClientRateLimit(ctx context.Context, accountID uuid.UUID, clientID string, limit *int) error
	// OperatorClientExists reports whether any active operator client exists.
	OperatorClientExists(ctx context.Context) (bool, error)
	// UpsertOperatorClient creates or replaces an operator client; it fails with
	// ErrConflict when the id belongs to a tenant's client.
	UpsertOperatorClient(ctx context.Context, c subaccounts.Client) error
	// RevokeOperatorClients revokes every active operator client but keepID ("" keeps
	// none) and returns the clients it revoked, as they were.
	RevokeOperatorClients(ctx context.Context, keepID string) ([]subaccounts.Client, error)

	// LockSigningKeys serialises key creation across replicas until the transaction ends.
	LockSigningKeys(ctx context.Context) error
	// SigningKeys returns the issuer's keys, newest first.
	SigningKeys(ctx context.Context) ([]subaccounts.SigningKey, error)
	CreateSigningKey(ctx context.Context, k subaccounts.SigningKey) error

	// LockFingerprintKeys serialises fingerprint key creation across replicas until the
	// transaction ends.
	LockFingerprintKeys(ctx context.Context) error
	// FingerprintKeys returns every recorded fingerprint key version, newest first.
	FingerprintKeys(ctx context.Context) ([]subaccounts.FingerprintKey, error)
	CreateFingerprintKey(ctx context.Context, k subaccounts.FingerprintKey) error
	// ClearFingerprintKeySecret empties the secret of a recorded version: the generated
	// key an earlier release kept in the database, once it is safe elsewhere.
	ClearFingerprintKeySecret(ctx context.Context, version int) error
	// UpdateSigningKey replaces the stored (sealed) private key of kid.
	UpdateSigningKey(ctx context.Context, kid, privateKey string) error

	CardStore
	TransactionStore
	ledger.Store
}

// CardStore persists cards.
type CardStore interface {
	// ShareSubaccount returns a live subaccount and, inside a transaction on PostgreSQL,
	// holds a share lock on its row until the transaction ends, so its configuration cannot
	// change under an enrolment or move deciding on it.
	ShareSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	// CreateCards inserts cards and returns the ids of those inserted; a card whose
	// fingerprint an active card of the account already has is skipped, not an error.
	CreateCards(ctx context.Context, cards []subaccounts.Card) ([]uuid.UUID, error)
	// ActiveCardsByFingerprint returns the account's active cards with these fingerprints.
	ActiveCardsByFingerprint(ctx context.Context, accountID uuid.UUID, fingerprints [][]byte) ([]subaccounts.Card, error)
	// GetCard returns a card of the account (active or removed); lock takes a row lock
	// for the rest of the transaction on PostgreSQL.
	GetCard(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Card, error)
	// GetCards returns the account's cards among ids (active or removed), in any order.
	GetCards(ctx context.Context, accountID uuid.UUID, ids []uuid.UUID) ([]subaccounts.Card, error)
	// ListCards returns one page of cards in id order.
	ListCards(ctx context.Context, accountID uuid.UUID, f subaccounts.CardFilter, p subaccounts.Page) ([]subaccounts.Card, error)
	// UpdateCard writes a card's subaccount, status, policy status, metadata and updated_at.
	UpdateCard(ctx context.Context, c subaccounts.Card) error
	// RemoveSubaccountCards unenrols every active card of a subaccount and returns how
	// many it removed.
	RemoveSubaccountCards(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) (int64, error)
	// CountActiveCards counts the active cards of one subaccount.
	CountActiveCards(ctx context.Context, accountID, subaccountID uuid.UUID) (int64, error)
	// CardPairCounts counts a subaccount's active cards by (country, network), by
	// aggregation in the database.
	CardPairCounts(ctx context.Context, accountID, subaccountID uuid.UUID) ([]subaccounts.PairCount, error)
	// RecomputeCardPolicy sets policy_status of the subaccount's active cards from its
	// current entitlement rows (out-of-policy where its pair is not permitted, in-policy
	// where it is) and returns how many cards changed.
	RecomputeCardPolicy(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) (int64, error)
}

// TransactionStore persists network messages.
type TransactionStore interface {
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
