package issuer

import (
	"context"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Store is what the issuer needs of the database: its clients and signing keys, and the
// audit log its changes write to.
type Store interface {
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// InTransaction reports whether ctx carries a transaction.
	InTransaction(ctx context.Context) bool
	// InsertAuditEvents writes audit events in the transaction ctx carries.
	InsertAuditEvents(ctx context.Context, events []subaccounts.AuditEvent) error

	// GetAccount and GetSubaccount check what a new client is for.
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)

	CreateClient(ctx context.Context, c subaccounts.Client) error
	// GetClient returns an active (not revoked) client by id, of any account.
	GetClient(ctx context.Context, clientID string) (subaccounts.Client, error)
	// ListClients returns one page of the active clients of an account in id order,
	// after afterID when it is set.
	ListClients(ctx context.Context, accountID uuid.UUID, afterID string, limit int) ([]subaccounts.Client, error)
	RevokeClient(ctx context.Context, accountID uuid.UUID, clientID string) error
	// SetClientRateLimit sets an active client's own rate limit (nil: the default).
	SetClientRateLimit(ctx context.Context, accountID uuid.UUID, clientID string, limit *int) error
	// OperatorClientExists reports whether any active operator client exists.
	OperatorClientExists(ctx context.Context) (bool, error)
	// UpsertOperatorClient creates or replaces an operator client.
	UpsertOperatorClient(ctx context.Context, c subaccounts.Client) error
	// RevokeOperatorClients revokes every active operator client but keepID and returns
	// the clients it revoked, as they were.
	RevokeOperatorClients(ctx context.Context, keepID string) ([]subaccounts.Client, error)

	// LockSigningKeys serialises key creation across replicas until the transaction ends.
	LockSigningKeys(ctx context.Context) error
	// SigningKeys returns the issuer's keys, newest first.
	SigningKeys(ctx context.Context) ([]subaccounts.SigningKey, error)
	CreateSigningKey(ctx context.Context, k subaccounts.SigningKey) error
	// UpdateSigningKey replaces the stored (sealed) private key of kid.
	UpdateSigningKey(ctx context.Context, kid, privateKey string) error
}
