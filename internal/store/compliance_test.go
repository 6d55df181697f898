package store_test

import (
	"bytes"
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func complianceTests() []storeTest {
	return []storeTest{
		{"Compliance/EntitledPairs", testComplianceEntitledPairs},
		{"Compliance/SubaccountsPermitting", testComplianceSubaccountsPermitting},
		{"Compliance/CardsOutsideConfiguration", testComplianceCardsOutside},
		{"Compliance/CardsOutsideConfigurationManyGroups", testComplianceCardsOutsideManyGroups},
		{"Compliance/OutOfPolicyTransactions", testComplianceOutOfPolicyTransactions},
		{"Compliance/DifferentTenant", testComplianceDifferentTenant},
	}
}

func pair(country string, n policy.Network) policy.Pair {
	return policy.Pair{Country: country, Network: n}
}

func testComplianceEntitledPairs(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	none, err := db.EntitledPairs(ctx, a.ID)
	mustNil(t, "EntitledPairs(no subaccounts)", err)
	if len(none) != 0 {
		t.Errorf("EntitledPairs(no subaccounts) = %v", none)
	}
	newSubaccount(t, db, a.ID, "one", cfg([]string{"GBR"}, "VISA"), cfg([]string{"FRA"}, "VISA", "MASTERCARD"))
	newSubaccount(t, db, a.ID, "two", cfg([]string{"GBR"}, "VISA"), cfg([]string{"USA"}, "MASTERCARD"))
	newSubaccount(t, db, a.ID, "nothing")
	gone := newSubaccount(t, db, a.ID, "gone", cfg([]string{"JPN"}, "VISA"))
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, gone.ID))

	got, err := db.EntitledPairs(ctx, a.ID)
	mustNil(t, "EntitledPairs", err)
	want := []policy.Pair{pair("FRA", policy.Mastercard), pair("FRA", policy.Visa), pair("GBR", policy.Visa), pair("USA", policy.Mastercard)}
	if !slices.Equal(got, want) {
		t.Errorf("EntitledPairs = %v, want %v (distinct, live subaccounts only)", got, want)
	}
}

func testComplianceSubaccountsPermitting(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	one := newSubaccount(t, db, a.ID, "one", cfg([]string{"GBR"}, "VISA"), cfg([]string{"FRA"}, "VISA", "MASTERCARD"))
	two := newSubaccount(t, db, a.ID, "two", cfg([]string{"GBR"}, "VISA"), cfg([]string{"USA"}, "MASTERCARD"))
	gone := newSubaccount(t, db, a.ID, "gone", cfg([]string{"JPN"}, "VISA"))
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, gone.ID))

	sp := func(s subaccounts.Subaccount, p policy.Pair) subaccounts.SubaccountPair {
		return subaccounts.SubaccountPair{SubaccountID: s.ID, Pair: p}
	}
	// Many pairs nobody permits, to span several statements.
	var many []policy.Pair
	for i := range 450 {
		many = append(many, pair(fmt.Sprintf("Q%02d", i%100), policy.Network(i%2)))
	}
	many = append(many, pair("USA", policy.Mastercard), pair("FRA", policy.Visa))
	tests := []struct {
		name  string
		pairs []policy.Pair
		want  []subaccounts.SubaccountPair
	}{
		{"none", nil, nil},
		{"a pair two subaccounts permit", []policy.Pair{pair("GBR", policy.Visa)}, []subaccounts.SubaccountPair{sp(one, pair("GBR", policy.Visa)), sp(two, pair("GBR", policy.Visa))}},
		{"country and network on one row", []policy.Pair{pair("USA", policy.Visa), pair("GBR", policy.Mastercard)}, nil},
		{"only a deleted subaccount permitted it", []policy.Pair{pair("JPN", policy.Visa)}, nil},
		{"several, repeated", []policy.Pair{pair("USA", policy.Mastercard), pair("FRA", policy.Mastercard), pair("USA", policy.Mastercard), pair("CHE", policy.Visa)},
			[]subaccounts.SubaccountPair{sp(one, pair("FRA", policy.Mastercard)), sp(two, pair("USA", policy.Mastercard))}},
		{"many pairs", many, []subaccounts.SubaccountPair{sp(one, pair("FRA", policy.Visa)), sp(two, pair("USA", policy.Mastercard))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.SubaccountsPermitting(ctx, a.ID, tc.pairs)
			mustNil(t, "SubaccountsPermitting", err)
			key := func(x subaccounts.SubaccountPair) string { return x.SubaccountID.String() + " " + x.Pair.String() }
			sortSP := func(l []subaccounts.SubaccountPair) []string {
				out := make([]string, len(l))
				for i, x := range l {
					out[i] = key(x)
				}
				slices.Sort(out)
				return out
			}
			if g, w := sortSP(got), sortSP(tc.want); !slices.Equal(g, w) {
				t.Errorf("SubaccountsPermitting = %q, want %q", g, w)
			}
		})
	}
}

// violation is a hand-computed expected group of CardsOutsideConfiguration.
type violation struct {
	sub   subaccounts.Subaccount
	pair  policy.Pair
	cards []subaccounts.Card
}

// expectViolations turns hand-written groups into the report expected with sample ids per
// group, in the report's order.
func expectViolations(groups []violation, sample int) []subaccounts.CardViolation {
	out := make([]subaccounts.CardViolation, len(groups))
	for i, g := range groups {
		ids := idsOfCards(g.cards...)
		v := subaccounts.CardViolation{SubaccountID: g.sub.ID, Pair: g.pair, Cards: int64(len(ids))}
		if sample > 0 {
			v.SampleIDs = ids[:min(sample, len(ids))]
		}
		out[i] = v
	}
	slices.SortFunc(out, func(a, b subaccounts.CardViolation) int {
		return cmp.Or(bytes.Compare(a.SubaccountID[:], b.SubaccountID[:]),
			strings.Compare(a.Pair.Country, b.Pair.Country), strings.Compare(a.Pair.Network.String(), b.Pair.Network.String()))
	})
	return out
}

func testComplianceCardsOutside(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s1 := newSubaccount(t, db, a.ID, "one", cfg([]string{"GBR"}, "VISA"), cfg([]string{"FRA"}, "VISA", "MASTERCARD"))
	s2 := newSubaccount(t, db, a.ID, "two", cfg([]string{"USA"}, "MASTERCARD"))
	gone := newSubaccount(t, db, a.ID, "gone", cfg([]string{"GBR"}, "VISA"))
	b := newBucket(t, db, "other tenant")
	newCard(t, db, b.account.ID, b.sub.ID, "5100000000000001", "JPN", policy.Mastercard) // outside, but not A's

	seq := 0
	mk := func(s subaccounts.Subaccount, country string, n policy.Network, count int) []subaccounts.Card {
		var out []subaccounts.Card
		for range count {
			seq++
			out = append(out, newCard(t, db, a.ID, s.ID, fmt.Sprintf("4000000000%06d", seq), country, n))
		}
		return out
	}
	mk(s1, "GBR", policy.Visa, 2)       // permitted
	mk(s1, "FRA", policy.Mastercard, 1) // permitted
	s1USA := mk(s1, "USA", policy.Visa, 3)
	s1DEU := mk(s1, "DEU", policy.Mastercard, 1)
	removed := mk(s1, "DEU", policy.Mastercard, 1)[0]
	removed.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, removed))
	s1GBRMC := mk(s1, "GBR", policy.Mastercard, 2)
	mk(s2, "USA", policy.Mastercard, 1) // permitted
	s2GBR := mk(s2, "GBR", policy.Visa, 4)
	// A deleted subaccount's entitlement rows are gone: its cards are outside.
	goneGBR := mk(gone, "GBR", policy.Visa, 2)
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, gone.ID))

	groups := []violation{
		{s1, pair("USA", policy.Visa), s1USA},
		{s1, pair("DEU", policy.Mastercard), s1DEU},
		{s1, pair("GBR", policy.Mastercard), s1GBRMC},
		{s2, pair("GBR", policy.Visa), s2GBR},
		{gone, pair("GBR", policy.Visa), goneGBR},
	}
	for _, sample := range []int{0, 1, 2, 3, 100} {
		t.Run(fmt.Sprintf("sample %d", sample), func(t *testing.T) {
			got, active, err := db.CardsOutsideConfiguration(ctx, a.ID, sample)
			mustNil(t, "CardsOutsideConfiguration", err)
			// Every active card of A counts, inside or outside; the removed one does not.
			if active != 16 {
				t.Errorf("active cards = %d, want 16", active)
			}
			if want := expectViolations(groups, sample); !reflect.DeepEqual(got, want) {
				t.Errorf("CardsOutsideConfiguration(sample %d) =\n  %+v\nwant\n  %+v", sample, got, want)
			}
		})
	}

	// Widening s1 to every pair of its cards clears its groups.
	s1.Configurations = []policy.Configuration{cfg([]string{"GBR", "FRA", "USA", "DEU"}, "VISA", "MASTERCARD")}
	mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s1, policy.MustCompile(s1.Configurations).Pairs()))
	got, _, err := db.CardsOutsideConfiguration(ctx, a.ID, 2)
	mustNil(t, "CardsOutsideConfiguration", err)
	if want := expectViolations(groups[3:], 2); !reflect.DeepEqual(got, want) {
		t.Errorf("after widening: CardsOutsideConfiguration =\n  %+v\nwant\n  %+v", got, want)
	}

	empty := newAccount(t, db, "empty")
	got, active, err := db.CardsOutsideConfiguration(ctx, empty.ID, 5)
	mustNil(t, "CardsOutsideConfiguration(empty)", err)
	if len(got) != 0 || active != 0 {
		t.Errorf("CardsOutsideConfiguration(no cards) = %+v", got)
	}
}

// testComplianceCardsOutsideManyGroups has more violating groups than one sample query
// names.
func testComplianceCardsOutsideManyGroups(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "nothing permitted")
	var cards []subaccounts.Card
	var groups []violation
	for i := range 130 {
		g := violation{sub: s, pair: pair(fmt.Sprintf("Z%02d", i%100), policy.Network(i/100))}
		for j := range 1 + i%3 {
			c := cardValue(a.ID, s.ID, fmt.Sprintf("4000000%04d%05d", i, j), g.pair.Country, g.pair.Network)
			g.cards = append(g.cards, c)
			cards = append(cards, c)
		}
		groups = append(groups, g)
	}
	ids, err := db.CreateCards(ctx, cards)
	mustNil(t, "CreateCards", err)
	if len(ids) != len(cards) {
		t.Fatalf("CreateCards inserted %d of %d", len(ids), len(cards))
	}
	got, _, err := db.CardsOutsideConfiguration(ctx, a.ID, 2)
	mustNil(t, "CardsOutsideConfiguration", err)
	if want := expectViolations(groups, 2); !reflect.DeepEqual(got, want) {
		t.Errorf("CardsOutsideConfiguration = %d groups, want %d; first difference:", len(got), len(want))
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("  group %d = %+v, want %+v", i, got[i], want[i])
				break
			}
		}
	}
}

func testComplianceOutOfPolicyTransactions(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s1 := newSubaccount(t, db, a.ID, "one", gbrVisa...)
	s2 := newSubaccount(t, db, a.ID, "two", gbrVisa...)
	gbrMC := newCard(t, db, a.ID, s1.ID, "5100000000000001", "GBR", policy.Mastercard)
	usaV := newCard(t, db, a.ID, s1.ID, "4000000000000002", "USA", policy.Visa)
	fraV := newCard(t, db, a.ID, s2.ID, "4000000000000003", "FRA", policy.Visa)
	gbrV := newCard(t, db, a.ID, s2.ID, "4000000000000004", "GBR", policy.Visa)
	b := newBucket(t, db, "other tenant")

	ms := time.Millisecond
	seq := 0
	msg := func(acct uuid.UUID, c *subaccounts.Card, ps subaccounts.PolicyStatus, at time.Duration) subaccounts.Transaction {
		seq++
		tx := txValue(acct, fmt.Sprintf("m%03d", seq), subaccounts.TxAuth, txBase.Add(at))
		if c != nil {
			tx = routedTo(tx, *c, ps)
		}
		return tx
	}
	out, in := subaccounts.OutOfPolicy, subaccounts.InPolicy
	insertAll(t, db,
		msg(a.ID, &gbrMC, out, -ms), // "…:06.999Z"
		msg(a.ID, &gbrMC, out, 0),   // "…:07Z"
		msg(a.ID, &gbrMC, out, 500*ms),
		msg(a.ID, &usaV, out, 10*ms),
		msg(a.ID, &fraV, out, time.Second),
		msg(a.ID, &fraV, out, time.Second+5*ms),
		msg(a.ID, &gbrV, in, 0), // in policy: not counted
		msg(a.ID, nil, "", 0),   // unrouted: not counted
		msg(b.account.ID, &b.card, out, 0),
	)

	sub := func(s subaccounts.Subaccount, p policy.Pair, n int64) subaccounts.TransactionViolation {
		return subaccounts.TransactionViolation{SubaccountID: s.ID, Pair: p, Transactions: n}
	}
	at := func(d time.Duration) time.Time { return txBase.Add(d) }
	tests := []struct {
		name     string
		from, to time.Time
		want     []subaccounts.TransactionViolation
	}{
		{"everything", at(-time.Hour), at(time.Hour), []subaccounts.TransactionViolation{
			sub(s1, pair("GBR", policy.Mastercard), 3), sub(s1, pair("USA", policy.Visa), 1), sub(s2, pair("FRA", policy.Visa), 2)}},
		{"open bounds", time.Time{}, time.Time{}, []subaccounts.TransactionViolation{
			sub(s1, pair("GBR", policy.Mastercard), 3), sub(s1, pair("USA", policy.Visa), 1), sub(s2, pair("FRA", policy.Visa), 2)}},
		{"from a whole second", at(0), at(time.Second), []subaccounts.TransactionViolation{
			sub(s1, pair("GBR", policy.Mastercard), 2), sub(s1, pair("USA", policy.Visa), 1)}},
		{"from a half second", at(500 * ms), at(time.Second + 5*ms), []subaccounts.TransactionViolation{
			sub(s1, pair("GBR", policy.Mastercard), 1), sub(s2, pair("FRA", policy.Visa), 1)}},
		{"to a half second", at(-ms), at(500 * ms), []subaccounts.TransactionViolation{
			sub(s1, pair("GBR", policy.Mastercard), 2), sub(s1, pair("USA", policy.Visa), 1)}},
		{"one millisecond", at(time.Second + 5*ms), at(time.Second + 6*ms), []subaccounts.TransactionViolation{
			sub(s2, pair("FRA", policy.Visa), 1)}},
		{"nothing in the window", at(time.Hour), at(2 * time.Hour), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.OutOfPolicyTransactions(ctx, a.ID, tc.from, tc.to)
			mustNil(t, "OutOfPolicyTransactions", err)
			want := slices.Clone(tc.want)
			slices.SortFunc(want, func(x, y subaccounts.TransactionViolation) int {
				return cmp.Or(bytes.Compare(x.SubaccountID[:], y.SubaccountID[:]),
					strings.Compare(x.Pair.Country, y.Pair.Country), strings.Compare(x.Pair.Network.String(), y.Pair.Network.String()))
			})
			if len(got) != 0 || len(want) != 0 {
				if !reflect.DeepEqual(got, want) {
					t.Errorf("OutOfPolicyTransactions[%v, %v) =\n  %+v\nwant\n  %+v", tc.from, tc.to, got, want)
				}
			}
		})
	}
}

func testComplianceDifferentTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	bk := newBucket(t, db, "A")
	a := bk.account.ID
	b := newAccount(t, db, "B")
	outside := newCard(t, db, a, bk.sub.ID, "5100000000000001", "JPN", policy.Mastercard)
	insertAll(t, db, routedTo(txValue(a, "n1", subaccounts.TxAuth, txBase), outside, subaccounts.OutOfPolicy))

	checks := []struct {
		name string
		call func() (int, error)
	}{
		{"EntitledPairs", func() (int, error) { l, err := db.EntitledPairs(ctx, b.ID); return len(l), err }},
		{"SubaccountsPermitting", func() (int, error) {
			l, err := db.SubaccountsPermitting(ctx, b.ID, []policy.Pair{pair("GBR", policy.Visa)})
			return len(l), err
		}},
		{"CardsOutsideConfiguration", func() (int, error) {
			l, n, err := db.CardsOutsideConfiguration(ctx, b.ID, 5)
			return len(l) + int(n), err
		}},
		{"OutOfPolicyTransactions", func() (int, error) {
			l, err := db.OutOfPolicyTransactions(ctx, b.ID, txBase.Add(-time.Hour), txBase.Add(time.Hour))
			return len(l), err
		}},
		{"CountActiveCardsInAccount", func() (int, error) { n, err := db.CountActiveCardsInAccount(ctx, b.ID); return int(n), err }},
	}
	for _, tc := range checks {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.call()
			mustNil(t, tc.name, err)
			if n != 0 {
				t.Errorf("%s as B = %d, want nothing", tc.name, n)
			}
		})
	}
	// A sees its own: the checks above are not empty for any account.
	t.Run("A sees its own", func(t *testing.T) {
		pairs, err := db.EntitledPairs(ctx, a)
		mustNil(t, "EntitledPairs(A)", err)
		cards, _, err := db.CardsOutsideConfiguration(ctx, a, 5)
		mustNil(t, "CardsOutsideConfiguration(A)", err)
		txs, err := db.OutOfPolicyTransactions(ctx, a, txBase.Add(-time.Hour), txBase.Add(time.Hour))
		mustNil(t, "OutOfPolicyTransactions(A)", err)
		if len(pairs) != 1 || len(cards) != 1 || len(txs) != 1 {
			t.Errorf("A's report: %d pairs, %d card groups, %d message groups; want 1 each", len(pairs), len(cards), len(txs))
		}
	})
}
