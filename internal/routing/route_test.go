package routing_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

const (
	visaPAN = "4111111111111111"
	mcPAN   = "5555555555554444"
)

// TestRouteMessage: a message reaches its card's subaccount, flagged out of policy
// where the pair is not permitted (never dropped), or waits unrouted with the reason
// when the card is unknown or removed.
func TestRouteMessage(t *testing.T) {
	cases := []struct {
		name string
		// card stores the card the message names and returns what the message names
		// (its id or its number).
		card          func(t *testing.T, fx *fakeFixture) (named string, cardID uuid.UUID)
		wantStatus    routing.IngestStatus
		wantPolicy    subaccounts.PolicyStatus
		wantReason    string
		wantSuspended bool
	}{
		{name: "in policy by card id", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
			return c.ID.String(), c.ID
		}, wantStatus: routing.IngestRouted, wantPolicy: subaccounts.InPolicy},
		{name: "in policy by card number", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
			return visaPAN, c.ID
		}, wantStatus: routing.IngestRouted, wantPolicy: subaccounts.InPolicy},
		{name: "network out of policy", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			c := fx.card(t, fx.sub.ID, mcPAN, "DEU", subaccounts.CardActive)
			return c.ID.String(), c.ID
		}, wantStatus: routing.IngestRouted, wantPolicy: subaccounts.OutOfPolicy},
		{name: "country out of policy", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			c := fx.card(t, fx.sub.ID, visaPAN, "FRA", subaccounts.CardActive)
			return visaPAN, c.ID
		}, wantStatus: routing.IngestRouted, wantPolicy: subaccounts.OutOfPolicy},
		{name: "suspended subaccount still routed", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			s := fx.f.st.subs[fx.sub.ID]
			s.Suspended = true
			fx.f.st.subs[fx.sub.ID] = s
			c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
			return c.ID.String(), c.ID
		}, wantStatus: routing.IngestRouted, wantPolicy: subaccounts.InPolicy, wantSuspended: true},
		{name: "unknown card id", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			return uuid.NewString(), uuid.Nil
		}, wantStatus: routing.IngestUnrouted, wantReason: subaccounts.ReasonCardUnknown},
		{name: "unknown card number", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			fx.card(t, fx.sub.ID, mcPAN, "DEU", subaccounts.CardActive) // another card
			return visaPAN, uuid.Nil
		}, wantStatus: routing.IngestUnrouted, wantReason: subaccounts.ReasonCardUnknown},
		{name: "removed card by id", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardRemoved)
			return c.ID.String(), uuid.Nil
		}, wantStatus: routing.IngestUnrouted, wantReason: subaccounts.ReasonCardRemoved},
		{name: "card of a deleted subaccount", card: func(t *testing.T, fx *fakeFixture) (string, uuid.UUID) {
			c := fx.card(t, uuid.New(), visaPAN, "DEU", subaccounts.CardActive)
			return c.ID.String(), uuid.Nil
		}, wantStatus: routing.IngestUnrouted, wantReason: subaccounts.ReasonCardUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFakeFixture(t, 0, routing.GroupCommit{})
			named, cardID := tc.card(t, fx)
			out, err := fx.svc.IngestTransactions(context.Background(), fx.p, []routing.MessageInput{message("ntid-1", "auth", named)})
			if err != nil {
				t.Fatalf("IngestTransactions: %v", err)
			}
			o := out[0]
			if o.Err != nil {
				t.Fatalf("outcome: %v", o.Err)
			}
			if o.Status != tc.wantStatus {
				t.Fatalf("status %v, want %v", o.Status, tc.wantStatus)
			}
			st := fx.f.state()
			stored, ok := st.txs[o.Transaction.ID]
			if !ok || len(st.txs) != 1 {
				t.Fatalf("stored %v, want the one message", st.txs)
			}
			if tc.wantStatus == routing.IngestUnrouted {
				if stored.Routing != subaccounts.Unrouted || stored.UnroutedReason != tc.wantReason || stored.SubaccountID != uuid.Nil {
					t.Errorf("stored %+v, want unrouted for %s", stored, tc.wantReason)
				}
				if named == visaPAN && len(stored.CardFingerprint) == 0 {
					t.Errorf("unrouted message by number keeps no fingerprint for its retry")
				}
				return
			}
			if stored.Routing != subaccounts.Routed || stored.SubaccountID != fx.sub.ID || stored.CardID != cardID ||
				stored.PolicyStatus != tc.wantPolicy || stored.ConfigVersion != fx.sub.ConfigVersion || stored.SubaccountSuspended != tc.wantSuspended {
				t.Errorf("stored %+v, want routed to %s with card %s, %s, config version %d, suspended %v",
					stored, fx.sub.ID, cardID, tc.wantPolicy, fx.sub.ConfigVersion, tc.wantSuspended)
			}
			if stored.CardFingerprint != nil {
				t.Errorf("routed message keeps the card fingerprint")
			}
			if stored.Amount != 1250 || stored.Currency != "EUR" || stored.Merchant.MCC != "5812" {
				t.Errorf("stored %+v: message fields lost", stored)
			}
		})
	}
}

// TestIngestDuplicates: a message whose (network transaction id, type) is stored answers
// as a duplicate with the stored transaction and stores nothing; another type of the
// same id is a new message; a repeat inside one batch is a duplicate of the first.
func TestIngestDuplicates(t *testing.T) {
	fx := newFakeFixture(t, 0, routing.GroupCommit{})
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
	ctx := context.Background()
	ingest := func(msgs ...routing.MessageInput) []routing.IngestOutcome {
		t.Helper()
		out, err := fx.svc.IngestTransactions(ctx, fx.p, msgs)
		if err != nil {
			t.Fatalf("IngestTransactions: %v", err)
		}
		for i, o := range out {
			if o.Err != nil {
				t.Fatalf("outcome %d: %v", i, o.Err)
			}
		}
		return out
	}
	first := ingest(message("n-1", "auth", c.ID.String()))[0]
	if first.Status != routing.IngestRouted {
		t.Fatalf("first status %v, want routed", first.Status)
	}
	again := ingest(message("n-1", "auth", visaPAN))[0]
	if again.Status != routing.IngestDuplicate || again.Transaction.ID != first.Transaction.ID {
		t.Errorf("repeat: status %v id %s, want duplicate of %s", again.Status, again.Transaction.ID, first.Transaction.ID)
	}
	if n := len(fx.f.state().txs); n != 1 {
		t.Errorf("%d messages stored after a repeat, want 1", n)
	}
	batch := ingest(message("n-1", "clearing", c.ID.String()), message("n-1", "clearing", c.ID.String()), message("n-1", "auth", c.ID.String()))
	if batch[0].Status != routing.IngestRouted || batch[1].Status != routing.IngestDuplicate || batch[1].Transaction.ID != batch[0].Transaction.ID {
		t.Errorf("repeat within a batch: %v %v (ids %s %s), want routed then its duplicate", batch[0].Status, batch[1].Status, batch[0].Transaction.ID, batch[1].Transaction.ID)
	}
	if batch[2].Status != routing.IngestDuplicate || batch[2].Transaction.ID != first.Transaction.ID {
		t.Errorf("stored message in a batch: %v %s, want duplicate of %s", batch[2].Status, batch[2].Transaction.ID, first.Transaction.ID)
	}
	if n := len(fx.f.state().txs); n != 2 {
		t.Errorf("%d messages stored, want auth and clearing", n)
	}

	// A repeat of an unrouted message answers unrouted with the stored one.
	u := ingest(message("n-2", "auth", uuid.NewString()))[0]
	ur := ingest(message("n-2", "auth", uuid.NewString()))[0]
	if u.Status != routing.IngestUnrouted || ur.Status != routing.IngestUnrouted || ur.Transaction.ID != u.Transaction.ID {
		t.Errorf("repeat of an unrouted message: %v %v, ids %s %s", u.Status, ur.Status, u.Transaction.ID, ur.Transaction.ID)
	}
	if n := len(fx.f.state().txs); n != 3 {
		t.Errorf("%d messages stored, want 3", n)
	}
}

// TestIngestBatchOutcomes: invalid items are refused alone, the rest are written; a
// confined client cannot ingest at all.
func TestIngestBatchOutcomes(t *testing.T) {
	fx := newFakeFixture(t, 0, routing.GroupCommit{})
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
	bad := message("n-2", "capture", c.ID.String())
	out, err := fx.svc.IngestTransactions(context.Background(), fx.p, []routing.MessageInput{message("n-1", "auth", c.ID.String()), bad, message("n-3", "auth", uuid.NewString())})
	if err != nil {
		t.Fatalf("IngestTransactions: %v", err)
	}
	var se *subaccounts.Error
	if out[0].Status != routing.IngestRouted || !errors.As(out[1].Err, &se) || se.Code != subaccounts.CodeValidation || out[2].Status != routing.IngestUnrouted {
		t.Errorf("outcomes %+v, want routed, invalid, unrouted", out)
	}
	if n := len(fx.f.state().txs); n != 2 {
		t.Errorf("%d stored, want 2", n)
	}
	confined := subaccounts.Principal{AccountID: fx.a.ID, SubaccountID: &fx.sub.ID}
	if _, err := fx.svc.IngestTransactions(context.Background(), confined, []routing.MessageInput{message("n-4", "auth", c.ID.String())}); !errors.As(err, &se) || se.Code != subaccounts.CodeForbidden {
		t.Errorf("confined ingest: %v, want forbidden", err)
	}
}

// TestIngestFees: each newly routed message is charged to its payer, even past the
// floor (network fees are never refused); unrouted messages and duplicates are not.
func TestIngestFees(t *testing.T) {
	fx := newFakeFixture(t, 7, routing.GroupCommit{})
	s := fx.f.st.subs[fx.sub.ID]
	s.Balance = 10 // its own balance, no credit
	fx.f.st.subs[fx.sub.ID] = s
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
	msgs := []routing.MessageInput{
		message("n-1", "auth", c.ID.String()),
		message("n-2", "auth", c.ID.String()),
		message("n-2", "auth", c.ID.String()),    // repeat
		message("n-3", "auth", uuid.NewString()), // unrouted
	}
	if _, err := fx.svc.IngestTransactions(context.Background(), fx.p, msgs); err != nil {
		t.Fatalf("IngestTransactions: %v", err)
	}
	if _, err := fx.svc.IngestTransactions(context.Background(), fx.p, msgs[:1]); err != nil {
		t.Fatalf("IngestTransactions again: %v", err)
	}
	st := fx.f.state()
	got := st.subs[fx.sub.ID]
	if got.Balance != -4 || !got.OverLimit {
		t.Errorf("subaccount balance %d over limit %v, want 10 - 2×7 = -4 and over", got.Balance, got.OverLimit)
	}
	var charges int
	for _, e := range st.entries {
		if e.Kind == subaccounts.KindCharge && e.ChargeType == subaccounts.ChargeTransaction && e.Amount == 7 {
			charges++
		}
	}
	if charges != 2 {
		t.Errorf("%d transaction charges, want 2: %+v", charges, st.entries)
	}
}

// TestRetryUnrouted: a queued message is routed, keeping its id, once its card is
// enrolled; while the card is removed it stays queued with the reason updated.
func TestRetryUnrouted(t *testing.T) {
	fx := newFakeFixture(t, 0, routing.GroupCommit{})
	ctx := context.Background()
	out, err := fx.svc.IngestTransactions(ctx, fx.p, []routing.MessageInput{message("n-1", "auth", visaPAN)})
	if err != nil || out[0].Status != routing.IngestUnrouted {
		t.Fatalf("IngestTransactions: %+v %v, want unrouted", out, err)
	}
	id := out[0].Transaction.ID
	fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardRemoved)
	r, err := fx.svc.RetryUnrouted(ctx, fx.p, id)
	if err != nil || r.Status != routing.IngestUnrouted {
		t.Fatalf("retry with only a removed card: %+v %v, want still unrouted", r, err)
	}
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
	r, err = fx.svc.RetryUnrouted(ctx, fx.p, id)
	if err != nil || r.Status != routing.IngestRouted {
		t.Fatalf("retry with the card enrolled: %+v %v, want routed", r, err)
	}
	stored := fx.f.state().txs[id]
	if stored.Routing != subaccounts.Routed || stored.CardID != c.ID || stored.SubaccountID != fx.sub.ID || stored.CardFingerprint != nil {
		t.Errorf("stored %+v, want routed to the card, fingerprint cleared", stored)
	}
	if _, err := fx.svc.RetryUnrouted(ctx, fx.p, id); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("retry of a routed message: %v, want not found", err)
	}
}

// TestRetryUnroutedRemoved: a message naming a removed card by id stays queued with
// the reason card-removed.
func TestRetryUnroutedRemoved(t *testing.T) {
	fx := newFakeFixture(t, 0, routing.GroupCommit{})
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
	ctx := context.Background()
	fx.f.mu.Lock()
	cc := fx.f.st.cards[c.ID]
	cc.Status = subaccounts.CardRemoved
	fx.f.st.cards[c.ID] = cc
	fx.f.mu.Unlock()
	out, err := fx.svc.IngestTransactions(ctx, fx.p, []routing.MessageInput{message("n-1", "auth", c.ID.String())})
	if err != nil || out[0].Transaction.UnroutedReason != subaccounts.ReasonCardRemoved {
		t.Fatalf("IngestTransactions: %+v %v, want unrouted card-removed", out, err)
	}
	r, err := fx.svc.RetryUnrouted(ctx, fx.p, out[0].Transaction.ID)
	if err != nil || r.Status != routing.IngestUnrouted || r.Transaction.UnroutedReason != subaccounts.ReasonCardRemoved {
		t.Errorf("retry: %+v %v, want unrouted card-removed", r, err)
	}
}

// TestGroupCommitBatches: concurrent single messages, queued while a commit holds the
// store, are written together in fewer groups than messages, and each is answered.
func TestGroupCommitBatches(t *testing.T) {
	const n = 20
	var mu sync.Mutex
	var groups []int
	g := routing.GroupCommit{MaxBatch: 64, MaxWait: 20 * time.Millisecond, Writers: 1, Observe: func(m int, _ time.Duration) {
		mu.Lock()
		groups = append(groups, m)
		mu.Unlock()
	}}
	fx := newFakeFixture(t, 0, g)
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)

	// Hold the store's transaction lock, as a long commit would, while the messages
	// queue up behind the writer.
	fx.f.txMu.Lock()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := fx.svc.IngestTransaction(context.Background(), fx.p, message("g-"+string(rune('a'+i)), "auth", c.ID.String()))
			if err == nil && out.Status != routing.IngestRouted {
				err = errors.New("status not routed")
			}
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	fx.f.txMu.Unlock()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("IngestTransaction: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	total, largest := 0, 0
	for _, m := range groups {
		total += m
		largest = max(largest, m)
	}
	if total != n || len(groups) >= n || largest < 2 {
		t.Errorf("groups %v: want %d messages in fewer groups, one holding several", groups, n)
	}
	if got := len(fx.f.state().txs); got != n {
		t.Errorf("%d messages stored, want %d", got, n)
	}
}

// TestIngestTransactionJoinsTransaction: a single message sent inside a caller's
// transaction is written in it, not by the group commit.
func TestIngestTransactionJoinsTransaction(t *testing.T) {
	var observed int
	var mu sync.Mutex
	fx := newFakeFixture(t, 0, routing.GroupCommit{MaxBatch: 8, MaxWait: time.Millisecond, Writers: 1, Observe: func(int, time.Duration) {
		mu.Lock()
		observed++
		mu.Unlock()
	}})
	c := fx.card(t, fx.sub.ID, visaPAN, "DEU", subaccounts.CardActive)
	errRollback := errors.New("roll back")
	err := fx.f.Transact(context.Background(), func(ctx context.Context) error {
		out, err := fx.svc.IngestTransaction(ctx, fx.p, message("n-1", "auth", c.ID.String()))
		if err != nil {
			return err
		}
		if out.Status != routing.IngestRouted {
			return errors.New("not routed")
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("Transact: %v", err)
	}
	if n := len(fx.f.state().txs); n != 0 {
		t.Errorf("%d messages stored after the caller's transaction rolled back, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if observed != 0 {
		t.Errorf("the group commit wrote %d groups, want none", observed)
	}
}
