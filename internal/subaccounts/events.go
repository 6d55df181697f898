package subaccounts

import (
	"time"

	"github.com/google/uuid"
)

// Event is one outbound event: what a committed change tells the account's systems. It is
// written in the change's own transaction (the outbox), and Payload is the body every
// endpoint and the stream receive, unchanged across retries.
type Event struct {
	AccountID uuid.UUID
	// ID is the event's id, which receivers see as webhook-id and the stream as
	// Nats-Msg-Id.
	ID   uuid.UUID
	Type string
	// SubaccountID is the subaccount the event is about; nil for an account-level event.
	SubaccountID *uuid.UUID
	// Payload is the JSON document {"id", "type", "timestamp", "subaccountId", "data"}.
	Payload   []byte
	CreatedAt time.Time
	// Stream marks an event still to be published to the event stream.
	Stream bool
	// TraceParent is the W3C traceparent of the span that made the event, so that its
	// deliveries continue that trace; empty when it was made untraced.
	TraceParent string
}

// DeliveryStatus is where a delivery of an event to an endpoint stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event on its way to one endpoint, with the attempts made so far.
type Delivery struct {
	AccountID  uuid.UUID
	ID         uuid.UUID
	EndpointID uuid.UUID
	EventID    uuid.UUID
	EventType  string
	Status     DeliveryStatus
	// Attempts counts the attempts made; MaxAttempts is how many the delivery may make
	// before it is failed (a resend allows one more).
	Attempts, MaxAttempts int
	// NextAttemptAt is when a pending delivery is due.
	NextAttemptAt *time.Time
	// ClaimedBy and ClaimedUntil hold a worker's lease on a delivery it is sending.
	ClaimedBy    string
	ClaimedUntil *time.Time
	// Ref is the store's handle to the row version a claim read or wrote (PostgreSQL:
	// its ctid), so the claim and the attempt's record find the row without a plan; empty
	// where the store needs none.
	Ref                  string
	CreatedAt, UpdatedAt time.Time
	// History is the attempts made, oldest first, where the store loaded them.
	History []Attempt
}

// Attempt is one try to deliver: when, how it was answered and how long it took.
type Attempt struct {
	N  int
	At time.Time
	// StatusCode is the HTTP status of the answer, 0 when there was none.
	StatusCode int
	Latency    time.Duration
	// Error says why an attempt without an answer failed.
	Error string
	// ResponseBody is the first KiB of the answer's body, with card numbers masked.
	ResponseBody string
}

// DeliveryFilter narrows a delivery list. Zero fields do not filter.
type DeliveryFilter struct {
	Status DeliveryStatus
	// From is inclusive and To exclusive, on CreatedAt.
	From, To time.Time
}

// DeliveryWork is a claimed delivery with what sending it needs.
type DeliveryWork struct {
	Delivery Delivery
	Endpoint WebhookEndpoint
	Event    Event
}

// DueCaps bound one claim of due deliveries: at most Take of them, and of each endpoint
// no more than PerEndpoint less what Busy says it has in flight already.
type DueCaps struct {
	Take, PerEndpoint int
	Busy              map[uuid.UUID]int
}

// Free is how many more deliveries of endpoint the caps allow.
func (c DueCaps) Free(endpoint uuid.UUID) int { return max(c.PerEndpoint-c.Busy[endpoint], 0) }

// FinishedAttempt is an attempt made and the delivery as it leaves it.
type FinishedAttempt struct {
	Delivery Delivery
	Attempt  Attempt
}

// BacklogCap is the most rows a Backlog count reads of each queue: a scrape stays cheap
// whatever the backlog, and a count of BacklogCap means at least that many.
const BacklogCap = 100_000

// Backlog is what waits in the database's queues, across every account: the webhook
// outbox, the stream's pending events and the audit events not chained yet. Counts stop
// at BacklogCap; an Oldest is nil when its queue is empty.
type Backlog struct {
	// PendingDeliveries are deliveries neither delivered nor failed; DueDeliveries those
	// of them whose attempt is due; OldestDue is when the most overdue one became due.
	PendingDeliveries, DueDeliveries int64
	OldestDue                        *time.Time
	// StreamPending are events not yet published to the stream, the oldest created at
	// OldestStreamPending.
	StreamPending       int64
	OldestStreamPending *time.Time
	// UnchainedAudit are audit events not yet linked into their account's hash chain, the
	// oldest created at OldestUnchained.
	UnchainedAudit  int64
	OldestUnchained *time.Time
}
