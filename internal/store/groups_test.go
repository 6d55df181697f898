package store_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// TestGroupPath: the group path's reads and writes on every dialect — on PostgreSQL in
// a pgx transaction of its own, on SQLite in Transact's.
func TestGroupPath(t *testing.T) {
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []storeTest{
				{"LoadAndWrite", testGroupLoadAndWrite},
				{"RollsBack", testGroupRollsBack},
				{"OnlyGroupCalls", testGroupOnlyGroupCalls},
				{"Enrolment", testGroupEnrolment},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, storetest.Open(t, d))
				})
			}
		})
	}
}

// testGroupLoadAndWrite: LoadGroup finds the account, the stored messages by their full
// key, cards by id whatever their status and active cards by fingerprint, and the live
// subaccounts of those cards only; InsertTransactions skips a stored key; the events
// commit with the group.
func testGroupLoadAndWrite(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	other := newBucket(t, db, "other")
	removed := newCard(t, db, a, bk.sub.ID, "5555555555554444", "GBR", policy.Mastercard)
	removed.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, removed))
	gone := newSubaccount(t, db, a, "gone", gbrVisa...)
	goneCard := newCard(t, db, a, gone.ID, "4012888888881881", "GBR", policy.Visa)
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a, gone.ID))

	stored := txValue(a, "N-1", subaccounts.TxAuth, txBase)
	insertAll(t, db, stored, txValue(other.account.ID, "N-2", subaccounts.TxAuth, txBase))

	fresh := routedTo(txValue(a, "N-2", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	repeat := txValue(a, "N-1", subaccounts.TxAuth, txBase)
	ev := streamEvent(a, uuid.Must(uuid.NewV7()), txBase, true)
	var read subaccounts.GroupRead
	var ids []uuid.UUID
	err := db.TransactGroup(ctx, func(ctx context.Context) error {
		var err error
		read, err = db.LoadGroup(ctx, a, subaccounts.GroupQuery{
			Keys: []subaccounts.TransactionKey{
				{NetworkTransactionID: "N-1", Type: subaccounts.TxAuth},
				{NetworkTransactionID: "N-1", Type: subaccounts.TxClearing},
				{NetworkTransactionID: "N-2", Type: subaccounts.TxAuth}, // stored by the other tenant only
			},
			CardIDs:      []uuid.UUID{removed.ID, goneCard.ID, other.card.ID},
			Fingerprints: [][]byte{bk.card.Fingerprint, removed.Fingerprint},
		})
		if err != nil {
			return err
		}
		if ids, err = db.InsertTransactions(ctx, []subaccounts.Transaction{fresh, repeat}); err != nil {
			return err
		}
		return db.InsertEvents(ctx, []subaccounts.Event{ev}, nil)
	})
	mustNil(t, "TransactGroup", err)

	if read.Account == nil || read.Account.ID != a {
		t.Errorf("LoadGroup account = %+v, want %s", read.Account, a)
	}
	if got := idsOfTxs(read.Stored...); !slices.Equal(got, idsOfTxs(stored)) {
		t.Errorf("LoadGroup stored = %v, want only %s (N-1 auth)", got, stored.ID)
	} else {
		sameTransaction(t, read.Stored[0], stored)
	}
	var cards []uuid.UUID
	for _, c := range read.Cards {
		cards = append(cards, c.ID)
	}
	if want := sortIDs([]uuid.UUID{removed.ID, goneCard.ID, bk.card.ID}); !slices.Equal(sortIDs(cards), want) {
		t.Errorf("LoadGroup cards = %v, want %v (by id whatever the status, active by fingerprint, never another tenant's)", sortIDs(cards), want)
	}
	var subs []uuid.UUID
	for _, s := range read.Subaccounts {
		subs = append(subs, s.ID)
		if s.ID == bk.sub.ID && (s.ConfigVersion != bk.sub.ConfigVersion || len(s.Configurations) != len(bk.sub.Configurations)) {
			t.Errorf("LoadGroup subaccount = %+v, want its configuration version %d", s, bk.sub.ConfigVersion)
		}
	}
	if !slices.Equal(slices.Compact(sortIDs(subs)), []uuid.UUID{bk.sub.ID}) {
		t.Errorf("LoadGroup subaccounts = %v, want only the live %s", subs, bk.sub.ID)
	}
	if !slices.Equal(ids, []uuid.UUID{fresh.ID}) {
		t.Errorf("InsertTransactions = %v, want only the new %s", ids, fresh.ID)
	}
	got, err := db.GetTransaction(ctx, a, fresh.ID, false)
	mustNil(t, "GetTransaction", err)
	sameTransaction(t, got, fresh)
	if keys := pendingKeys(t, db, 10); !slices.Equal(keys, []string{keyOf(ev)}) {
		t.Errorf("events after the group = %v, want %v", keys, []string{keyOf(ev)})
	}
}

// testGroupRollsBack: a group whose fn fails, or whose events (sent with the COMMIT)
// fail, leaves nothing behind, and the connections it used serve later groups: more
// failed groups than the pool has connections.
func testGroupRollsBack(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	refused := errors.New("refused")
	for i := range store.DefaultMaxConns + 4 {
		m := routedTo(txValue(a, "R-"+uuid.NewString(), subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
		err := db.TransactGroup(ctx, func(ctx context.Context) error {
			if _, err := db.LoadGroup(ctx, a, subaccounts.GroupQuery{Keys: []subaccounts.TransactionKey{m.Key()}}); err != nil {
				return err
			}
			if _, err := db.InsertTransactions(ctx, []subaccounts.Transaction{m}); err != nil {
				return err
			}
			if i%2 == 0 {
				return refused
			}
			// A delivery of a status that does not exist breaks a check constraint.
			ev := streamEvent(a, uuid.Must(uuid.NewV7()), txBase, false)
			d := subaccounts.Delivery{
				AccountID: a, ID: uuid.Must(uuid.NewV7()), EndpointID: uuid.New(), EventID: ev.ID, EventType: ev.Type,
				Status: "sent-somewhere", MaxAttempts: 3, CreatedAt: txBase, UpdatedAt: txBase,
			}
			return db.InsertEvents(ctx, []subaccounts.Event{ev}, []subaccounts.Delivery{d})
		})
		switch {
		case i%2 == 0 && !errors.Is(err, refused):
			t.Fatalf("group %d: TransactGroup = %v, want fn's error", i, err)
		case err == nil:
			t.Fatalf("group %d: TransactGroup with a broken delivery = nil, want an error", i)
		}
		if _, err := db.GetTransaction(ctx, a, m.ID, false); !errors.Is(err, subaccounts.ErrNotFound) {
			t.Fatalf("group %d: the failed group's message: %v, want not found", i, err)
		}
	}
	m := routedTo(txValue(a, "after", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	err := db.TransactGroup(ctx, func(ctx context.Context) error {
		_, err := db.InsertTransactions(ctx, []subaccounts.Transaction{m})
		return err
	})
	mustNil(t, "TransactGroup after the failures", err)
	if _, err := db.GetTransaction(ctx, a, m.ID, false); err != nil {
		t.Fatalf("the group after the failures: %v", err)
	}
	if keys := pendingKeys(t, db, 10); len(keys) != 0 {
		t.Errorf("events of failed groups = %v, want none", keys)
	}
}

// testGroupOnlyGroupCalls: in PostgreSQL's group transaction a store call the group
// path does not cover fails rather than run outside the transaction; on SQLite the
// group transaction is Transact's and every call works.
func testGroupOnlyGroupCalls(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	var getErr, nestedErr error
	inTx := false
	err := db.TransactGroup(ctx, func(ctx context.Context) error {
		inTx = db.InTransaction(ctx)
		_, getErr = db.GetSubaccount(ctx, bk.account.ID, bk.sub.ID)
		nestedErr = db.Transact(ctx, func(ctx context.Context) error { return nil })
		return nil
	})
	mustNil(t, "TransactGroup", err)
	if !inTx {
		t.Error("InTransaction in a group transaction = false")
	}
	if db.Dialect() == "sqlite" {
		mustNil(t, "GetSubaccount in SQLite's group transaction", getErr)
		mustNil(t, "Transact in SQLite's group transaction", nestedErr)
		return
	}
	for name, err := range map[string]error{"GetSubaccount": getErr, "Transact": nestedErr} {
		if err == nil || !strings.Contains(err.Error(), "group transaction") {
			t.Errorf("%s in a group transaction = %v, want it refused", name, err)
		}
	}
}

// TestGroupReadsUseUniqueKeys: the group path's look-ups keep to the unique keys under a
// generic plan on tables without statistics, where an IN list's plan scanned an
// account's whole history.
func TestGroupReadsUseUniqueKeys(t *testing.T) {
	if !slices.Contains(storetest.Dialects(t), "postgres") {
		t.Skip("PostgreSQL only: set TEST_DATABASE_URL")
	}
	db := storetest.Open(t, "postgres")
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	cardsOf := []string{"cards_pkey", "cards_active_fingerprint_key"}
	// The indexes each look-up may use, by table: only the unique keys.
	want := map[string]map[string][]string{
		"stored":               {"transactions": {"transactions_message_key"}},
		"cards":                {"cards": cardsOf},
		"subaccounts":          {"cards": cardsOf, "subaccounts": {"subaccounts_pkey"}},
		"enrolment subaccount": {"subaccounts": {"subaccounts_pkey"}},
	}
	using := regexp.MustCompile(`(Seq Scan|using (\w+)) on (\w+)`)
	// analysed says the planner knows the tables' sizes: 41 subaccounts fit in two
	// pages, which it then rightly reads whole.
	check := func(when string, analysed bool) {
		t.Helper()
		plans, err := db.ExplainGroupReads(ctx, bk.account.ID)
		mustNil(t, "ExplainGroupReads", err)
		if len(plans) != len(want) {
			t.Fatalf("%d plans, want %d", len(plans), len(want))
		}
		for _, p := range plans {
			seen := map[string]bool{}
			for _, u := range using.FindAllStringSubmatch(p.Plan, -1) {
				allowed, ok := want[p.Name][u[3]]
				if !ok {
					continue // unnest's function scans
				}
				seen[u[3]] = true
				if u[1] == "Seq Scan" && u[3] == "subaccounts" && analysed {
					continue
				}
				if !slices.Contains(allowed, u[2]) {
					t.Errorf("%s: the generic plan of %s reads %s by %q, want %v:\n%s", when, p.Name, u[3], u[1], allowed, p.Plan)
				}
			}
			for table := range want[p.Name] {
				if !seen[table] {
					t.Errorf("%s: the generic plan of %s does not read %s:\n%s", when, p.Name, table, p.Plan)
				}
			}
		}
	}
	// An empty table, never analysed: every index leading with account_id costs the
	// same, and the planner takes the newest of equals (see migration 00011).
	check("empty tables", false)

	var txs []subaccounts.Transaction
	for i := range 2000 {
		txs = append(txs, routedTo(txValue(bk.account.ID, "H-"+uuid.NewString(), subaccounts.TxAuth, txBase.Add(time.Duration(i)*time.Second)), bk.card, subaccounts.InPolicy))
	}
	insertAll(t, db, txs...)
	var cards []subaccounts.Card
	for i := range 2000 {
		c := bk.card
		c.ID = uuid.Must(uuid.NewV7())
		c.Fingerprint = fingerprintOf(fmt.Sprintf("4000%012d", i))
		cards = append(cards, c)
	}
	_, err := db.CreateCards(ctx, cards)
	mustNil(t, "CreateCards", err)
	for i := range 40 {
		newSubaccount(t, db, bk.account.ID, fmt.Sprintf("sub %d", i), gbrVisa...)
	}
	check("filled, not analysed", false)
	mustNil(t, "ANALYZE", db.Analyze(ctx))
	check("filled and analysed", true)
}

// testGroupEnrolment: an enrolment's reads, insert and audit event in a group
// transaction — an unknown or deleted subaccount is not found, an active fingerprint is
// skipped, and the audit event commits with the card.
func testGroupEnrolment(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	gone := newSubaccount(t, db, a, "gone", gbrVisa...)
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a, gone.ID))
	for name, sub := range map[string]uuid.UUID{"unknown": uuid.New(), "deleted": gone.ID, "other tenant's": newBucket(t, db, "other").sub.ID} {
		err := db.TransactGroup(ctx, func(ctx context.Context) error {
			_, _, err := db.LoadEnrolment(ctx, a, sub)
			return err
		})
		if !errors.Is(err, subaccounts.ErrNotFound) {
			t.Errorf("LoadEnrolment of the %s subaccount = %v, want not found", name, err)
		}
	}

	fresh := cardValue(a, bk.sub.ID, "5555555555554444", "GBR", policy.Mastercard)
	again := cardValue(a, bk.sub.ID, "4111111111111111", "GBR", policy.Visa) // bk.card's number
	var ids []uuid.UUID
	var held []subaccounts.Card
	err := db.TransactGroup(ctx, func(ctx context.Context) error {
		acct, sub, err := db.LoadEnrolment(ctx, a, bk.sub.ID)
		if err != nil {
			return err
		}
		if acct.ID != a || sub.ID != bk.sub.ID || sub.ConfigVersion != bk.sub.ConfigVersion {
			t.Errorf("LoadEnrolment = %s/%s v%d, want %s/%s v%d", acct.ID, sub.ID, sub.ConfigVersion, a, bk.sub.ID, bk.sub.ConfigVersion)
		}
		if ids, err = db.CreateCards(ctx, []subaccounts.Card{fresh, again}); err != nil {
			return err
		}
		if held, err = db.ActiveCardsByFingerprint(ctx, a, [][]byte{again.Fingerprint}); err != nil {
			return err
		}
		return db.InsertAuditEvents(ctx, []subaccounts.AuditEvent{{
			ID: uuid.Must(uuid.NewV7()), AccountID: a, ActorSubject: "s", ActorClientID: "c", Action: "card.enrol",
			ResourceType: "card", ResourceID: fresh.ID.String(), After: []byte(`{"id":"` + fresh.ID.String() + `"}`),
			RequestID: "r", CreatedAt: txBase,
		}})
	})
	mustNil(t, "TransactGroup", err)
	if !slices.Equal(ids, []uuid.UUID{fresh.ID}) {
		t.Errorf("CreateCards = %v, want only the new %s", ids, fresh.ID)
	}
	if len(held) != 1 || held[0].ID != bk.card.ID {
		t.Errorf("ActiveCardsByFingerprint = %v, want the holder %s", held, bk.card.ID)
	}
	got, err := db.GetCard(ctx, a, fresh.ID, false)
	mustNil(t, "GetCard", err)
	sameCard(t, got, fresh)
	// The log lists chained events only.
	n, err := db.ChainAuditEvents(ctx, a, 10)
	mustNil(t, "ChainAuditEvents", err)
	if n != 1 {
		t.Errorf("ChainAuditEvents chained %d, want the enrolment's 1", n)
	}
	evs, err := db.ListAuditEvents(ctx, a, subaccounts.AuditFilter{}, subaccounts.Page{Limit: 10})
	mustNil(t, "ListAuditEvents", err)
	if len(evs) != 1 || evs[0].ResourceID != fresh.ID.String() || !strings.Contains(string(evs[0].After), fresh.ID.String()) {
		t.Errorf("audit events after the group = %+v, want the enrolment's", evs)
	}
}

// TestGroupsHoldOneConnection: a group transaction makes every read it needs on its own
// connection, the webhook subscriptions' included, so as many groups as the pool has
// connections cannot wait on each other for another one.
func TestGroupsHoldOneConnection(t *testing.T) {
	if !slices.Contains(storetest.Dialects(t), "postgres") {
		t.Skip("PostgreSQL only: set TEST_DATABASE_URL")
	}
	const conns = 2
	db, err := store.OpenPostgres(t.Context(), storetest.PostgresURL(t), store.Options{SkipMigrations: true, MaxConns: conns})
	mustNil(t, "OpenPostgres", err)
	t.Cleanup(func() { _ = db.Close() })
	bk := newBucket(t, db, "acct")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	inside := make(chan struct{}, conns)
	errs := make(chan error, conns)
	for range conns {
		go func() {
			errs <- db.TransactGroup(ctx, func(ctx context.Context) error {
				if _, _, err := db.LoadEnrolment(ctx, bk.account.ID, bk.sub.ID); err != nil {
					return err
				}
				// Every connection is now held by a group.
				inside <- struct{}{}
				for len(inside) < conns {
					time.Sleep(time.Millisecond)
				}
				_, err := db.EnabledWebhookEndpoints(ctx, bk.account.ID)
				return err
			})
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Errorf("TransactGroup with every connection held: %v", err)
		}
	}
}
