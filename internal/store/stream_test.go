package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// The stream publisher runs over the store itself.
var _ events.StreamStore = (*store.DB)(nil)

// TestStreamOutbox: the stream's view of the outbox on every dialect — pending events in
// the order written, up to the limit, marked per tenant, and one publisher at a time.
func TestStreamOutbox(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			t.Run("PendingAndMarked", func(t *testing.T) {
				t.Parallel()
				testStreamPendingAndMarked(t, storetest.Open(t, d))
			})
			t.Run("Lock", func(t *testing.T) {
				t.Parallel()
				testStreamLock(t, storetest.Open(t, d))
			})
		})
	}
}

func streamEvent(accountID, id uuid.UUID, at time.Time, stream bool) subaccounts.Event {
	return subaccounts.Event{
		AccountID: accountID, ID: id, Type: "subaccount.updated", Payload: []byte(`{"id":"` + id.String() + `"}`),
		CreatedAt: at, Stream: stream,
	}
}

func pendingKeys(t *testing.T, db *store.DB, limit int) []string {
	t.Helper()
	evs, err := db.StreamPendingEvents(t.Context(), limit)
	mustNil(t, "StreamPendingEvents", err)
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.AccountID.String() + "/" + e.ID.String()
	}
	return out
}

func keyOf(e subaccounts.Event) string { return e.AccountID.String() + "/" + e.ID.String() }

func testStreamPendingAndMarked(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a, b := newAccount(t, db, "A"), newAccount(t, db, "B")
	shared := uuid.Must(uuid.NewV7())
	now := time.Now().UTC().Truncate(time.Millisecond)
	// The same event id in two tenants: marking one must leave the other pending.
	ax := streamEvent(a.ID, shared, now.Add(3*time.Millisecond), true)
	bx := streamEvent(b.ID, shared, now.Add(time.Millisecond), true)
	ay := streamEvent(a.ID, uuid.Must(uuid.NewV7()), now.Add(2*time.Millisecond), true)
	quiet := streamEvent(b.ID, uuid.Must(uuid.NewV7()), now, false)
	mustNil(t, "InsertEvents", db.Transact(ctx, func(ctx context.Context) error {
		return db.InsertEvents(ctx, []subaccounts.Event{ax, bx, ay, quiet}, nil)
	}))

	if got, want := pendingKeys(t, db, 10), []string{keyOf(bx), keyOf(ay), keyOf(ax)}; !slices.Equal(got, want) {
		t.Fatalf("pending = %v, want the stream's events in the order written %v", got, want)
	}
	if got, want := pendingKeys(t, db, 2), []string{keyOf(bx), keyOf(ay)}; !slices.Equal(got, want) {
		t.Fatalf("pending(limit 2) = %v, want %v", got, want)
	}
	mustNil(t, "MarkEventsStreamed", db.MarkEventsStreamed(ctx, []subaccounts.Event{ax}))
	if got, want := pendingKeys(t, db, 10), []string{keyOf(bx), keyOf(ay)}; !slices.Equal(got, want) {
		t.Fatalf("after marking A's event: pending = %v, want %v (B's event of the same id untouched)", got, want)
	}
	mustNil(t, "MarkEventsStreamed", db.MarkEventsStreamed(ctx, []subaccounts.Event{ay, bx}))
	if got := pendingKeys(t, db, 10); len(got) != 0 {
		t.Fatalf("after marking all: pending = %v, want none", got)
	}
}

// testStreamLock: on PostgreSQL a second transaction cannot take the lock while the
// first holds it, and can once it ended; SQLite's write lock serialises publishers, so
// its TryLockStream always succeeds.
func testStreamLock(t *testing.T, db *store.DB) {
	ctx := t.Context()
	held, release := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Transact(ctx, func(ctx context.Context) error {
			ok, err := db.TryLockStream(ctx)
			if err == nil && !ok {
				t.Error("the first TryLockStream failed with nobody holding the lock")
			}
			close(held)
			<-release
			return err
		})
	}()
	<-held
	if db.Dialect() == "postgres" {
		if got := tryLock(t, db); got {
			t.Error("a second transaction took the stream lock while the first held it")
		}
	}
	close(release)
	mustNil(t, "first transaction", <-first)
	if got := tryLock(t, db); !got {
		t.Error("TryLockStream failed after the holder's transaction ended")
	}
}

func tryLock(t *testing.T, db *store.DB) bool {
	t.Helper()
	var ok bool
	mustNil(t, "Transact", db.Transact(t.Context(), func(ctx context.Context) error {
		var err error
		ok, err = db.TryLockStream(ctx)
		return err
	}))
	return ok
}
