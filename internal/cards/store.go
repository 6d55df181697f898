package cards

import (
	"context"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Store is what enrolment and card management need of the database.
type Store interface {
	ledger.Writer
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// TransactGroup runs fn in one transaction with the fewest round trips the database
	// allows; inside it only LoadEnrolment(s), ActiveCardsByFingerprint, CreateCards and
	// the side records' writes are sure to work (see store.TransactGroup).
	TransactGroup(ctx context.Context, fn func(ctx context.Context) error) error
	// InTransaction reports whether ctx carries a transaction of the store.
	InTransaction(ctx context.Context) bool
	// LoadEnrolment reads the account and share-locks its live subaccount.
	LoadEnrolment(ctx context.Context, accountID, subaccountID uuid.UUID) (subaccounts.Account, subaccounts.Subaccount, error)
	// LoadEnrolments is LoadEnrolment for many subaccounts at once, one read per key.
	LoadEnrolments(ctx context.Context, keys []subaccounts.SubaccountKey) ([]subaccounts.EnrolmentRead, error)
	// GetAccount returns the account; lock takes its row lock (enrolments that charge
	// or count a quota take it).
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	// GetSubaccount returns a live subaccount of the account.
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
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
	// ListCards returns one page of cards in id order.
	ListCards(ctx context.Context, accountID uuid.UUID, f subaccounts.CardFilter, p subaccounts.Page) ([]subaccounts.Card, error)
	// UpdateCard writes a card's subaccount, status, policy status, metadata and updated_at.
	UpdateCard(ctx context.Context, c subaccounts.Card) error
	// CountActiveCards counts the active cards of one subaccount.
	CountActiveCards(ctx context.Context, accountID, subaccountID uuid.UUID) (int64, error)
}
