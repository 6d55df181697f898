package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestBacklog: the queues' counts and oldest entries across every account, on both
// databases — pending deliveries (due and scheduled), the stream's pending events and
// the audit events not chained yet — and an endpoint's deletion taking its deliveries.
func TestBacklog(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Millisecond)

			empty, err := db.Backlog(ctx, now)
			mustNil(t, "Backlog", err)
			if empty != (subaccounts.Backlog{}) {
				t.Fatalf("an empty database's backlog = %+v", empty)
			}

			a, b := newAccount(t, db, "A"), newAccount(t, db, "B")
			ep := newEndpoint(t, db, a.ID, "https://hooks.example/a", now)
			older := streamEvent(a.ID, uuid.Must(uuid.NewV7()), now.Add(-time.Minute), true)
			newer := streamEvent(b.ID, uuid.Must(uuid.NewV7()), now.Add(-time.Second), true)
			quiet := streamEvent(a.ID, uuid.Must(uuid.NewV7()), now.Add(-2*time.Minute), false)
			due := events.NewDelivery(older, ep, 8, now.Add(-30*time.Second))
			later := events.NewDelivery(quiet, ep, 8, now)
			in := now.Add(time.Hour)
			later.NextAttemptAt = &in
			mustNil(t, "InsertEvents", db.Transact(ctx, func(ctx context.Context) error {
				return db.InsertEvents(ctx, []subaccounts.Event{older, newer, quiet}, []subaccounts.Delivery{due, later})
			}))

			got, err := db.Backlog(ctx, now)
			mustNil(t, "Backlog", err)
			if got.PendingDeliveries != 2 || got.DueDeliveries != 1 {
				t.Errorf("deliveries pending %d, due %d; want 2 and 1", got.PendingDeliveries, got.DueDeliveries)
			}
			if got.OldestDue == nil || !got.OldestDue.Equal(*due.NextAttemptAt) {
				t.Errorf("oldest due %v, want %v", got.OldestDue, due.NextAttemptAt)
			}
			if got.StreamPending != 2 || got.OldestStreamPending == nil || !got.OldestStreamPending.Equal(older.CreatedAt) {
				t.Errorf("stream pending %d, oldest %v; want 2 and %v", got.StreamPending, got.OldestStreamPending, older.CreatedAt)
			}
			if got.UnchainedAudit != 0 {
				t.Errorf("unchained audit events %d before any was written", got.UnchainedAudit)
			}

			audit := func(accountID uuid.UUID, at time.Time) subaccounts.AuditEvent {
				return subaccounts.AuditEvent{
					ID: uuid.Must(uuid.NewV7()), AccountID: accountID, ActorSubject: "test", Action: "subaccount.create",
					ResourceType: "subaccount", ResourceID: uuid.NewString(), CreatedAt: at,
				}
			}
			first := audit(b.ID, now.Add(-5*time.Second))
			mustNil(t, "InsertAuditEvents", db.Transact(ctx, func(ctx context.Context) error {
				return db.InsertAuditEvents(ctx, []subaccounts.AuditEvent{audit(a.ID, now.Add(-time.Second)), first})
			}))
			got, err = db.Backlog(ctx, now)
			mustNil(t, "Backlog", err)
			if got.UnchainedAudit != 2 || got.OldestUnchained == nil || !got.OldestUnchained.Equal(first.CreatedAt) {
				t.Errorf("unchained %d, oldest %v; want 2 and %v", got.UnchainedAudit, got.OldestUnchained, first.CreatedAt)
			}
			chainAll(t, db, a.ID)
			chainAll(t, db, b.ID)
			got, err = db.Backlog(ctx, now)
			mustNil(t, "Backlog", err)
			if got.UnchainedAudit != 0 || got.OldestUnchained != nil {
				t.Errorf("after chaining: unchained %d, oldest %v", got.UnchainedAudit, got.OldestUnchained)
			}

			// Deleting the endpoint takes its deliveries along (no foreign key cascades
			// it on PostgreSQL); the events stay for the stream.
			mustNil(t, "DeleteWebhookEndpoint", db.Transact(ctx, func(ctx context.Context) error {
				return db.DeleteWebhookEndpoint(ctx, a.ID, ep)
			}))
			got, err = db.Backlog(ctx, now)
			mustNil(t, "Backlog", err)
			if got.PendingDeliveries != 0 || got.StreamPending != 2 {
				t.Errorf("after deleting the endpoint: %d deliveries pending, %d events for the stream; want 0 and 2", got.PendingDeliveries, got.StreamPending)
			}
		})
	}
}

// newEndpoint creates an endpoint of the account subscribed to every type and returns
// its id.
func newEndpoint(t *testing.T, db *store.DB, accountID uuid.UUID, url string, at time.Time) uuid.UUID {
	t.Helper()
	ep := subaccounts.WebhookEndpoint{AccountID: accountID, ID: uuid.Must(uuid.NewV7()), URL: url, EventTypes: []string{"*"},
		Secret: "sealed", Version: 1, CreatedAt: at, UpdatedAt: at}
	mustNil(t, "CreateWebhookEndpoint", db.CreateWebhookEndpoint(t.Context(), ep))
	return ep.ID
}
