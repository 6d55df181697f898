package events

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// DefaultSchedule is the wait before each retry of a failed delivery
// (WEBHOOK_RETRY_SCHEDULE): an event is tried eight times over about 28 hours.
var DefaultSchedule = []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

// Writer is what recording needs of the database.
type Writer interface {
	Loader
	// InTransaction reports whether ctx carries a transaction.
	InTransaction(ctx context.Context) bool
	// InsertEvents writes events and their deliveries in the transaction ctx carries.
	InsertEvents(ctx context.Context, events []subaccounts.Event, deliveries []subaccounts.Delivery) error
}

// Recorder writes outbound events into the outbox: the events kind of
// subaccounts.Recorder. An event is written only when some enabled endpoint is
// subscribed to it, or the stream is on, each with a pending delivery per subscribed
// endpoint, in the change's own transaction.
type Recorder struct {
	store       Writer
	subs        *Subscriptions
	stream      bool
	maxAttempts int
}

// Config tunes a Recorder.
type Config struct {
	// Stream records every event for the event stream, subscribed or not.
	Stream bool
	// Schedule is the delivery's retry schedule; it allows len(Schedule)+1 attempts.
	Schedule []time.Duration
}

// NewRecorder returns a Recorder writing to store, routing by subs.
func NewRecorder(store Writer, subs *Subscriptions, cfg Config) *Recorder {
	schedule := cfg.Schedule
	if schedule == nil {
		schedule = DefaultSchedule
	}
	return &Recorder{store: store, subs: subs, stream: cfg.Stream, maxAttempts: len(schedule) + 1}
}

// Record implements subaccounts.Recorder.
func (r *Recorder) Record(ctx context.Context, accountID uuid.UUID, changes ...subaccounts.Change) error {
	if len(changes) == 0 || accountID == subaccounts.PlatformAuditAccount {
		return nil
	}
	subs, err := r.subs.of(ctx, accountID)
	if err != nil {
		return fmt.Errorf("record events: subscriptions: %w", err)
	}
	if len(subs) == 0 && !r.stream {
		return nil
	}
	var events []subaccounts.Event
	var deliveries []subaccounts.Delivery
	now := subaccounts.Now()
	ctxParent := TraceParent(ctx)
	for _, c := range changes {
		ps, err := eventsOf(c)
		if err != nil {
			return err
		}
		for _, p := range ps {
			targets := p.targets(subs)
			if len(targets) == 0 && !r.stream {
				continue
			}
			ev, err := New(accountID, p.typ, p.sub, p.data(), now)
			if err != nil {
				return err
			}
			ev.Stream = r.stream
			ev.TraceParent = cmp.Or(c.TraceParent, ctxParent)
			events = append(events, ev)
			for _, endpointID := range targets {
				deliveries = append(deliveries, NewDelivery(ev, endpointID, r.maxAttempts, now))
			}
		}
	}
	return r.write(ctx, events, deliveries)
}

func (r *Recorder) write(ctx context.Context, events []subaccounts.Event, deliveries []subaccounts.Delivery) error {
	if len(events) == 0 {
		return nil
	}
	if !r.store.InTransaction(ctx) {
		return errors.New("record events: outside the change's transaction")
	}
	if err := r.store.InsertEvents(ctx, events, deliveries); err != nil {
		return fmt.Errorf("record events: %w", err)
	}
	return nil
}

// targets are the endpoints p goes to.
func (p pending) targets(subs []subscription) []uuid.UUID {
	var out []uuid.UUID
	for _, s := range subs {
		if s.endpointID != p.skip && s.wants(p.typ, p.sub) {
			out = append(out, s.endpointID)
		}
	}
	return out
}

// NewDelivery is ev's delivery to an endpoint, due at once.
func NewDelivery(ev subaccounts.Event, endpointID uuid.UUID, maxAttempts int, now time.Time) subaccounts.Delivery {
	due := now
	return subaccounts.Delivery{
		AccountID: ev.AccountID, ID: uuid.Must(uuid.NewV7()), EndpointID: endpointID, EventID: ev.ID, EventType: ev.Type,
		Status: subaccounts.DeliveryPending, MaxAttempts: maxAttempts, NextAttemptAt: &due, CreatedAt: now, UpdatedAt: now,
	}
}

// TraceParent is the W3C traceparent of the span in ctx, or "" when ctx has none: what
// an event stores so that its deliveries continue the trace that made it.
func TraceParent(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return carrier["traceparent"]
}
