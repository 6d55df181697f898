package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func transactionTests() []storeTest {
	return []storeTest{
		{"Transaction/RoundTrip", testTransactionRoundTrip},
		{"Transaction/InsertNone", testTransactionInsertNone},
		{"Transaction/DuplicateKeySkipped", testTransactionDuplicateKey},
		{"Transaction/ConcurrentInsertsOfSameKeys", testTransactionConcurrentInserts},
		{"Transaction/ManyInOneCall", testTransactionManyInOneCall},
		{"Transaction/RoutingStateIsChecked", testTransactionRoutingCheck},
		{"Transaction/ByKey", testTransactionByKey},
		{"Transaction/GetUnknown", testTransactionGetUnknown},
		{"Transaction/ListFilters", testTransactionListFilters},
		{"Transaction/ListTimeWindow", testTransactionListTimeWindow},
		{"Transaction/ListPagesStableUnderInserts", testTransactionListPages},
		{"Transaction/Lifecycle", testTransactionLifecycle},
		{"Transaction/Route", testTransactionRoute},
		{"Transaction/UpdateUnroutedReason", testTransactionUpdateReason},
		{"Transaction/DifferentTenant", testTransactionDifferentTenant},
	}
}

// txBase is a time with a zero fractional second, which SQLite stores without one.
var txBase = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

// txValue returns an unrouted message that named an unknown PAN, not yet stored.
func txValue(accountID uuid.UUID, ntid string, typ subaccounts.TransactionType, at time.Time) subaccounts.Transaction {
	return subaccounts.Transaction{
		ID:                   uuid.Must(uuid.NewV7()),
		AccountID:            accountID,
		NetworkTransactionID: ntid,
		Type:                 typ,
		Amount:               1999,
		Currency:             "GBP",
		Datetime:             at,
		Merchant:             subaccounts.Merchant{Name: "Corner Shop", MCC: "5411", CountryCode: "GBR", City: "London"},
		AuthCode:             "A1B2C3",
		ReceivedAt:           at.Add(250 * time.Millisecond),
		Routing:              subaccounts.Unrouted,
		UnroutedReason:       subaccounts.ReasonCardUnknown,
		CardFingerprint:      fingerprintOf("4111111111111111"),
	}
}

// routedTo returns t routed to card's bucket with the given policy status.
func routedTo(t subaccounts.Transaction, c subaccounts.Card, ps subaccounts.PolicyStatus) subaccounts.Transaction {
	t.Routing = subaccounts.Routed
	t.UnroutedReason = ""
	t.CardFingerprint = nil
	t.SubaccountID = c.SubaccountID
	t.CardID = c.ID
	t.CardCountry = c.CountryCode
	t.CardNetwork = c.Network
	t.RoutedAt = t.ReceivedAt.Add(3 * time.Millisecond)
	t.ConfigVersion = 3
	t.PolicyStatus = ps
	return t
}

// insertAll stores txs and fails unless every one was inserted.
func insertAll(t *testing.T, db *store.DB, txs ...subaccounts.Transaction) {
	t.Helper()
	ids, err := db.InsertTransactions(t.Context(), txs)
	mustNil(t, "InsertTransactions", err)
	if len(ids) != len(txs) {
		t.Fatalf("InsertTransactions inserted %d of %d", len(ids), len(txs))
	}
}

// sameTransaction reports the differences between two messages; times compare by instant.
func sameTransaction(t *testing.T, got, want subaccounts.Transaction) {
	t.Helper()
	for _, p := range []struct {
		name      string
		got, want time.Time
	}{{"Datetime", got.Datetime, want.Datetime}, {"ReceivedAt", got.ReceivedAt, want.ReceivedAt}, {"RoutedAt", got.RoutedAt, want.RoutedAt}} {
		if !p.got.Equal(p.want) {
			t.Errorf("transaction %s %s = %v, want %v", want.NetworkTransactionID, p.name, p.got, p.want)
		}
	}
	got.Datetime, got.ReceivedAt, got.RoutedAt = time.Time{}, time.Time{}, time.Time{}
	want.Datetime, want.ReceivedAt, want.RoutedAt = time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("transaction =\n  %+v\nwant\n  %+v", got, want)
	}
}

func txIDs(txs []subaccounts.Transaction) []uuid.UUID {
	out := make([]uuid.UUID, len(txs))
	for i, t := range txs {
		out[i] = t.ID
	}
	return out
}

// idsOfTxs returns the ids of txs in id order, the order every list is in.
func idsOfTxs(txs ...subaccounts.Transaction) []uuid.UUID { return sortIDs(txIDs(txs)) }

// bucket is an account with one subaccount and one card to route messages to.
type bucket struct {
	account subaccounts.Account
	sub     subaccounts.Subaccount
	card    subaccounts.Card
}

func newBucket(t *testing.T, db *store.DB, name string) bucket {
	t.Helper()
	a := newAccount(t, db, name)
	s := newSubaccount(t, db, a.ID, name+" sub", gbrVisa...)
	c := newCard(t, db, a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)
	return bucket{a, s, c}
}

func testTransactionRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	requested := bk.card.ID
	unknownCard := uuid.Must(uuid.NewV7())

	routed := routedTo(txValue(a, "ntid-routed ünïcode", subaccounts.TxClearing, txBase.Add(123*time.Millisecond)), bk.card, subaccounts.OutOfPolicy)
	routed.Amount = 9_007_199_254_740_993 // beyond float64's exact integers
	routed.Currency = "EUR"
	routed.Merchant = subaccounts.Merchant{Name: "Café \"Zürich\"", MCC: "5812", CountryCode: "CHE", City: "Zürich"}
	routed.RequestedCardID = &requested
	routed.ConfigVersion = 1 << 40
	unroutedByPAN := txValue(a, "ntid-pan", subaccounts.TxAuth, txBase)
	unroutedByPAN.Merchant.City = "" // optional fields absent
	unroutedByPAN.AuthCode = ""
	unroutedByID := txValue(a, "ntid-id", subaccounts.TxRefund, txBase.Add(time.Second))
	unroutedByID.RequestedCardID = &unknownCard
	unroutedByID.CardFingerprint = nil
	unroutedByID.UnroutedReason = subaccounts.ReasonCardRemoved
	unroutedByID.Amount = 0
	all := []subaccounts.Transaction{routed, unroutedByPAN, unroutedByID}
	insertAll(t, db, all...)

	for _, want := range all {
		t.Run(want.NetworkTransactionID, func(t *testing.T) {
			got, err := db.GetTransaction(ctx, a, want.ID, false)
			mustNil(t, "GetTransaction", err)
			sameTransaction(t, got, want)
			mustNil(t, "Transact", db.Transact(ctx, func(ctx context.Context) error {
				got, err = db.GetTransaction(ctx, a, want.ID, true)
				return err
			}))
			sameTransaction(t, got, want)
			byKey, err := db.TransactionsByKey(ctx, a, []subaccounts.TransactionKey{want.Key()})
			mustNil(t, "TransactionsByKey", err)
			if len(byKey) != 1 {
				t.Fatalf("TransactionsByKey = %d messages, want 1", len(byKey))
			}
			sameTransaction(t, byKey[0], want)
		})
	}
	list, err := db.ListTransactions(ctx, a, subaccounts.TransactionFilter{}, subaccounts.Page{Limit: 10})
	mustNil(t, "ListTransactions", err)
	if len(list) != len(all) {
		t.Fatalf("ListTransactions = %d messages, want %d", len(list), len(all))
	}
	for i, want := range all { // ids are UUIDv7 made in this order
		sameTransaction(t, list[i], want)
	}
	life, err := db.Lifecycle(ctx, a, routed.NetworkTransactionID)
	mustNil(t, "Lifecycle", err)
	if len(life) != 1 {
		t.Fatalf("Lifecycle = %d messages, want 1", len(life))
	}
	sameTransaction(t, life[0], routed)
}

func testTransactionInsertNone(t *testing.T, db *store.DB) {
	ctx := t.Context()
	for _, txs := range [][]subaccounts.Transaction{nil, {}} {
		ids, err := db.InsertTransactions(ctx, txs)
		mustNil(t, "InsertTransactions(none)", err)
		if len(ids) != 0 {
			t.Errorf("InsertTransactions(none) = %v", ids)
		}
	}
	a := newAccount(t, db, "acct")
	got, err := db.TransactionsByKey(ctx, a.ID, nil)
	mustNil(t, "TransactionsByKey(none)", err)
	if len(got) != 0 {
		t.Errorf("TransactionsByKey(none) = %d messages", len(got))
	}
}

func testTransactionDuplicateKey(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	first := txValue(a.ID, "n1", subaccounts.TxAuth, txBase)
	other := txValue(a.ID, "n1", subaccounts.TxClearing, txBase) // same id, other type: another message
	insertAll(t, db, first, other)

	repeat := txValue(a.ID, "n1", subaccounts.TxAuth, txBase.Add(time.Hour))
	repeat.Amount = 1
	n2 := txValue(a.ID, "n2", subaccounts.TxAuth, txBase)
	n2Again := txValue(a.ID, "n2", subaccounts.TxAuth, txBase) // repeated inside one call
	refund := txValue(a.ID, "n1", subaccounts.TxRefund, txBase)
	ids, err := db.InsertTransactions(ctx, []subaccounts.Transaction{repeat, n2, n2Again, refund})
	mustNil(t, "InsertTransactions", err)
	if got, want := sortIDs(ids), idsOfTxs(n2, refund); !slices.Equal(got, want) {
		t.Errorf("InsertTransactions = %v, want only the new keys' ids %v", got, want)
	}

	got, err := db.TransactionsByKey(ctx, a.ID, []subaccounts.TransactionKey{first.Key(), n2.Key()})
	mustNil(t, "TransactionsByKey", err)
	if want := idsOfTxs(first, n2); !slices.Equal(sortIDs(txIDs(got)), want) {
		t.Errorf("stored messages = %v, want the first of each key %v", txIDs(got), want)
	}
	for _, skipped := range []subaccounts.Transaction{repeat, n2Again} {
		_, err := db.GetTransaction(ctx, a.ID, skipped.ID, false)
		wantErrIs(t, "GetTransaction(skipped)", err, subaccounts.ErrNotFound)
	}

	// A reused id under a new key is an error, not a silent skip.
	reused := txValue(a.ID, "n3", subaccounts.TxAuth, txBase)
	reused.ID = first.ID
	_, err = db.InsertTransactions(ctx, []subaccounts.Transaction{reused})
	wantErrIs(t, "InsertTransactions(reused id)", err, subaccounts.ErrConflict)
}

// testTransactionConcurrentInserts has 8 writers store the same keys at once, each in its
// own transaction: exactly one row per key survives, and the writers' returned ids are
// exactly the stored rows.
func testTransactionConcurrentInserts(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	const writers, keys = 8, 20
	returned := make([][]uuid.UUID, writers)
	errs := make([]error, writers)
	together := newBarrier(db, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			txs := make([]subaccounts.Transaction, keys)
			for k := range txs {
				txs[k] = txValue(a.ID, fmt.Sprintf("key-%02d", k), subaccounts.TxAuth, txBase)
			}
			errs[w] = db.Transact(ctx, func(ctx context.Context) error {
				if err := together.wait(); err != nil {
					return err
				}
				var err error
				returned[w], err = db.InsertTransactions(ctx, txs)
				return err
			})
		})
	}
	wg.Wait()
	mustNil(t, "Transact", errors.Join(errs...))

	var all []uuid.UUID
	for _, ids := range returned {
		all = append(all, ids...)
	}
	stored, err := db.ListTransactions(ctx, a.ID, subaccounts.TransactionFilter{}, subaccounts.Page{Limit: 1000})
	mustNil(t, "ListTransactions", err)
	perKey := map[string]int{}
	for _, s := range stored {
		perKey[s.NetworkTransactionID]++
	}
	if len(stored) != keys || len(perKey) != keys {
		t.Errorf("%d writers of %d keys stored %d rows over %d keys, want one row per key", writers, keys, len(stored), len(perKey))
	}
	if !slices.Equal(sortIDs(all), idsOfTxs(stored...)) {
		t.Errorf("the writers were told %d ids were inserted; %d rows are stored", len(all), len(stored))
	}
}

func testTransactionManyInOneCall(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	var txs []subaccounts.Transaction
	for i := range 1100 {
		tx := txValue(bk.account.ID, fmt.Sprintf("bulk-%04d", i), subaccounts.TxAuth, txBase.Add(time.Duration(i)*time.Millisecond))
		if i%2 == 0 {
			tx = routedTo(tx, bk.card, subaccounts.InPolicy)
		}
		txs = append(txs, tx)
	}
	// Repeats of rows of the first chunk in the last one.
	for _, tx := range txs[:50] {
		again := tx
		again.ID = uuid.Must(uuid.NewV7())
		txs = append(txs, again)
	}
	ids, err := db.InsertTransactions(ctx, txs)
	mustNil(t, "InsertTransactions", err)
	if want := idsOfTxs(txs[:1100]...); !slices.Equal(sortIDs(ids), want) {
		t.Errorf("InsertTransactions returned %d ids, want the %d first messages' ids", len(ids), len(want))
	}
	keys := make([]subaccounts.TransactionKey, 0, len(txs))
	for _, tx := range txs {
		keys = append(keys, tx.Key())
	}
	got, err := db.TransactionsByKey(ctx, bk.account.ID, keys)
	mustNil(t, "TransactionsByKey", err)
	if len(got) != 1100 {
		t.Errorf("TransactionsByKey = %d messages, want 1100", len(got))
	}
}

func testTransactionRoutingCheck(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	noPolicy := routedTo(txValue(a, "x1", subaccounts.TxAuth, txBase), bk.card, "")
	noReason := txValue(a, "x2", subaccounts.TxAuth, txBase)
	noReason.UnroutedReason = ""
	for name, tx := range map[string]subaccounts.Transaction{"routed without a policy status": noPolicy, "unrouted without a reason": noReason} {
		if _, err := db.InsertTransactions(ctx, []subaccounts.Transaction{tx}); err == nil {
			t.Errorf("InsertTransactions(%s) = nil error, want the routing CHECK to refuse it", name)
		}
	}
	// Fields of the other routing state are not stored.
	mixed := routedTo(txValue(a, "x3", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	mixed.UnroutedReason = subaccounts.ReasonCardUnknown
	mixed.CardFingerprint = []byte{1}
	insertAll(t, db, mixed)
	got, err := db.GetTransaction(ctx, a, mixed.ID, false)
	mustNil(t, "GetTransaction", err)
	if got.UnroutedReason != "" || got.CardFingerprint != nil {
		t.Errorf("routed message kept reason %q and fingerprint %x", got.UnroutedReason, got.CardFingerprint)
	}
}

func testTransactionByKey(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	auth := routedTo(txValue(a, "n1", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	clearing := txValue(a, "n1", subaccounts.TxClearing, txBase)
	n2 := txValue(a, "n2", subaccounts.TxAuth, txBase)
	insertAll(t, db, auth, clearing, n2)

	key := func(ntid string, typ subaccounts.TransactionType) subaccounts.TransactionKey {
		return subaccounts.TransactionKey{NetworkTransactionID: ntid, Type: typ}
	}
	tests := []struct {
		name string
		keys []subaccounts.TransactionKey
		want []subaccounts.Transaction
	}{
		{"one key of a shared network id", []subaccounts.TransactionKey{key("n1", subaccounts.TxAuth)}, []subaccounts.Transaction{auth}},
		{"both keys, routed and unrouted", []subaccounts.TransactionKey{key("n1", subaccounts.TxAuth), key("n1", subaccounts.TxClearing)}, []subaccounts.Transaction{auth, clearing}},
		{"a type not stored", []subaccounts.TransactionKey{key("n2", subaccounts.TxRefund)}, nil},
		{"a network id and a type of two other messages", []subaccounts.TransactionKey{key("n2", subaccounts.TxClearing), key("n1", subaccounts.TxRefund)}, nil},
		{"repeated keys", []subaccounts.TransactionKey{key("n2", subaccounts.TxAuth), key("n2", subaccounts.TxAuth)}, []subaccounts.Transaction{n2}},
		{"unknown network id", []subaccounts.TransactionKey{key("n9", subaccounts.TxAuth)}, nil},
		{"network id differs in case", []subaccounts.TransactionKey{key("N1", subaccounts.TxAuth)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.TransactionsByKey(ctx, a, tc.keys)
			mustNil(t, "TransactionsByKey", err)
			if want := idsOfTxs(tc.want...); !slices.Equal(sortIDs(txIDs(got)), want) {
				t.Errorf("TransactionsByKey = %v, want %v", txIDs(got), want)
			}
		})
	}
}

func testTransactionGetUnknown(t *testing.T, db *store.DB) {
	a := newAccount(t, db, "acct")
	insertAll(t, db, txValue(a.ID, "n1", subaccounts.TxAuth, txBase))
	_, err := db.GetTransaction(t.Context(), a.ID, uuid.Must(uuid.NewV7()), false)
	wantErrIs(t, "GetTransaction(unknown)", err, subaccounts.ErrNotFound)
	if err == nil || !strings.Contains(err.Error(), "transaction") {
		t.Errorf("GetTransaction(unknown) = %v, want it to name the transaction", err)
	}
}

func testTransactionListFilters(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s1 := newSubaccount(t, db, a.ID, "one", contractAll...)
	s2 := newSubaccount(t, db, a.ID, "two", contractAll...)
	c1 := newCard(t, db, a.ID, s1.ID, "4000000000000001", "GBR", policy.Visa)
	c1b := newCard(t, db, a.ID, s1.ID, "5100000000000002", "FRA", policy.Mastercard)
	c2 := newCard(t, db, a.ID, s2.ID, "4000000000000003", "USA", policy.Visa)

	r1 := routedTo(txValue(a.ID, "n1", subaccounts.TxAuth, txBase), c1, subaccounts.InPolicy)
	r2 := routedTo(txValue(a.ID, "n1", subaccounts.TxClearing, txBase.Add(time.Hour)), c1, subaccounts.InPolicy)
	r3 := routedTo(txValue(a.ID, "n2", subaccounts.TxAuth, txBase.Add(2*time.Hour)), c1b, subaccounts.OutOfPolicy)
	r4 := routedTo(txValue(a.ID, "n3", subaccounts.TxRefund, txBase.Add(3*time.Hour)), c2, subaccounts.InPolicy)
	u1 := txValue(a.ID, "n4", subaccounts.TxAuth, txBase.Add(30*time.Minute))
	u2 := txValue(a.ID, "n5", subaccounts.TxRefund, txBase.Add(4*time.Hour))
	insertAll(t, db, r1, r2, r3, r4, u1, u2)
	b := newBucket(t, db, "other tenant")
	insertAll(t, db, routedTo(txValue(b.account.ID, "n1", subaccounts.TxAuth, txBase), b.card, subaccounts.InPolicy))

	ptr := func(id uuid.UUID) *uuid.UUID { return &id }
	type f = subaccounts.TransactionFilter
	tests := []struct {
		name   string
		filter f
		want   []subaccounts.Transaction
	}{
		{"no filter", f{}, []subaccounts.Transaction{r1, r2, r3, r4, u1, u2}},
		{"routed", f{Routing: subaccounts.Routed}, []subaccounts.Transaction{r1, r2, r3, r4}},
		{"unrouted", f{Routing: subaccounts.Unrouted}, []subaccounts.Transaction{u1, u2}},
		{"subaccount", f{SubaccountID: ptr(s1.ID)}, []subaccounts.Transaction{r1, r2, r3}},
		{"other subaccount", f{SubaccountID: ptr(s2.ID)}, []subaccounts.Transaction{r4}},
		{"another tenant's subaccount", f{SubaccountID: ptr(b.sub.ID)}, nil},
		{"card", f{CardID: ptr(c1.ID)}, []subaccounts.Transaction{r1, r2}},
		{"card of another subaccount", f{SubaccountID: ptr(s2.ID), CardID: ptr(c1.ID)}, nil},
		{"type", f{Type: subaccounts.TxAuth}, []subaccounts.Transaction{r1, r3, u1}},
		{"type and routing", f{Type: subaccounts.TxRefund, Routing: subaccounts.Unrouted}, []subaccounts.Transaction{u2}},
		{"unrouted in a subaccount", f{Routing: subaccounts.Unrouted, SubaccountID: ptr(s1.ID)}, nil},
		{"from", f{From: txBase.Add(time.Hour)}, []subaccounts.Transaction{r2, r3, r4, u2}},
		{"to", f{To: txBase.Add(time.Hour)}, []subaccounts.Transaction{r1, u1}},
		{"from and to", f{From: txBase.Add(30 * time.Minute), To: txBase.Add(3 * time.Hour)}, []subaccounts.Transaction{r2, r3, u1}},
		{"everything at once", f{Routing: subaccounts.Routed, SubaccountID: ptr(s1.ID), CardID: ptr(c1b.ID), Type: subaccounts.TxAuth, From: txBase, To: txBase.Add(5 * time.Hour)}, []subaccounts.Transaction{r3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListTransactions(ctx, a.ID, tc.filter, subaccounts.Page{Limit: 100})
			mustNil(t, "ListTransactions", err)
			if want := idsOfTxs(tc.want...); !slices.Equal(txIDs(got), want) {
				t.Errorf("ListTransactions(%+v) = %v, want %v", tc.filter, txIDs(got), want)
			}
		})
	}
}

// testTransactionListTimeWindow uses times that differ only in milliseconds, with and
// without a fractional second. SQLite stores "…:07Z" and "…:07.5Z", which compare wrongly
// as text ('Z' sorts after '.'), so a plain text comparison fails most of these cases.
func testTransactionListTimeWindow(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	ms := time.Millisecond
	offsets := []time.Duration{-ms, 0, ms, 10 * ms, 100 * ms, 500 * ms, 999 * ms, time.Second, time.Second + ms}
	byOffset := map[time.Duration]subaccounts.Transaction{}
	var txs []subaccounts.Transaction
	for i, off := range offsets {
		tx := txValue(a.ID, fmt.Sprintf("t%d", i), subaccounts.TxAuth, txBase.Add(off))
		byOffset[off] = tx
		txs = append(txs, tx)
	}
	// Inserted in reverse, so id order and time order differ.
	rev := slices.Clone(txs)
	slices.Reverse(rev)
	insertAll(t, db, rev...)

	at := func(d time.Duration) time.Time { return txBase.Add(d) }
	zurich := time.FixedZone("CEST", 2*60*60)
	tests := []struct {
		name     string
		from, to time.Time
		want     []time.Duration
	}{
		{"from a whole second", at(0), time.Time{}, []time.Duration{0, ms, 10 * ms, 100 * ms, 500 * ms, 999 * ms, time.Second, time.Second + ms}},
		{"from a half second excludes the whole second before it", at(500 * ms), time.Time{}, []time.Duration{500 * ms, 999 * ms, time.Second, time.Second + ms}},
		{"to a half second includes the whole second before it", time.Time{}, at(500 * ms), []time.Duration{-ms, 0, ms, 10 * ms, 100 * ms}},
		{"to a whole second is exclusive", time.Time{}, at(time.Second), []time.Duration{-ms, 0, ms, 10 * ms, 100 * ms, 500 * ms, 999 * ms}},
		{"one millisecond", at(10 * ms), at(11 * ms), []time.Duration{10 * ms}},
		{"10ms to 100ms", at(10 * ms), at(100 * ms), []time.Duration{10 * ms}},
		{"across the second", at(999 * ms), at(time.Second + ms), []time.Duration{999 * ms, time.Second}},
		{"from just before a whole second", at(-ms), at(ms), []time.Duration{-ms, 0}},
		{"empty window", at(500 * ms), at(500 * ms), nil},
		{"bounds in another zone", at(0).In(zurich), at(time.Second).In(zurich), []time.Duration{0, ms, 10 * ms, 100 * ms, 500 * ms, 999 * ms}},
		{"from a microsecond after a message excludes it", at(500*ms + time.Microsecond), at(time.Second), []time.Duration{999 * ms}},
		{"to a microsecond after a message includes it", at(100 * ms), at(500*ms + time.Microsecond), []time.Duration{100 * ms, 500 * ms}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListTransactions(ctx, a.ID, subaccounts.TransactionFilter{From: tc.from, To: tc.to}, subaccounts.Page{Limit: 100})
			mustNil(t, "ListTransactions", err)
			var want []subaccounts.Transaction
			for _, off := range tc.want {
				want = append(want, byOffset[off])
			}
			if !slices.Equal(txIDs(got), idsOfTxs(want...)) {
				var gotAt []string
				for _, g := range got {
					gotAt = append(gotAt, g.Datetime.Sub(txBase).String())
				}
				t.Errorf("ListTransactions[%v, %v) = offsets %v, want %v", tc.from, tc.to, gotAt, tc.want)
			}
		})
	}
}

// testTransactionListPages pages through the messages while more arrive between pages:
// every message present at the start is seen exactly once, in id order.
func testTransactionListPages(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	var before []subaccounts.Transaction
	for i := range 7 {
		before = append(before, txValue(a.ID, fmt.Sprintf("p%d", i), subaccounts.TxAuth, txBase))
	}
	insertAll(t, db, before...)

	var got []subaccounts.Transaction
	var arrived []subaccounts.Transaction
	after := uuid.Nil
	for page := 0; page < 20; page++ {
		items, err := db.ListTransactions(ctx, a.ID, subaccounts.TransactionFilter{}, subaccounts.Page{Limit: 3, After: after})
		mustNil(t, "ListTransactions", err)
		if len(items) > 3 {
			t.Fatalf("page of %d, limit 3", len(items))
		}
		if len(items) == 0 {
			break
		}
		got = append(got, items...)
		after = items[len(items)-1].ID
		if page < 2 { // two more messages arrive after each of the first two pages
			more := []subaccounts.Transaction{
				txValue(a.ID, fmt.Sprintf("late-%d-a", page), subaccounts.TxAuth, txBase.Add(-time.Hour)),
				txValue(a.ID, fmt.Sprintf("late-%d-b", page), subaccounts.TxClearing, txBase),
			}
			insertAll(t, db, more...)
			arrived = append(arrived, more...)
		}
	}
	// UUIDv7 ids are in arrival order, so the late arrivals come after the first ones.
	want := idsOfTxs(append(slices.Clone(before), arrived...)...)
	if !slices.Equal(txIDs(got), want) {
		t.Errorf("ids across pages = %v, want %v", txIDs(got), want)
	}
}

func testTransactionLifecycle(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	// Times that SQLite's text would misorder: "…:08Z" > "…:08.05Z" > "…:08.005Z".
	auth := routedTo(txValue(a, "life", subaccounts.TxAuth, txBase.Add(time.Second)), bk.card, subaccounts.InPolicy)
	clearing := routedTo(txValue(a, "life", subaccounts.TxClearing, txBase.Add(time.Second+50*time.Millisecond)), bk.card, subaccounts.InPolicy)
	reversal := routedTo(txValue(a, "life", subaccounts.TxReversal, txBase.Add(time.Second+5*time.Millisecond)), bk.card, subaccounts.InPolicy)
	refund := txValue(a, "life", subaccounts.TxRefund, txBase) // unrouted: not part of the lifecycle
	unrelated := routedTo(txValue(a, "life-2", subaccounts.TxAuth, txBase.Add(time.Second+time.Millisecond)), bk.card, subaccounts.InPolicy)
	insertAll(t, db, clearing, refund, reversal, unrelated, auth)
	b := newBucket(t, db, "other tenant")
	insertAll(t, db, routedTo(txValue(b.account.ID, "life", subaccounts.TxRefund, txBase), b.card, subaccounts.InPolicy))

	got, err := db.Lifecycle(ctx, a, "life")
	mustNil(t, "Lifecycle", err)
	if want := txIDs([]subaccounts.Transaction{auth, reversal, clearing}); !slices.Equal(txIDs(got), want) {
		var types []subaccounts.TransactionType
		for _, g := range got {
			types = append(types, g.Type)
		}
		t.Errorf("Lifecycle = %v, want auth, reversal, clearing (datetime order)", types)
	}
	none, err := db.Lifecycle(ctx, a, "nothing")
	mustNil(t, "Lifecycle(unknown)", err)
	if len(none) != 0 {
		t.Errorf("Lifecycle(unknown) = %d messages", len(none))
	}
}

func testTransactionRoute(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	waiting := txValue(a, "n1", subaccounts.TxAuth, txBase)
	neighbour := txValue(a, "n2", subaccounts.TxAuth, txBase)
	insertAll(t, db, waiting, neighbour)

	routed := routedTo(waiting, bk.card, subaccounts.OutOfPolicy)
	routed.ConfigVersion = 9
	mustNil(t, "RouteTransaction", db.RouteTransaction(ctx, routed))
	got, err := db.GetTransaction(ctx, a, waiting.ID, false)
	mustNil(t, "GetTransaction", err)
	sameTransaction(t, got, routed) // fingerprint and reason cleared
	gotNeighbour, err := db.GetTransaction(ctx, a, neighbour.ID, false)
	mustNil(t, "GetTransaction(neighbour)", err)
	sameTransaction(t, gotNeighbour, neighbour)

	// A second routing finds no unrouted message: the first one wins.
	again := routedTo(waiting, bk.card, subaccounts.InPolicy)
	wantErrIs(t, "RouteTransaction(again)", db.RouteTransaction(ctx, again), subaccounts.ErrNotFound)
	got, err = db.GetTransaction(ctx, a, waiting.ID, false)
	mustNil(t, "GetTransaction", err)
	sameTransaction(t, got, routed)

	unknown := routedTo(txValue(a, "n3", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	wantErrIs(t, "RouteTransaction(unknown)", db.RouteTransaction(ctx, unknown), subaccounts.ErrNotFound)
	if err := db.RouteTransaction(ctx, neighbour); err == nil {
		t.Errorf("RouteTransaction(a message still marked unrouted) = nil error")
	}
}

func testTransactionUpdateReason(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "acct")
	a := bk.account.ID
	waiting := txValue(a, "n1", subaccounts.TxAuth, txBase)
	routed := routedTo(txValue(a, "n2", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	insertAll(t, db, waiting, routed)

	mustNil(t, "UpdateUnroutedReason", db.UpdateUnroutedReason(ctx, a, waiting.ID, subaccounts.ReasonCardRemoved))
	got, err := db.GetTransaction(ctx, a, waiting.ID, false)
	mustNil(t, "GetTransaction", err)
	waiting.UnroutedReason = subaccounts.ReasonCardRemoved
	sameTransaction(t, got, waiting)

	wantErrIs(t, "UpdateUnroutedReason(routed)", db.UpdateUnroutedReason(ctx, a, routed.ID, subaccounts.ReasonCardUnknown), subaccounts.ErrNotFound)
	wantErrIs(t, "UpdateUnroutedReason(unknown)", db.UpdateUnroutedReason(ctx, a, uuid.Must(uuid.NewV7()), subaccounts.ReasonCardUnknown), subaccounts.ErrNotFound)
	if err := db.UpdateUnroutedReason(ctx, a, waiting.ID, ""); err == nil {
		t.Errorf("UpdateUnroutedReason(no reason) = nil error")
	}
}

func testTransactionDifferentTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "A")
	a := bk.account.ID
	b := newAccount(t, db, "B")
	routed := routedTo(txValue(a, "n1", subaccounts.TxAuth, txBase), bk.card, subaccounts.InPolicy)
	waiting := txValue(a, "n2", subaccounts.TxAuth, txBase)
	insertAll(t, db, routed, waiting)

	asB := routedTo(waiting, bk.card, subaccounts.InPolicy)
	asB.AccountID = b.ID
	notFound := []struct {
		name string
		call func() error
	}{
		{"GetTransaction", func() error { _, err := db.GetTransaction(ctx, b.ID, routed.ID, false); return err }},
		{"GetTransaction locked", func() error {
			return db.Transact(ctx, func(ctx context.Context) error {
				_, err := db.GetTransaction(ctx, b.ID, waiting.ID, true)
				return err
			})
		}},
		{"RouteTransaction", func() error { return db.RouteTransaction(ctx, asB) }},
		{"UpdateUnroutedReason", func() error {
			return db.UpdateUnroutedReason(ctx, b.ID, waiting.ID, subaccounts.ReasonCardRemoved)
		}},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			wantErrIs(t, tc.name, tc.call(), subaccounts.ErrNotFound)
		})
	}

	empty := []struct {
		name string
		call func() ([]subaccounts.Transaction, error)
	}{
		{"TransactionsByKey", func() ([]subaccounts.Transaction, error) {
			return db.TransactionsByKey(ctx, b.ID, []subaccounts.TransactionKey{routed.Key(), waiting.Key()})
		}},
		{"ListTransactions", func() ([]subaccounts.Transaction, error) {
			return db.ListTransactions(ctx, b.ID, subaccounts.TransactionFilter{}, subaccounts.Page{Limit: 10})
		}},
		{"ListTransactions of A's subaccount", func() ([]subaccounts.Transaction, error) {
			return db.ListTransactions(ctx, b.ID, subaccounts.TransactionFilter{SubaccountID: &bk.sub.ID}, subaccounts.Page{Limit: 10})
		}},
		{"ListTransactions of A's card", func() ([]subaccounts.Transaction, error) {
			return db.ListTransactions(ctx, b.ID, subaccounts.TransactionFilter{CardID: &bk.card.ID}, subaccounts.Page{Limit: 10})
		}},
		{"ListTransactions unrouted", func() ([]subaccounts.Transaction, error) {
			return db.ListTransactions(ctx, b.ID, subaccounts.TransactionFilter{Routing: subaccounts.Unrouted}, subaccounts.Page{Limit: 10})
		}},
		{"Lifecycle", func() ([]subaccounts.Transaction, error) { return db.Lifecycle(ctx, b.ID, routed.NetworkTransactionID) }},
	}
	for _, tc := range empty {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.call()
			mustNil(t, tc.name, err)
			if len(got) != 0 {
				t.Errorf("%s as B = %v, want none", tc.name, txIDs(got))
			}
		})
	}

	t.Run("keys are per account", func(t *testing.T) {
		theirs := txValue(b.ID, routed.NetworkTransactionID, routed.Type, txBase)
		insertAll(t, db, theirs)
	})
	t.Run("A is untouched", func(t *testing.T) {
		for _, want := range []subaccounts.Transaction{routed, waiting} {
			got, err := db.GetTransaction(ctx, a, want.ID, false)
			mustNil(t, "GetTransaction(A)", err)
			sameTransaction(t, got, want)
		}
	})
}
