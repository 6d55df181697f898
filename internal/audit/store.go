package audit

import (
	"context"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Store is what the audit log needs of the database.
type Store interface {
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// InTransaction reports whether ctx carries a transaction.
	InTransaction(ctx context.Context) bool
	// InsertAuditEvents writes events unchained (their Seq, PrevHash and Hash are
	// ignored), with before and after in canonical JSON. It takes no lock.
	InsertAuditEvents(ctx context.Context, events []subaccounts.AuditEvent) error
	// ChainAuditEvents links up to limit of the account's unchained events, in id order,
	// into its chain, in one transaction (the caller's, or one of its own): it locks the
	// account's chain head (creating it when missing), gives each event the next seq, the
	// previous hash and its own hash, and moves the head. It returns how many it linked.
	ChainAuditEvents(ctx context.Context, accountID uuid.UUID, limit int) (chained int, err error)
	// AccountsWithUnchainedAuditEvents returns up to limit accounts that have unchained
	// events.
	AccountsWithUnchainedAuditEvents(ctx context.Context, limit int) ([]uuid.UUID, error)
	// CountUnchainedAuditEvents counts the account's unchained events.
	CountUnchainedAuditEvents(ctx context.Context, accountID uuid.UUID) (int64, error)
	// ListAuditEvents returns one page of the account's chained events in seq order;
	// p.After is the id of the last event of the previous page.
	ListAuditEvents(ctx context.Context, accountID uuid.UUID, f subaccounts.AuditFilter, p subaccounts.Page) ([]subaccounts.AuditEvent, error)
	// AuditEventsAfter returns up to limit of the account's chained events with seq
	// greater than afterSeq, in seq order.
	AuditEventsAfter(ctx context.Context, accountID uuid.UUID, afterSeq int64, limit int) ([]subaccounts.AuditEvent, error)
	// AuditHead returns the account's chain head, or the zero AuditHead when it has none.
	AuditHead(ctx context.Context, accountID uuid.UUID) (subaccounts.AuditHead, error)
}
