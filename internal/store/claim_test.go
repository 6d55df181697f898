package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestClaimableDeliveries: a claim gets due deliveries of enabled endpoints within its
// caps — no more of an endpoint than its free slots, none of a full one — and learns
// that it left some behind; on PostgreSQL the store itself keeps to the caps.
func TestClaimableDeliveries(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := storetest.Open(t, d)
			ctx := t.Context()
			now := time.Now().UTC().Truncate(time.Millisecond)
			a := newAccount(t, db, "A")
			busy, idle := newEndpoint(t, db, a.ID, "https://busy.example", now), newEndpoint(t, db, a.ID, "https://idle.example", now)
			full := newEndpoint(t, db, a.ID, "https://full.example", now)
			var evs []subaccounts.Event
			var ds []subaccounts.Delivery
			for i, ep := range []uuid.UUID{busy, busy, busy, idle, idle, full} {
				ev := streamEvent(a.ID, uuid.Must(uuid.NewV7()), now.Add(time.Duration(i)*time.Millisecond), false)
				evs = append(evs, ev)
				ds = append(ds, events.NewDelivery(ev, ep, 8, now.Add(-time.Minute+time.Duration(i)*time.Millisecond)))
			}
			mustNil(t, "InsertEvents", db.Transact(ctx, func(ctx context.Context) error { return db.InsertEvents(ctx, evs, ds) }))

			caps := subaccounts.DueCaps{Take: 10, PerEndpoint: 2, Busy: map[uuid.UUID]int{busy: 1, full: 2}}
			var got map[uuid.UUID]int
			var left bool
			mustNil(t, "ClaimableDeliveries", db.Transact(ctx, func(ctx context.Context) error {
				works, more, err := db.ClaimableDeliveries(ctx, now, caps)
				if err != nil {
					return err
				}
				left, got = more, map[uuid.UUID]int{}
				for _, w := range works {
					got[w.Endpoint.ID]++
					if w.Event.ID != w.Delivery.EventID || len(w.Event.Payload) == 0 {
						t.Errorf("delivery %s came with event %s (%d bytes)", w.Delivery.ID, w.Event.ID, len(w.Event.Payload))
					}
				}
				return nil
			}))
			if d == "postgres" && (got[busy] != 1 || got[idle] != 2 || got[full] != 0) {
				t.Errorf("claimable: busy %d, idle %d, full %d; want 1, 2 and 0", got[busy], got[idle], got[full])
			}
			if got[full] != 0 {
				t.Errorf("%d deliveries of a full endpoint", got[full])
			}
			if d == "postgres" && !left {
				t.Error("the claim left two of the busy endpoint's behind and was not told")
			}
		})
	}
}
