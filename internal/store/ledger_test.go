package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func ledgerTests() []storeTest {
	return []storeTest{
		{"Ledger/EntriesFiltersAndPages", testLedgerEntries},
		{"Ledger/Positions", testLedgerPositions},
		{"Ledger/AppendOnly", testLedgerAppendOnly},
		{"Ledger/Constraints", testLedgerConstraints},
		{"Ledger/Usage", testLedgerUsage},
		{"Card/RemoveSubaccountCards", testRemoveSubaccountCards},
	}
}

func entry(a uuid.UUID, kind subaccounts.EntryKind, from, to string, amount int64, sub *uuid.UUID, at time.Time) subaccounts.Entry {
	ledger := subaccounts.LedgerBalance
	if kind == subaccounts.KindCreditTransfer || kind == subaccounts.KindCreditLimit {
		ledger = subaccounts.LedgerCredit
	}
	e := subaccounts.Entry{
		ID: uuid.Must(uuid.NewV7()), AccountID: a, Kind: kind, Ledger: ledger, From: from, To: to,
		Amount: amount, SubaccountID: sub, Reference: "ref " + string(kind), CreatedAt: at,
	}
	if kind == subaccounts.KindCharge {
		subj := uuid.Must(uuid.NewV7())
		e.ChargeType, e.SubjectID = subaccounts.ChargeCardEnrolment, &subj
	}
	return e
}

func testLedgerEntries(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	s1 := newSubaccount(t, db, a.ID, "one", gbrVisa...)
	s2 := newSubaccount(t, db, a.ID, "two", gbrVisa...)
	base := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	primary := a.ID.String()
	var want []subaccounts.Entry
	for i := range 30 {
		sub := &s1.ID
		if i%3 == 0 {
			sub = &s2.ID
		}
		kind := subaccounts.KindBalanceTransfer
		if i%2 == 0 {
			kind = subaccounts.KindCreditTransfer
		}
		want = append(want, entry(a.ID, kind, primary, sub.String(), int64(i+1), sub, base.Add(time.Duration(i)*time.Hour)))
	}
	mustNil(t, "InsertLedgerEntries", db.InsertLedgerEntries(ctx, want))
	mustNil(t, "other tenant", db.InsertLedgerEntries(ctx, []subaccounts.Entry{entry(b.ID, subaccounts.KindBalanceTransfer, b.ID.String(), "x", 5, nil, base)}))

	got, err := db.ListLedgerEntries(ctx, a.ID, subaccounts.EntryFilter{}, subaccounts.Page{Limit: 100})
	mustNil(t, "ListLedgerEntries", err)
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("entry %d createdAt %v, want %v", i, g.CreatedAt, w.CreatedAt)
		}
		g.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		if g.ID != w.ID || g.Kind != w.Kind || g.Ledger != w.Ledger || g.From != w.From || g.To != w.To || g.Amount != w.Amount || *g.SubaccountID != *w.SubaccountID || g.Reference != w.Reference {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	cases := []struct {
		name string
		f    subaccounts.EntryFilter
		keep func(i int, e subaccounts.Entry) bool
	}{
		{"credit only", subaccounts.EntryFilter{Kinds: []subaccounts.EntryKind{subaccounts.KindCreditTransfer}}, func(i int, e subaccounts.Entry) bool { return e.Kind == subaccounts.KindCreditTransfer }},
		{"subaccount two", subaccounts.EntryFilter{SubaccountID: &s2.ID}, func(i int, e subaccounts.Entry) bool { return *e.SubaccountID == s2.ID }},
		{"window [5h, 10h)", subaccounts.EntryFilter{From: base.Add(5 * time.Hour), To: base.Add(10 * time.Hour)}, func(i int, e subaccounts.Entry) bool { return i >= 5 && i < 10 }},
		{"balance of one in [0, 20h)", subaccounts.EntryFilter{Kinds: []subaccounts.EntryKind{subaccounts.KindBalanceTransfer}, SubaccountID: &s1.ID, To: base.Add(20 * time.Hour)}, func(i int, e subaccounts.Entry) bool {
			return e.Kind == subaccounts.KindBalanceTransfer && *e.SubaccountID == s1.ID && i < 20
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var wantIDs []uuid.UUID
			for i, e := range want {
				if tc.keep(i, e) {
					wantIDs = append(wantIDs, e.ID)
				}
			}
			// Pages of 4 must add up to the whole filtered list, in id order.
			var gotIDs []uuid.UUID
			p := subaccounts.Page{Limit: 4}
			for {
				page, err := db.ListLedgerEntries(ctx, a.ID, tc.f, p)
				mustNil(t, "ListLedgerEntries", err)
				for _, e := range page {
					gotIDs = append(gotIDs, e.ID)
				}
				if len(page) < p.Limit {
					break
				}
				p.After = page[len(page)-1].ID
			}
			if !slices.Equal(gotIDs, wantIDs) {
				t.Errorf("ids = %v, want %v", gotIDs, wantIDs)
			}
		})
	}
	t.Run("different tenant", func(t *testing.T) {
		got, err := db.ListLedgerEntries(ctx, b.ID, subaccounts.EntryFilter{SubaccountID: &s1.ID}, subaccounts.Page{Limit: 100})
		mustNil(t, "ListLedgerEntries", err)
		if len(got) != 0 {
			t.Errorf("B sees %d of A's entries", len(got))
		}
		has, err := db.HasLedgerEntries(ctx, b.ID)
		mustNil(t, "HasLedgerEntries", err)
		if !has {
			t.Error("HasLedgerEntries(B) = false after B's entry")
		}
		fresh := newAccount(t, db, "C")
		has, err = db.HasLedgerEntries(ctx, fresh.ID)
		mustNil(t, "HasLedgerEntries", err)
		if has {
			t.Error("HasLedgerEntries of an account with no entry = true")
		}
	})
}

func testLedgerPositions(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	s := newSubaccount(t, db, a.ID, "one", gbrVisa...)
	now := subaccounts.Now()
	p, sub := a.ID.String(), s.ID.String()
	mustNil(t, "insert", db.InsertLedgerEntries(ctx, []subaccounts.Entry{
		entry(a.ID, subaccounts.KindTopUp, subaccounts.PartyExternal, p, 1000, nil, now),
		entry(a.ID, subaccounts.KindCreditLimit, subaccounts.PartyExternal, p, 600, nil, now),
		entry(a.ID, subaccounts.KindCreditTransfer, p, sub, 200, &s.ID, now),
		entry(a.ID, subaccounts.KindBalanceTransfer, p, sub, 300, &s.ID, now),
		entry(a.ID, subaccounts.KindBalanceTransfer, sub, p, 50, &s.ID, now),
		entry(a.ID, subaccounts.KindCharge, sub, subaccounts.PartyRevenue, 7, &s.ID, now),
		entry(b.ID, subaccounts.KindTopUp, subaccounts.PartyExternal, b.ID.String(), 99, nil, now),
	}))
	got, err := db.LedgerPositions(ctx, a.ID)
	mustNil(t, "LedgerPositions", err)
	want := map[string]int64{
		p + " balance": 1000 - 300 + 50, p + " credit": 600 - 200,
		sub + " balance": 300 - 50 - 7, sub + " credit": 200,
		"external balance": -1000, "external credit": -600, "revenue balance": 7,
	}
	gotMap := map[string]int64{}
	for _, pos := range got {
		gotMap[pos.Party+" "+string(pos.Ledger)] = pos.Amount
	}
	if len(gotMap) != len(want) {
		t.Errorf("positions %v, want %v", gotMap, want)
	}
	var total int64
	for k, v := range want {
		if gotMap[k] != v {
			t.Errorf("%s = %d, want %d", k, gotMap[k], v)
		}
	}
	for _, v := range gotMap {
		total += v
	}
	if total != 0 {
		t.Errorf("positions sum to %d: a double-entry journal sums to 0", total)
	}
}

func testLedgerAppendOnly(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	e := entry(a.ID, subaccounts.KindTopUp, subaccounts.PartyExternal, a.ID.String(), 10, nil, subaccounts.Now())
	mustNil(t, "insert", db.InsertLedgerEntries(ctx, []subaccounts.Entry{e}))
	for _, stmt := range []string{
		"UPDATE ledger_entries SET amount = 1000000",
		"DELETE FROM ledger_entries",
	} {
		err := store.ExecRaw(ctx, db, stmt)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", stmt, err)
		}
	}
	got, err := db.ListLedgerEntries(ctx, a.ID, subaccounts.EntryFilter{}, subaccounts.Page{Limit: 10})
	mustNil(t, "list", err)
	if len(got) != 1 || got[0].Amount != 10 {
		t.Errorf("entries after refused changes: %+v", got)
	}
}

// testLedgerConstraints: the database itself refuses states the service must never write.
func testLedgerConstraints(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	s := newSubaccount(t, db, a.ID, "own", gbrVisa...)
	cases := []struct {
		name  string
		write func() error
		ok    bool
	}{
		{"primary within its floor", func() error {
			x := a
			x.CreditLimit, x.AllocatedCredit, x.Balance = 100, 30, -70
			return db.UpdateAccount(ctx, x)
		}, true},
		{"primary below its floor", func() error {
			x := a
			x.CreditLimit, x.AllocatedCredit, x.Balance = 100, 30, -71
			return db.UpdateAccount(ctx, x)
		}, false},
		{"primary below its floor, over limit", func() error {
			x := a
			x.CreditLimit, x.AllocatedCredit, x.Balance, x.OverLimit = 100, 30, -71, true
			return db.UpdateAccount(ctx, x)
		}, true},
		{"more allocated than the limit", func() error {
			x := a
			x.CreditLimit, x.AllocatedCredit = 100, 101
			return db.UpdateAccount(ctx, x)
		}, false},
		{"negative credit limit", func() error {
			x := s
			x.CreditLimit = -1
			return db.UpdateSubaccount(ctx, x, nil)
		}, false},
		{"subaccount below minus its limit", func() error {
			x := s
			x.CreditLimit, x.Balance = 50, -51
			return db.UpdateSubaccount(ctx, x, nil)
		}, false},
		{"subaccount below minus its limit, over limit", func() error {
			x := s
			x.CreditLimit, x.Balance, x.OverLimit = 50, -51, true
			return db.UpdateSubaccount(ctx, x, nil)
		}, true},
		{"shared subaccount holding money", func() error {
			x := s
			x.UsePrimaryBalance, x.Balance = true, 1
			return db.UpdateSubaccount(ctx, x, nil)
		}, false},
		{"shared subaccount with auto top-up", func() error {
			x := s
			x.UsePrimaryBalance, x.Balance, x.CreditLimit, x.AutoTopUp = true, 0, 0, subaccounts.AutoTopUp{Threshold: 10, Amount: 5}
			return db.UpdateSubaccount(ctx, x, nil)
		}, false},
		{"journal entry of amount 0", func() error {
			return db.InsertLedgerEntries(ctx, []subaccounts.Entry{entry(a.ID, subaccounts.KindTopUp, subaccounts.PartyExternal, a.ID.String(), 0, nil, subaccounts.Now())})
		}, false},
		{"journal entry to itself", func() error {
			return db.InsertLedgerEntries(ctx, []subaccounts.Entry{entry(a.ID, subaccounts.KindTopUp, a.ID.String(), a.ID.String(), 5, nil, subaccounts.Now())})
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write()
			if tc.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Error("the database accepted it")
			}
		})
	}
}

func testLedgerUsage(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	s1 := newSubaccount(t, db, a.ID, "one", contractAll...)
	s2 := newSubaccount(t, db, a.ID, "two", contractAll...)
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	// Cards: two enrolled into s1 in the window (one moved to s2 since), one into s2
	// before the window, one removed.
	in1 := cardValue(a.ID, s1.ID, "4111111111111111", "USA", policy.Visa)
	in1.CreatedAt = from.Add(time.Hour)
	moved := cardValue(a.ID, s1.ID, "4000056655665556", "USA", policy.Visa)
	moved.CreatedAt = from.Add(2 * time.Hour)
	old := cardValue(a.ID, s2.ID, "5555555555554444", "GBR", policy.Mastercard)
	old.CreatedAt = from.Add(-time.Hour)
	removed := cardValue(a.ID, s2.ID, "4242424242424242", "USA", policy.Visa)
	removed.CreatedAt = from.Add(3 * time.Hour)
	_, err := db.CreateCards(ctx, []subaccounts.Card{in1, moved, old, removed})
	mustNil(t, "CreateCards", err)
	moved.SubaccountID = s2.ID
	mustNil(t, "move", db.UpdateCard(ctx, moved))
	removed.Status = subaccounts.CardRemoved
	mustNil(t, "remove", db.UpdateCard(ctx, removed))
	// Messages: two EUR and one USD for in1 inside, one EUR outside.
	var txs []subaccounts.Transaction
	for i, m := range []struct {
		cur string
		amt int64
		at  time.Time
	}{{"EUR", 100, from.Add(time.Minute)}, {"EUR", 250, to.Add(-time.Millisecond)}, {"USD", 7, from}, {"EUR", 1000, to}} {
		txs = append(txs, routedTx(a.ID, s1.ID, in1.ID, "N"+string(rune('A'+i)), m.cur, m.amt, m.at))
	}
	_, err = db.InsertTransactions(ctx, txs)
	mustNil(t, "InsertTransactions", err)
	// Charges: 3 + 4 in the window for s1, 9 outside.
	charge := func(sub uuid.UUID, amount int64, at time.Time) subaccounts.Entry {
		return entry(a.ID, subaccounts.KindCharge, sub.String(), subaccounts.PartyRevenue, amount, &sub, at)
	}
	mustNil(t, "charges", db.InsertLedgerEntries(ctx, []subaccounts.Entry{
		charge(s1.ID, 3, from.Add(time.Hour)), charge(s1.ID, 4, from.Add(2*time.Hour)), charge(s1.ID, 9, to.Add(time.Hour)),
	}))

	got, err := db.Usage(ctx, a.ID, []uuid.UUID{s1.ID, s2.ID}, from, to)
	mustNil(t, "Usage", err)
	if len(got) != 2 || got[0].SubaccountID != s1.ID || got[1].SubaccountID != s2.ID {
		t.Fatalf("usage rows %+v", got)
	}
	u1, u2 := got[0], got[1]
	if u1.Enrolments != 2 || u1.ActiveCards != 1 {
		t.Errorf("s1 enrolments %d active %d, want 2 and 1", u1.Enrolments, u1.ActiveCards)
	}
	if u2.Enrolments != 1 || u2.ActiveCards != 2 {
		t.Errorf("s2 enrolments %d active %d, want 1 (the removed card, enrolled in the window) and 2", u2.Enrolments, u2.ActiveCards)
	}
	wantTx := []subaccounts.CurrencyVolume{{Currency: "EUR", Count: 2, Volume: 350}, {Currency: "USD", Count: 1, Volume: 7}}
	if !slices.Equal(u1.Transactions, wantTx) {
		t.Errorf("s1 transactions %+v, want %+v", u1.Transactions, wantTx)
	}
	if len(u2.Transactions) != 0 {
		t.Errorf("s2 transactions %+v, want none", u2.Transactions)
	}
	if c := u1.Charges[subaccounts.ChargeCardEnrolment]; c != 7 {
		t.Errorf("s1 charges %d, want 7", c)
	}
	t.Run("different tenant", func(t *testing.T) {
		got, err := db.Usage(ctx, b.ID, []uuid.UUID{s1.ID}, from, to)
		mustNil(t, "Usage", err)
		if u := got[0]; u.Enrolments != 0 || u.ActiveCards != 0 || len(u.Transactions) != 0 || len(u.Charges) != 0 {
			t.Errorf("B sees A's usage: %+v", u)
		}
	})
}

func routedTx(accountID, subID, cardID uuid.UUID, ntid, currency string, amount int64, at time.Time) subaccounts.Transaction {
	return subaccounts.Transaction{
		ID: uuid.Must(uuid.NewV7()), AccountID: accountID, NetworkTransactionID: ntid, Type: subaccounts.TxAuth,
		Amount: amount, Currency: currency, Datetime: at,
		Merchant:   subaccounts.Merchant{Name: "Shop", MCC: "5812", CountryCode: "USA"},
		ReceivedAt: subaccounts.Now(), Routing: subaccounts.Routed,
		SubaccountID: subID, CardID: cardID, CardCountry: "USA", CardNetwork: policy.Visa,
		RoutedAt: subaccounts.Now(), ConfigVersion: 1, PolicyStatus: subaccounts.InPolicy,
	}
}

func testRemoveSubaccountCards(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	s1 := newSubaccount(t, db, a.ID, "one", contractAll...)
	s2 := newSubaccount(t, db, a.ID, "two", contractAll...)
	newCard(t, db, a.ID, s1.ID, "4111111111111111", "USA", policy.Visa)
	newCard(t, db, a.ID, s1.ID, "4000056655665556", "USA", policy.Visa)
	keep := newCard(t, db, a.ID, s2.ID, "4242424242424242", "USA", policy.Visa)
	b := newAccount(t, db, "B")
	n, err := db.RemoveSubaccountCards(ctx, b.ID, s1.ID, subaccounts.Now())
	mustNil(t, "other tenant", err)
	if n != 0 {
		t.Errorf("B removed %d of A's cards", n)
	}
	n, err = db.RemoveSubaccountCards(ctx, a.ID, s1.ID, subaccounts.Now())
	mustNil(t, "RemoveSubaccountCards", err)
	if n != 2 {
		t.Errorf("removed %d, want 2", n)
	}
	for _, sub := range []uuid.UUID{s1.ID, s2.ID} {
		left, err := db.CountActiveCards(ctx, a.ID, sub)
		mustNil(t, "count", err)
		want := int64(0)
		if sub == s2.ID {
			want = 1
		}
		if left != want {
			t.Errorf("subaccount %s has %d active cards, want %d", sub, left, want)
		}
	}
	c, err := db.GetCard(ctx, a.ID, keep.ID, false)
	mustNil(t, "GetCard", err)
	if c.Status != subaccounts.CardActive {
		t.Errorf("the other subaccount's card is %s", c.Status)
	}
}
