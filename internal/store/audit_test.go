package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// TestAudit runs the audit log cases against every dialect, each on a fresh database.
func TestAudit(t *testing.T) {
	tests := []storeTest{
		{"AppendChainsAndLists", testAuditAppendAndList},
		{"DifferentTenant", testAuditDifferentTenant},
		{"ConcurrentAppends", testAuditConcurrentAppends},
		{"ConcurrentRecordAndChain", testAuditConcurrentRecordAndChain},
		{"RolledBackAppendLeavesNoTrace", testAuditRollback},
		{"ChainingOrderAndBatches", testAuditChainingBatches},
		{"SafeViews", testAuditSafeViews},
		{"Tampering", testAuditTampering},
		{"AppendOnlyGuards", testAuditGuards},
	}
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, storetest.Open(t, dialect))
				})
			}
		})
	}
}

// record appends recs to the account's log in a transaction of their own, as actor.
func record(t *testing.T, db *store.DB, accountID uuid.UUID, actor subaccounts.Actor, recs ...subaccounts.Change) {
	t.Helper()
	ctx := subaccounts.WithActor(t.Context(), actor)
	err := db.Transact(ctx, func(ctx context.Context) error { return audit.NewRecorder(db).Record(ctx, accountID, recs...) })
	mustNil(t, "RecordAudit", err)
}

// chainAll links every unchained event of the account into its chain, as the service's
// chainer does, and returns how many it linked.
func chainAll(t *testing.T, db *store.DB, accountID uuid.UUID) int {
	t.Helper()
	n, err := db.ChainAuditEvents(t.Context(), accountID, 1_000_000)
	mustNil(t, "ChainAuditEvents", err)
	return n
}

// unchained counts the account's events not yet chained.
func unchained(t *testing.T, db *store.DB, accountID uuid.UUID) int64 {
	t.Helper()
	n, err := db.CountUnchainedAuditEvents(t.Context(), accountID)
	mustNil(t, "CountUnchainedAuditEvents", err)
	return n
}

// allEvents chains the account's events and returns all of them in seq order.
func allEvents(t *testing.T, db *store.DB, accountID uuid.UUID) []subaccounts.AuditEvent {
	t.Helper()
	chainAll(t, db, accountID)
	evs, err := db.AuditEventsAfter(t.Context(), accountID, 0, 1_000_000)
	mustNil(t, "AuditEventsAfter", err)
	return evs
}

// verify chains the account's events, as the service does before it verifies, then
// checks the chain, reading few events per batch so batching is tested.
func verify(t *testing.T, db *store.DB, accountID uuid.UUID) audit.AuditVerification {
	t.Helper()
	chainAll(t, db, accountID)
	v, err := audit.VerifyAuditChain(t.Context(), db, accountID, 3)
	mustNil(t, "VerifyAuditChain", err)
	return v
}

func wantValid(t *testing.T, v audit.AuditVerification, events int64) {
	t.Helper()
	if !v.Valid || v.Broken != nil || v.EventsChecked != events || v.Head.Seq != events {
		t.Fatalf("verification %+v (broken %+v), want valid with %d events", v, v.Broken, events)
	}
}

func wantBroken(t *testing.T, v audit.AuditVerification, seq int64, id uuid.UUID, reason string) {
	t.Helper()
	if v.Valid || v.Broken == nil {
		t.Fatalf("verification %+v, want broken at %d (%s)", v, seq, reason)
	}
	if *v.Broken != (audit.AuditBreak{Seq: seq, EventID: id, Reason: reason}) {
		t.Fatalf("first broken link %+v, want seq %d, event %s, %q", *v.Broken, seq, id, reason)
	}
	checked := seq - 1
	if reason == audit.AuditHeadMismatch {
		checked = seq // every event is intact; the head is not
	}
	if v.EventsChecked != checked {
		t.Errorf("events checked %d, want %d (those before the break)", v.EventsChecked, checked)
	}
}

var (
	alice = subaccounts.Actor{Subject: "alice", ClientID: "client-a", RequestID: "req-1"}
	bob   = subaccounts.Actor{Subject: "bob", ClientID: "client-b", RequestID: "req-2"}
)

func testAuditAppendAndList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	sub := newSubaccount(t, db, a.ID, "Shop", gbrVisa...)
	renamed := sub
	renamed.Name = "Shop 2"
	record(t, db, a.ID, alice, subaccounts.Change{Action: "subaccount.create", ResourceType: "subaccount", ResourceID: sub.ID.String(), After: sub})
	record(t, db, a.ID, bob,
		subaccounts.Change{Action: "subaccount.update", ResourceType: "subaccount", ResourceID: sub.ID.String(), Before: sub, After: renamed, Reference: "ticket-7"},
		subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: a.ID.String(), Before: a, After: a},
	)
	record(t, db, a.ID, subaccounts.Actor{}, subaccounts.Change{Action: "subaccount.delete", ResourceType: "subaccount", ResourceID: sub.ID.String(), Before: renamed})

	// Recorded, not yet chained: the events are in the table but not in the chain, the
	// listings or the head.
	if n := unchained(t, db, a.ID); n != 4 {
		t.Fatalf("%d unchained events, want 4", n)
	}
	if got, err := db.ListAuditEvents(ctx, a.ID, subaccounts.AuditFilter{}, subaccounts.Page{Limit: 100}); err != nil || len(got) != 0 {
		t.Fatalf("listing before chaining: %d events (%v), want none", len(got), err)
	}
	if head, err := db.AuditHead(ctx, a.ID); err != nil || head != (subaccounts.AuditHead{}) {
		t.Fatalf("head before chaining: %+v (%v), want none", head, err)
	}
	if ids, err := db.AccountsWithUnchainedAuditEvents(ctx, 10); err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Fatalf("accounts with unchained events: %v (%v), want [%s]", ids, err, a.ID)
	}

	evs := allEvents(t, db, a.ID)
	if n := unchained(t, db, a.ID); n != 0 {
		t.Fatalf("%d unchained events after chaining", n)
	}
	if ids, err := db.AccountsWithUnchainedAuditEvents(ctx, 10); err != nil || len(ids) != 0 {
		t.Fatalf("accounts with unchained events after chaining: %v (%v)", ids, err)
	}
	if n := chainAll(t, db, a.ID); n != 0 {
		t.Fatalf("chaining again linked %d events", n)
	}
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	prev := subaccounts.GenesisHash
	for i, e := range evs {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.AccountID != a.ID || e.ID.Version() != 7 {
			t.Errorf("event %d: seq %d, prev %s (want %s), account %s, id version %d", i, e.Seq, e.PrevHash, prev, e.AccountID, e.ID.Version())
		}
		if h, err := audit.ChainHash(e); err != nil || h != e.Hash || len(e.Hash) != 64 {
			t.Errorf("event %d: hash %s, recomputed %s (%v)", i, e.Hash, h, err)
		}
		prev = e.Hash
	}
	head, err := db.AuditHead(ctx, a.ID)
	mustNil(t, "AuditHead", err)
	if head != (subaccounts.AuditHead{Seq: 4, Hash: prev}) {
		t.Errorf("head %+v, want seq 4 and the last hash", head)
	}
	e := evs[1]
	if e.ActorSubject != "bob" || e.ActorClientID != "client-b" || e.RequestID != "req-2" || e.Reference != "ticket-7" ||
		e.Action != "subaccount.update" || e.ResourceType != "subaccount" || e.ResourceID != sub.ID.String() {
		t.Errorf("event 2: %+v", e)
	}
	var before, after map[string]any
	mustNil(t, "decode before", json.Unmarshal(e.Before, &before))
	mustNil(t, "decode after", json.Unmarshal(e.After, &after))
	if before["name"] != "Shop" || after["name"] != "Shop 2" || after["id"] != sub.ID.String() {
		t.Errorf("before %v, after %v", before, after)
	}
	if evs[0].Before != nil || evs[3].After != nil {
		t.Errorf("absent before/after stored as %s / %s, want nil", evs[0].Before, evs[3].After)
	}
	if evs[3].ActorSubject != "" || evs[3].RequestID != "" {
		t.Errorf("event without an actor: %+v", evs[3])
	}
	wantValid(t, verify(t, db, a.ID), 4)

	seqs := func(evs []subaccounts.AuditEvent) string {
		s := make([]string, len(evs))
		for i, e := range evs {
			s[i] = fmt.Sprint(e.Seq)
		}
		return strings.Join(s, ",")
	}
	t0, t1 := evs[0].CreatedAt, evs[3].CreatedAt
	tests := []struct {
		name   string
		filter subaccounts.AuditFilter
		want   string
	}{
		{"all", subaccounts.AuditFilter{}, "1,2,3,4"},
		{"action", subaccounts.AuditFilter{Action: "subaccount.update"}, "2"},
		{"resource type", subaccounts.AuditFilter{ResourceType: "subaccount"}, "1,2,4"},
		{"resource", subaccounts.AuditFilter{ResourceType: "account", ResourceID: a.ID.String()}, "3"},
		{"resource id of another type", subaccounts.AuditFilter{ResourceType: "account", ResourceID: sub.ID.String()}, ""},
		{"actor by subject", subaccounts.AuditFilter{Actor: "bob"}, "2,3"},
		{"actor by client", subaccounts.AuditFilter{Actor: "client-a"}, "1"},
		{"from", subaccounts.AuditFilter{From: t0}, "1,2,3,4"},
		{"to is exclusive", subaccounts.AuditFilter{To: t0}, ""},
		{"window", subaccounts.AuditFilter{From: t0, To: t1.Add(time.Millisecond)}, "1,2,3,4"},
		{"future", subaccounts.AuditFilter{From: t1.Add(time.Hour)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.ListAuditEvents(ctx, a.ID, tt.filter, subaccounts.Page{Limit: 100})
			mustNil(t, "ListAuditEvents", err)
			if s := seqs(got); s != tt.want {
				t.Errorf("seqs %q, want %q", s, tt.want)
			}
		})
	}
	t.Run("pages", func(t *testing.T) {
		var got []subaccounts.AuditEvent
		after := uuid.Nil
		for range 10 {
			page, err := db.ListAuditEvents(ctx, a.ID, subaccounts.AuditFilter{}, subaccounts.Page{Limit: 3, After: after})
			mustNil(t, "ListAuditEvents", err)
			got = append(got, page...)
			if len(page) < 3 {
				break
			}
			after = page[len(page)-1].ID
		}
		if s := seqs(got); s != "1,2,3,4" {
			t.Errorf("paged seqs %q", s)
		}
	})
}

func testAuditDifferentTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a, b := newAccount(t, db, "A"), newAccount(t, db, "B")
	for range 3 {
		record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: a.ID.String(), After: a})
	}
	aEvents := allEvents(t, db, a.ID)
	if got, err := db.ListAuditEvents(ctx, b.ID, subaccounts.AuditFilter{}, subaccounts.Page{Limit: 100}); err != nil || len(got) != 0 {
		t.Errorf("B's list: %d events (%v), want none", len(got), err)
	}
	// A cursor naming A's event positions nothing in B's list.
	record(t, db, b.ID, bob, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: b.ID.String(), After: b})
	// Chaining one account leaves the other's events alone.
	record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: a.ID.String(), After: a})
	if n := chainAll(t, db, b.ID); n != 1 || unchained(t, db, a.ID) != 1 {
		t.Fatalf("chaining B linked %d events and left %d of A's unchained, want 1 and 1", n, unchained(t, db, a.ID))
	}
	got, err := db.ListAuditEvents(ctx, b.ID, subaccounts.AuditFilter{}, subaccounts.Page{Limit: 100, After: aEvents[0].ID})
	if err != nil || len(got) != 0 {
		t.Errorf("B's list after A's event: %d events (%v), want none", len(got), err)
	}
	got, err = db.ListAuditEvents(ctx, b.ID, subaccounts.AuditFilter{}, subaccounts.Page{Limit: 100})
	if err != nil || len(got) != 1 || got[0].Seq != 1 || got[0].PrevHash != subaccounts.GenesisHash {
		t.Errorf("B's own chain starts afresh: %+v (%v)", got, err)
	}
	if got, err := db.AuditEventsAfter(ctx, b.ID, 0, 100); err != nil || len(got) != 1 {
		t.Errorf("B's events: %d (%v), want 1", len(got), err)
	}
	wantValid(t, verify(t, db, a.ID), 4)
	wantValid(t, verify(t, db, b.ID), 1)
	// An account without events has an intact, empty chain.
	c := newAccount(t, db, "C")
	wantValid(t, verify(t, db, c.ID), 0)
}

func testAuditConcurrentAppends(t *testing.T, db *store.DB) {
	a := newAccount(t, db, "A")
	const writers = 20
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			ctx := subaccounts.WithActor(context.Background(), subaccounts.Actor{Subject: fmt.Sprint("writer-", i)})
			errs[i] = db.Transact(ctx, func(ctx context.Context) error {
				return audit.NewRecorder(db).Record(ctx, a.ID, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: a.ID.String(), After: a})
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		mustNil(t, fmt.Sprint("writer ", i), err)
	}
	evs := allEvents(t, db, a.ID)
	subjects := map[string]bool{}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		subjects[e.ActorSubject] = true
	}
	if len(evs) != writers || len(subjects) != writers {
		t.Fatalf("%d events from %d writers, want %d of each", len(evs), len(subjects), writers)
	}
	wantValid(t, verify(t, db, a.ID), writers)
}

// testAuditConcurrentRecordAndChain records events from several goroutines while
// others chain the account over and over: every event ends up chained exactly once, in a
// gapless chain that verifies.
func testAuditConcurrentRecordAndChain(t *testing.T, db *store.DB) {
	a := newAccount(t, db, "A")
	const writers, perWriter = 8, 10
	ctx := context.Background()
	var writing, chaining sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		writing.Go(func() {
			wctx := subaccounts.WithActor(ctx, subaccounts.Actor{Subject: fmt.Sprint("writer-", i)})
			for j := range perWriter {
				err := db.Transact(wctx, func(ctx context.Context) error {
					return audit.NewRecorder(db).Record(ctx, a.ID, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: fmt.Sprint(i, "-", j), After: a})
				})
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	done := make(chan struct{})
	const chainers = 2
	chainErrs := make([]error, chainers)
	chained := make([]int, chainers)
	for c := range chainers {
		chaining.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				// Small batches, so chaining takes many transactions.
				n, err := db.ChainAuditEvents(ctx, a.ID, 3)
				if err != nil {
					chainErrs[c] = err
					return
				}
				chained[c] += n
			}
		})
	}
	writing.Wait()
	close(done)
	chaining.Wait()
	for i, err := range errs {
		mustNil(t, fmt.Sprint("writer ", i), err)
	}
	for i, err := range chainErrs {
		mustNil(t, fmt.Sprint("chainer ", i), err)
	}
	rest := chainAll(t, db, a.ID)
	const total = writers * perWriter
	if sum := chained[0] + chained[1] + rest; sum != total {
		t.Fatalf("chainers linked %d+%d events and the last pass %d, want %d in all (each once)", chained[0], chained[1], rest, total)
	}
	evs := allEvents(t, db, a.ID)
	seen := map[string]bool{}
	for i, e := range evs {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, e.Seq)
		}
		if seen[e.ResourceID] {
			t.Fatalf("event %s appears twice", e.ResourceID)
		}
		seen[e.ResourceID] = true
	}
	if len(evs) != total {
		t.Fatalf("%d events, want %d", len(evs), total)
	}
	wantValid(t, verify(t, db, a.ID), total)
}

func testAuditRollback(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", After: a})
	chainAll(t, db, a.ID)
	headBefore, err := db.AuditHead(ctx, a.ID)
	mustNil(t, "AuditHead", err)
	boom := errors.New("boom")
	err = db.Transact(ctx, func(ctx context.Context) error {
		if err := audit.NewRecorder(db).Record(ctx, a.ID, subaccounts.Change{Action: "account.update", ResourceType: "account", After: a}); err != nil {
			return err
		}
		return boom
	})
	wantErrIs(t, "failing transaction", err, boom)
	// Nothing is left: neither the event nor a change of the head.
	if n := unchained(t, db, a.ID); n != 0 {
		t.Fatalf("%d unchained events after a rolled-back record", n)
	}
	if head, err := db.AuditHead(ctx, a.ID); err != nil || head != headBefore {
		t.Fatalf("head %+v (%v) after a rolled-back record, want %+v", head, err, headBefore)
	}
	// A chaining pass that rolls back (here: with the transaction it chained in) leaves
	// the events unchained and the head where it was.
	err = db.Transact(ctx, func(ctx context.Context) error {
		if err := audit.NewRecorder(db).Record(ctx, a.ID, subaccounts.Change{Action: "account.update", ResourceType: "account", After: a}); err != nil {
			return err
		}
		if n, err := db.ChainAuditEvents(ctx, a.ID, 10); err != nil || n != 1 {
			return fmt.Errorf("chaining in the transaction: %d, %w", n, err)
		}
		return boom
	})
	wantErrIs(t, "failing transaction that chained", err, boom)
	if head, err := db.AuditHead(ctx, a.ID); err != nil || head != headBefore {
		t.Fatalf("head %+v (%v) after a rolled-back chaining, want %+v", head, err, headBefore)
	}
	record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", After: a})
	if evs := allEvents(t, db, a.ID); len(evs) != 2 || evs[1].Seq != 2 {
		t.Fatalf("after rolled-back records: %d events", len(evs))
	}
	wantValid(t, verify(t, db, a.ID), 2)

	// Inserting on the pool, outside Transact, works alike; so does chaining, in a
	// transaction of its own. What the event says of its links is ignored.
	ev := subaccounts.AuditEvent{ID: uuid.Must(uuid.NewV7()), AccountID: a.ID, Seq: 99, Hash: "forged", PrevHash: "forged", Action: "x.y", ResourceType: "x", CreatedAt: subaccounts.Now()}
	mustNil(t, "InsertAuditEvents on the pool", db.InsertAuditEvents(ctx, []subaccounts.AuditEvent{ev}))
	if n := unchained(t, db, a.ID); n != 1 {
		t.Fatalf("%d unchained events after an insert, want 1", n)
	}
	n, err := db.ChainAuditEvents(ctx, a.ID, 10)
	mustNil(t, "ChainAuditEvents on the pool", err)
	evs := allEvents(t, db, a.ID)
	if n != 1 || len(evs) != 3 || evs[2].ID != ev.ID || evs[2].Seq != 3 || evs[2].PrevHash != evs[1].Hash {
		t.Errorf("chained %d; events %+v, want the inserted one at seq 3", n, evs)
	}
	wantValid(t, verify(t, db, a.ID), 3)
}

// testAuditChainingBatches: events are chained in id (time) order, a batch at a time,
// each batch continuing from the head the one before left.
func testAuditChainingBatches(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	// Inserted out of id order, in two transactions.
	ids := make([]uuid.UUID, 7)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	ev := func(id uuid.UUID) subaccounts.AuditEvent {
		return subaccounts.AuditEvent{ID: id, AccountID: a.ID, Action: "x.y", ResourceType: "x", ResourceID: id.String(), CreatedAt: subaccounts.Now()}
	}
	mustNil(t, "insert", db.InsertAuditEvents(ctx, []subaccounts.AuditEvent{ev(ids[4]), ev(ids[0]), ev(ids[6])}))
	mustNil(t, "insert", db.InsertAuditEvents(ctx, []subaccounts.AuditEvent{ev(ids[2]), ev(ids[1]), ev(ids[5]), ev(ids[3])}))
	for _, want := range []int{3, 3, 1, 0} {
		n, err := db.ChainAuditEvents(ctx, a.ID, 3)
		mustNil(t, "ChainAuditEvents", err)
		if n != want {
			t.Fatalf("chained %d, want %d", n, want)
		}
	}
	evs := allEvents(t, db, a.ID)
	if len(evs) != len(ids) {
		t.Fatalf("%d events, want %d", len(evs), len(ids))
	}
	for i, e := range evs {
		if e.ID != ids[i] {
			t.Errorf("seq %d is event %s, want %s (id order)", e.Seq, e.ID, ids[i])
		}
	}
	wantValid(t, verify(t, db, a.ID), int64(len(ids)))
	// An account without events chains nothing and keeps an empty, intact chain.
	b := newAccount(t, db, "B")
	if n := chainAll(t, db, b.ID); n != 0 {
		t.Errorf("chaining an empty account linked %d", n)
	}
	wantValid(t, verify(t, db, b.ID), 0)
}

// auditViewed opts a type into the audit log with AuditView.
type auditViewed struct{ amount int64 }

func (v auditViewed) AuditView() any { return map[string]any{"amount": v.amount, "z": 1, "a": 2} }

type notViewable struct{ Secret string }

func testAuditSafeViews(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	sub := newSubaccount(t, db, a.ID, "Shop", gbrVisa...)
	card := cardValue(a.ID, sub.ID, "4111111111111111", "GBR", policy.Visa)
	client := newClient(t, db, a.ID, &sub.ID, subaccounts.Now())
	moved := card
	moved.Status = subaccounts.CardRemoved
	record(t, db, a.ID, alice,
		subaccounts.Change{Action: "card.remove", ResourceType: "card", ResourceID: card.ID.String(), Before: card, After: &moved},
		subaccounts.Change{Action: "client.revoke", ResourceType: "client", ResourceID: client.ID, Before: client, After: &client},
		subaccounts.Change{Action: "transfer.create", ResourceType: "transfer", ResourceID: "t1", After: auditViewed{amount: 1234}},
	)
	evs := allEvents(t, db, a.ID)
	if len(evs) != 3 {
		t.Fatalf("%d events", len(evs))
	}
	var stored strings.Builder
	for _, e := range evs {
		stored.Write(e.Before)
		stored.Write(e.After)
	}
	secrets := map[string]string{
		"fingerprint (hex)":    hex.EncodeToString(card.Fingerprint),
		"fingerprint (base64)": base64.StdEncoding.EncodeToString(card.Fingerprint),
		"fingerprint (raw)":    string(card.Fingerprint),
		"secret hash":          client.SecretHash,
		"PAN":                  "4111111111111111",
	}
	for what, s := range secrets {
		if strings.Contains(stored.String(), s) {
			t.Errorf("the stored before/after holds the %s", what)
		}
	}
	for _, key := range []string{`"fingerprint`, `"secretHash"`, `"SecretHash"`, `"Fingerprint"`} {
		if strings.Contains(stored.String(), key) {
			t.Errorf("the stored before/after has a %s member", key)
		}
	}
	var cardView, clientView map[string]any
	mustNil(t, "decode card", json.Unmarshal(evs[0].Before, &cardView))
	mustNil(t, "decode client", json.Unmarshal(evs[1].Before, &clientView))
	if cardView["firstNumbers"] != "411111" || cardView["lastNumbers"] != "1111" || cardView["network"] != "VISA" || cardView["status"] != "active" {
		t.Errorf("card view %v", cardView)
	}
	if clientView["clientId"] != client.ID || clientView["name"] != client.Name {
		t.Errorf("client view %v", clientView)
	}
	// AuditView output is kept canonically: compact, keys sorted.
	if got := string(evs[2].After); got != `{"a":2,"amount":1234,"z":1}` {
		t.Errorf("AuditView stored as %s", got)
	}

	// A type without an audit view is refused, and nothing is appended.
	err := db.Transact(ctx, func(ctx context.Context) error {
		return audit.NewRecorder(db).Record(ctx, a.ID, subaccounts.Change{Action: "x.y", ResourceType: "x", After: notViewable{Secret: "s3cr3t"}})
	})
	if err == nil || !strings.Contains(err.Error(), "no audit view") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("unknown type: %v", err)
	}
	if n := len(allEvents(t, db, a.ID)); n != 3 {
		t.Errorf("%d events after a refused record, want 3", n)
	}
}

func testAuditTampering(t *testing.T, db *store.DB) {
	ctx := t.Context()
	where := func(accountID uuid.UUID, seq int) string {
		return fmt.Sprintf("account_id = '%s' AND seq = %d", accountID, seq)
	}
	// chained makes an account with n chained events.
	chained := func(n int) (subaccounts.Account, []subaccounts.AuditEvent) {
		a := newAccount(t, db, "A "+uuid.NewString())
		for i := range n {
			record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", ResourceID: fmt.Sprint(i), After: a})
		}
		return a, allEvents(t, db, a.ID)
	}
	tests := []struct {
		name string
		// tamper returns the statements to run and the expected break.
		tamper func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string)
	}{
		{"changed after", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{`UPDATE audit_events SET after = '{"name":"forged"}' WHERE ` + where(a.ID, 5)}, 5, evs[4].ID, audit.AuditHashMismatch
		}},
		{"changed action", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{`UPDATE audit_events SET action = 'account.read' WHERE ` + where(a.ID, 2)}, 2, evs[1].ID, audit.AuditHashMismatch
		}},
		{"after reformatted but equal", nil},
		{"changed and rehashed", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			// A forger who recomputes the changed event's own hash breaks the next link.
			e := evs[3]
			e.Action = "account.read"
			h, _ := audit.ChainHash(e)
			return []string{fmt.Sprintf(`UPDATE audit_events SET action = 'account.read', hash = '%s' WHERE `, h) + where(a.ID, 4)},
				5, evs[4].ID, audit.AuditPrevHashMismatch
		}},
		{"deleted event", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{`DELETE FROM audit_events WHERE ` + where(a.ID, 6)}, 6, uuid.Nil, audit.AuditGap
		}},
		{"deleted first event", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{`DELETE FROM audit_events WHERE ` + where(a.ID, 1)}, 1, uuid.Nil, audit.AuditGap
		}},
		{"deleted last event", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{`DELETE FROM audit_events WHERE ` + where(a.ID, 7)}, 7, uuid.Nil, audit.AuditHeadPastEnd
		}},
		{"head deleted", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{fmt.Sprintf(`DELETE FROM audit_heads WHERE account_id = '%s'`, a.ID)}, 7, evs[6].ID, audit.AuditHeadMismatch
		}},
		{"moved to another account", func(a subaccounts.Account, evs []subaccounts.AuditEvent) ([]string, int64, uuid.UUID, string) {
			return []string{fmt.Sprintf(`UPDATE audit_events SET account_id = '%s' WHERE `, uuid.New()) + where(a.ID, 3)}, 3, uuid.Nil, audit.AuditGap
		}},
	}
	for _, tt := range tests {
		if tt.tamper == nil {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			a, evs := chained(7)
			wantValid(t, verify(t, db, a.ID), 7)
			stmts, seq, id, reason := tt.tamper(a, evs)
			mustNil(t, "tamper", store.TamperAudit(ctx, db, stmts...))
			wantBroken(t, verify(t, db, a.ID), seq, id, reason)
		})
	}
	t.Run("after reformatted but equal", func(t *testing.T) {
		// Whitespace and key order are not content: the canonical form ignores them.
		a, _ := chained(2)
		evs := allEvents(t, db, a.ID)
		var m map[string]any
		mustNil(t, "decode", json.Unmarshal(evs[0].After, &m))
		pretty, _ := json.MarshalIndent(m, "", "    ")
		pretty = bytes.ReplaceAll(pretty, []byte("'"), []byte("''"))
		mustNil(t, "reformat", store.TamperAudit(ctx, db, fmt.Sprintf("UPDATE audit_events SET after = '%s' WHERE ", pretty)+where(a.ID, 1)))
		wantValid(t, verify(t, db, a.ID), 2)
	})
}

func testAuditGuards(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", After: a})
	chainAll(t, db, a.ID)
	record(t, db, a.ID, alice, subaccounts.Change{Action: "account.update", ResourceType: "account", After: a})
	chainedEv := fmt.Sprintf(`account_id = '%s' AND seq = 1`, a.ID)
	unchainedEv := fmt.Sprintf(`account_id = '%s' AND hash IS NULL`, a.ID)
	link := fmt.Sprintf(`seq = 2, prev_hash = '%s', hash = '%s'`, strings.Repeat("1", 64), strings.Repeat("2", 64))
	refused := []struct{ name, stmt string }{
		{"update of a chained event", `UPDATE audit_events SET action = 'forged' WHERE ` + chainedEv},
		{"rechaining a chained event", `UPDATE audit_events SET hash = '` + strings.Repeat("3", 64) + `' WHERE ` + chainedEv},
		{"update of an unchained event's action", `UPDATE audit_events SET action = 'forged' WHERE ` + unchainedEv},
		{"chaining that also changes the action", `UPDATE audit_events SET ` + link + `, action = 'forged' WHERE ` + unchainedEv},
		{"chaining that also changes after", `UPDATE audit_events SET ` + link + `, after = NULL WHERE ` + unchainedEv},
		{"chaining without seq", fmt.Sprintf(`UPDATE audit_events SET prev_hash = '%s', hash = '%s' WHERE `, strings.Repeat("1", 64), strings.Repeat("2", 64)) + unchainedEv},
		{"delete of a chained event", `DELETE FROM audit_events WHERE ` + chainedEv},
		{"delete of an unchained event", `DELETE FROM audit_events WHERE ` + unchainedEv},
	}
	if db.Dialect() == "postgres" {
		refused = append(refused, struct{ name, stmt string }{"truncate", `TRUNCATE audit_events`})
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			err := store.ExecRaw(ctx, db, tt.stmt)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: %v, want the append-only refusal", tt.stmt, err)
			}
		})
	}
	if n := unchained(t, db, a.ID); n != 1 {
		t.Fatalf("%d unchained events after refused rewrites, want 1", n)
	}
	// The chaining write itself is allowed.
	if n := chainAll(t, db, a.ID); n != 1 {
		t.Fatalf("chained %d, want 1", n)
	}
	wantValid(t, verify(t, db, a.ID), 2)
	if evs := allEvents(t, db, a.ID); len(evs) != 2 || evs[0].Action != "account.update" || evs[1].Action != "account.update" {
		t.Errorf("events after refused rewrites: %+v", evs)
	}
	// Once chained, the raw chaining form is refused too.
	if err := store.ExecRaw(ctx, db, `UPDATE audit_events SET `+link+fmt.Sprintf(` WHERE account_id = '%s' AND seq = 2`, a.ID)); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("rechaining event 2: %v, want the append-only refusal", err)
	}
}
