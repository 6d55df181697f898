// Package app composes the domain's services over one store: it is the one place that
// knows which service needs which other (cards and routing charge through the ledger,
// every change records through the audit and events Recorders), so cmd/subaccountd and the tests
// wire the same graph.
//
// It imports every domain package and is imported only by cmd and tests; httpapi takes
// the services it builds, one field each.
package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/groupcommit"
	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/metrics"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/internal/webhooks"
)

// Store is everything the services need of the database: the union of their narrow
// stores, which the store package's DB implements.
type Store interface {
	tenancy.Store
	cards.Store
	routing.Store
	ledger.Store
	audit.Store
	compliance.Store
	idempotency.Store
	webhooks.Store
	events.Writer
	events.StreamStore
}

// Config is what the services are built with.
type Config struct {
	// Keys are the master key versions card fingerprints and idempotency keys derive
	// from; without them enrolment, ingestion and idempotent writes fail.
	Keys *keys.Ring
	// GroupCommit tunes the group commit of single-message ingestion; the zero value is
	// routing.DefaultGroupCommit.
	GroupCommit routing.GroupCommit
	// OnClientsRevoked runs after a change revoked OAuth2 clients as a side effect.
	OnClientsRevoked func()
	// OnGroupWritten learns the size of every group the group commit writes.
	OnGroupWritten func(messages int)
	// Recorder is where changes write their side records; nil means NewRecorder(store).
	Recorder subaccounts.Recorder
	// Subscriptions is the cache of each account's webhook subscriptions the Recorder
	// routes events by; nil (with Recorder nil) means a new one.
	Subscriptions *events.Subscriptions
	// Events tunes the events kind of a Recorder built here.
	Events events.Config
	// WebhookAllowPrivateNetworks lets webhook endpoints use http and private addresses
	// (local development and tests).
	WebhookAllowPrivateNetworks bool
	// Delivery, when set, starts a webhook delivery worker with this configuration; Close
	// and Shutdown stop it.
	Delivery *webhooks.WorkerConfig
	// Stream, when set, starts the publisher of the outbox's events to NATS JetStream
	// with this configuration (Events.Stream must be on for events to reach it); Close
	// and Shutdown stop it.
	Stream *events.StreamConfig
	// Logger receives the background work's errors; nil means slog.Default().
	Logger *slog.Logger
	// TracerProvider, when set, gives the group commit and the delivery worker their
	// spans; nil traces neither.
	TracerProvider trace.TracerProvider
	// Metrics, when set, learns every group commit, delivery attempt and stream batch;
	// nil records nothing.
	Metrics *metrics.Metrics
}

// tracerScope names the spans the services start themselves.
const tracerScope = "github.com/cardseg/subaccounts"

// Services are the domain's services, built over one store.
type Services struct {
	// Recorder is where every change writes what it records beside itself.
	Recorder    subaccounts.Recorder
	Tenancy     *tenancy.Service
	Cards       *cards.Service
	Routing     *routing.Service
	Ledger      *ledger.Service
	Audit       *audit.Service
	Compliance  *compliance.Service
	Idempotency *idempotency.Service
	Webhooks    *webhooks.Service
	// Subscriptions caches the accounts' webhook subscriptions.
	Subscriptions *events.Subscriptions
	// Delivery is the webhook delivery worker, when Config.Delivery asked for one.
	Delivery *webhooks.Worker
	// Stream is the event stream publisher, when Config.Stream asked for one.
	Stream *events.Stream
}

// RecordStore is what the record kinds write to.
type RecordStore interface {
	audit.Writer
	events.Writer
}

// NewRecorder returns the one Recorder every change writes its side records through:
// the list of record kinds, the audit log and the outbound events (routed by subs).
func NewRecorder(store RecordStore, subs *events.Subscriptions, cfg events.Config) subaccounts.Recorder {
	return subaccounts.Recorders{audit.NewRecorder(store), events.NewRecorder(store, subs, cfg)}
}

// New builds the services over store. Close (or Shutdown) them to stop the group commit.
func New(store Store, cfg Config) *Services {
	subs := cfg.Subscriptions
	if subs == nil {
		subs = events.NewSubscriptions(store, 0)
	}
	rec := cfg.Recorder
	if rec == nil {
		rec = NewRecorder(store, subs, cfg.Events)
	}
	var prints *pan.Fingerprints
	if cfg.Keys != nil {
		fps, err := cfg.Keys.Fingerprinters()
		if err != nil {
			// NewRing already checked every key the fingerprinters check.
			panic("app: " + err.Error())
		}
		prints = pan.NewFingerprints(fps)
	}
	g := cfg.GroupCommit
	if g.MaxBatch == 0 && g.MaxWait == 0 && g.Writers == 0 {
		g = routing.DefaultGroupCommit
	}
	if on, m := cfg.OnGroupWritten, cfg.Metrics; on != nil || m != nil {
		g.Observe = func(messages int, waited time.Duration) {
			m.GroupWritten(messages, waited)
			if on != nil {
				on(messages)
			}
		}
	}
	if cfg.TracerProvider != nil {
		g.Tracer = cfg.TracerProvider.Tracer(tracerScope + "/internal/routing")
	}
	svc := &Services{
		Recorder:    rec,
		Tenancy:     tenancy.NewService(store, rec, cfg.OnClientsRevoked),
		Cards:       cards.NewService(store, rec, prints).Observed(countEnrolments(cfg.Metrics)).GroupCommit(cardsGroupCommit(cfg)),
		Routing:     routing.NewService(store, rec, prints, g).Observed(countMessages(cfg.Metrics)),
		Ledger:      ledger.NewService(store, rec),
		Audit:       audit.NewService(store, cfg.Logger),
		Compliance:  compliance.NewService(store),
		Idempotency: idempotency.NewService(store, cfg.Keys),
		Webhooks: webhooks.NewService(store, rec, cfg.Keys, webhooks.Config{
			Guard: webhooks.Guard{AllowPrivate: cfg.WebhookAllowPrivateNetworks}, Changed: subs.Invalidate, Schedule: cfg.Events.Schedule,
		}),
		Subscriptions: subs,
	}
	if cfg.Delivery != nil {
		d := *cfg.Delivery
		if d.Schedule == nil {
			d.Schedule = cfg.Events.Schedule
		}
		if d.Logger == nil {
			d.Logger = cfg.Logger
		}
		if d.Observe == nil && cfg.Metrics != nil {
			d.Observe = cfg.Metrics.Delivery
		}
		if d.Tracer == nil && cfg.TracerProvider != nil {
			d.Tracer = cfg.TracerProvider.Tracer(tracerScope + "/internal/webhooks")
		}
		svc.Delivery = svc.Webhooks.NewWorker(d)
		svc.Delivery.Start()
	}
	if cfg.Stream != nil {
		sc := *cfg.Stream
		if sc.Logger == nil {
			sc.Logger = cfg.Logger
		}
		if sc.Observe == nil && cfg.Metrics != nil {
			sc.Observe = cfg.Metrics.Streamed
		}
		svc.Stream = events.NewStream(store, sc)
		svc.Stream.Start()
	}
	return svc
}

// cardsGroupCommit is the enrolments' group commit: the default, traced with the rest.
func cardsGroupCommit(cfg Config) groupcommit.Config {
	g := cards.DefaultGroupCommit
	if cfg.Metrics != nil {
		g.Observe = cfg.Metrics.EnrolmentGroupWritten
	}
	if cfg.TracerProvider != nil {
		g.Tracer = cfg.TracerProvider.Tracer(tracerScope + "/internal/cards")
	}
	return g
}

// countEnrolments counts enrolments in m by outcome; nil when m is.
func countEnrolments(m *metrics.Metrics) func(error) {
	if m == nil {
		return nil
	}
	return func(err error) { m.Enrolments(metrics.EnrolmentOutcome(err), 1) }
}

// countMessages counts messages in m by outcome; nil when m is.
func countMessages(m *metrics.Metrics) func(routing.Tally) {
	if m == nil {
		return nil
	}
	return func(t routing.Tally) {
		m.Messages(metrics.MessageRouted, t.Routed)
		m.Messages(metrics.MessageUnrouted, t.Unrouted)
		m.Messages(metrics.MessageDuplicate, t.Duplicate)
		m.Messages(metrics.MessageInvalid, t.Invalid)
	}
}

// Close writes what the group commits (messages, enrolments) still hold and stops them,
// the delivery worker and the stream publisher.
func (s *Services) Close() {
	s.Routing.Close()
	s.Cards.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if s.Delivery != nil {
		s.Delivery.Stop(ctx)
	}
	if s.Stream != nil {
		s.Stream.Stop(ctx)
	}
}

// Shutdown stops the group commits, the delivery worker and the stream publisher within
// ctx (see routing.Service.Shutdown, cards.Service.Shutdown, webhooks.Worker.Stop and
// events.Stream.Stop).
func (s *Services) Shutdown(ctx context.Context) error {
	// They stop side by side, so a group commit waiting on the database until the
	// deadline leaves the workers the same time to finish and release their claims.
	var wg sync.WaitGroup
	if s.Delivery != nil {
		wg.Go(func() { s.Delivery.Stop(ctx) })
	}
	if s.Stream != nil {
		wg.Go(func() { s.Stream.Stop(ctx) })
	}
	var cardsErr error
	wg.Go(func() { cardsErr = s.Cards.Shutdown(ctx) })
	err := s.Routing.Shutdown(ctx)
	wg.Wait()
	return errors.Join(err, cardsErr)
}
