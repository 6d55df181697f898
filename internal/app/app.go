// Package app composes the domain's services over one store: it is the one place that
// knows which service needs which other (cards and routing charge through the ledger,
// every change records through the audit Recorder), so cmd/subaccountd and the tests
// wire the same graph.
//
// It imports every domain package and is imported only by cmd and tests; httpapi takes
// the services it builds, one field each.
package app

import (
	"context"

	"log/slog"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/ledger"
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
	// WebhookAllowPrivateNetworks lets webhook endpoints use http and private addresses
	// (local development and tests).
	WebhookAllowPrivateNetworks bool
	// Logger receives the background work's errors; nil means slog.Default().
	Logger *slog.Logger
}

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
}

// NewRecorder returns the one Recorder every change writes its side records through:
// the list of record kinds (the audit log today; outbound events join it here).
func NewRecorder(store audit.Writer) subaccounts.Recorder {
	return subaccounts.Recorders{audit.NewRecorder(store)}
}

// New builds the services over store. Close (or Shutdown) them to stop the group commit.
func New(store Store, cfg Config) *Services {
	rec := cfg.Recorder
	if rec == nil {
		rec = NewRecorder(store)
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
	if cfg.OnGroupWritten != nil {
		g.Observe = cfg.OnGroupWritten
	}
	return &Services{
		Recorder:    rec,
		Tenancy:     tenancy.NewService(store, rec, cfg.OnClientsRevoked),
		Cards:       cards.NewService(store, rec, prints),
		Routing:     routing.NewService(store, rec, prints, g),
		Ledger:      ledger.NewService(store, rec),
		Audit:       audit.NewService(store, cfg.Logger),
		Compliance:  compliance.NewService(store),
		Idempotency: idempotency.NewService(store, cfg.Keys),
		Webhooks:    webhooks.NewService(store, rec, cfg.Keys, webhooks.Guard{AllowPrivate: cfg.WebhookAllowPrivateNetworks}),
	}
}

// Close writes what the group commit still holds and stops it.
func (s *Services) Close() { s.Routing.Close() }

// Shutdown stops the group commit within ctx (see routing.Service.Shutdown).
func (s *Services) Shutdown(ctx context.Context) error { return s.Routing.Shutdown(ctx) }
