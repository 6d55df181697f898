package subaccounts

import (
	"context"

	"github.com/google/uuid"
)

// Actor is who caused a change: the token's subject and client, and the request it came in.
type Actor struct {
	Subject   string
	ClientID  string
	RequestID string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor that audit events recorded under it name.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor ctx carries, or the zero Actor (a change the service made
// by itself).
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// AuditRecord is one change to append to an account's audit log.
type AuditRecord struct {
	// Action names what happened, "<resource>.<verb>", e.g. "subaccount.update".
	Action       string
	ResourceType string
	ResourceID   string
	// Before and After are domain values (Account, Subaccount, Card, Client, Transfer, …)
	// or nil; the audit log keeps a safe view of them, never a PAN, secret or fingerprint.
	Before, After any
	Reference     string
}

// RecordAudit appends records to the audit log of accountID inside tx, as the actor ctx
// carries. Call it as the last step of a transaction, after every other write, so the
// per-account chain head is locked for the shortest time and always last.
func RecordAudit(ctx context.Context, tx Tx, accountID uuid.UUID, recs ...AuditRecord) error {
	// Implemented by the audit log work (issue 4 §6).
	return nil
}
