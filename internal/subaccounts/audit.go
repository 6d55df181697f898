package subaccounts

import (
	"context"
	"encoding/json"
	"strings"
	"time"

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

// Change is one change a write made, as its side records (the audit log's event, an
// outbound event) describe it.
type Change struct {
	// Action names what happened, "<resource>.<verb>", e.g. "subaccount.update".
	Action       string
	ResourceType string
	ResourceID   string
	// Before and After are domain values (Account, Subaccount, Card, Client, Transfer, …)
	// or nil; the audit log keeps a safe view of them, never a PAN, secret or fingerprint.
	Before, After any
	Reference     string
	// Unaudited marks a change the audit log does not keep, because it is data rather
	// than a change anyone made to the account's set-up (a transaction routed, a card's
	// policy status recomputed by a narrowing the log already holds); outbound events
	// still carry it.
	Unaudited bool
	// TraceParent is the W3C traceparent of the request that made the change, set when
	// the transaction writing it also writes other requests' changes (a group commit);
	// empty means the span in the context the change is recorded with.
	TraceParent string
}

// AuditViewer is implemented by values that may appear as the before or after of an
// audit record besides the types the audit log knows (Account, Subaccount, Card,
// Client). AuditView returns what the log keeps of the value, encoded with
// encoding/json; it must leave out anything secret. Other types are refused rather than
// dumped, so a new field holding a secret can never slip into the log unnoticed.
type AuditViewer interface {
	AuditView() any
}

// PlatformAuditAccount keys the audit chain of changes that belong to no account, such
// as the operator's own clients. It is the Max UUID (all bits set), which no account
// has (their ids are UUIDv7), so no tenant can read the chain.
var PlatformAuditAccount = uuid.Max

// AuditEvent is one entry of an account's audit log. Seq numbers an account's events
// from 1 without gaps; Hash chains each event to the one before it (see ChainHash). An
// event not yet chained has Seq 0 and no PrevHash or Hash.
type AuditEvent struct {
	ID            uuid.UUID
	AccountID     uuid.UUID
	Seq           int64
	ActorSubject  string
	ActorClientID string
	Action        string
	ResourceType  string
	ResourceID    string
	// Before and After are canonical JSON (compact, keys sorted), or nil for none.
	Before, After json.RawMessage
	Reference     string
	RequestID     string
	CreatedAt     time.Time
	PrevHash      string
	Hash          string
}

// GenesisHash is the PrevHash of an account's first event.
var GenesisHash = strings.Repeat("0", 64)

// AuditHead is the newest link of an account's chain: its seq and hash. The zero
// AuditHead stands for an account that has no events.
type AuditHead struct {
	Seq  int64
	Hash string
}

// AuditFilter narrows an audit event list. Empty fields do not filter.
type AuditFilter struct {
	Action       string
	ResourceType string
	// ResourceID is only used together with ResourceType.
	ResourceID string
	// Actor matches the actor's subject or client id.
	Actor string
	// From is inclusive and To exclusive, on CreatedAt.
	From, To time.Time
}

// Recorder is the one seam through which a change writes what it records beside itself:
// an audit event today, an outbound event next. Record is called inside the change's own
// database transaction (ctx carries it, see the store's Transact), so the side records
// commit or roll back with the change; a kind added later is one more Recorder, not one
// more call at every site.
type Recorder interface {
	Record(ctx context.Context, accountID uuid.UUID, changes ...Change) error
}

// Recorders hands every change to each of its kinds, in order, in the same transaction.
type Recorders []Recorder

// Record implements Recorder.
func (rs Recorders) Record(ctx context.Context, accountID uuid.UUID, changes ...Change) error {
	for _, r := range rs {
		if err := r.Record(ctx, accountID, changes...); err != nil {
			return err
		}
	}
	return nil
}
