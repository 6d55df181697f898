package store_test

import (
	"context"
	"crypto/sha256"
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
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func cardTests() []storeTest {
	return []storeTest{
		{"Card/RoundTrip", testCardRoundTrip},
		{"Card/CreateNone", testCardCreateNone},
		{"Card/DuplicateFingerprintSkipped", testCardDuplicateFingerprint},
		{"Card/ReEnrolAfterRemoval", testCardReEnrol},
		{"Card/ReusedIDConflicts", testCardReusedID},
		{"Card/ManyInOneCall", testCardManyInOneCall},
		{"Card/GetUnknown", testCardGetUnknown},
		{"Card/ListFilters", testCardListFilters},
		{"Card/ListPages", testCardListPages},
		{"Card/Update", testCardUpdate},
		{"Card/Counts", testCardCounts},
		{"Card/RecomputePolicy", testCardRecomputePolicy},
		{"Card/ShareSubaccount", testCardShareSubaccount},
		{"Card/DifferentTenant", testCardDifferentTenant},
		{"FingerprintKey/NewestFirst", testFingerprintKeysNewestFirst},
		{"FingerprintKey/DuplicateVersion", testFingerprintKeyDuplicate},
		{"FingerprintKey/LockedCreateHappensOnce", testFingerprintKeyLockedCreateOnce},
	}
}

// fingerprintOf stands in for the HMAC of a PAN: any 32 bytes that identify it.
func fingerprintOf(pan string) []byte {
	sum := sha256.Sum256([]byte(pan))
	return sum[:]
}

// cardValue returns an active, in-policy card of pan, not yet stored.
func cardValue(accountID, subaccountID uuid.UUID, pan, country string, network policy.Network) subaccounts.Card {
	now := subaccounts.Now()
	return subaccounts.Card{
		ID:                    uuid.Must(uuid.NewV7()),
		AccountID:             accountID,
		SubaccountID:          subaccountID,
		Network:               network,
		CountryCode:           country,
		FirstNumbers:          pan[:6],
		LastNumbers:           pan[len(pan)-4:],
		ExpMonth:              12,
		ExpYear:               2030,
		Fingerprint:           fingerprintOf(pan),
		FingerprintKeyVersion: 1,
		Status:                subaccounts.CardActive,
		PolicyStatus:          subaccounts.InPolicy,
		Metadata:              map[string]string{},
		CreatedAt:             now,
		UpdatedAt:             now,
	}
}

// newCard stores and returns a new card.
func newCard(t *testing.T, db *store.DB, accountID, subaccountID uuid.UUID, pan, country string, network policy.Network) subaccounts.Card {
	t.Helper()
	c := cardValue(accountID, subaccountID, pan, country, network)
	ids, err := db.CreateCards(t.Context(), []subaccounts.Card{c})
	mustNil(t, "CreateCards", err)
	if len(ids) != 1 || ids[0] != c.ID {
		t.Fatalf("CreateCards(%s) = %v, want [%s]", pan, ids, c.ID)
	}
	return c
}

// pans returns n distinct 16-digit test PANs starting with prefix (six digits).
func pans(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%010d", prefix, i)
	}
	return out
}

// sameCard reports the differences between two cards; times compare by instant.
func sameCard(t *testing.T, got, want subaccounts.Card) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("card %s times = (%v, %v), want (%v, %v)", want.ID, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("card =\n  %+v\nwant\n  %+v", got, want)
	}
}

func cardIDs(cards []subaccounts.Card) []uuid.UUID {
	out := make([]uuid.UUID, len(cards))
	for i, c := range cards {
		out[i] = c.ID
	}
	return out
}

// idsOfCards returns the ids of cards in id order, the order every list is in.
func idsOfCards(cards ...subaccounts.Card) []uuid.UUID { return sortIDs(cardIDs(cards)) }

func testCardRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub", gbrVisa...)
	now := subaccounts.Now()
	want := subaccounts.Card{
		ID:                    uuid.Must(uuid.NewV7()),
		AccountID:             a.ID,
		SubaccountID:          s.ID,
		Network:               policy.Mastercard,
		CountryCode:           "FRA",
		FirstNumbers:          "510510",
		LastNumbers:           "5100",
		ExpMonth:              1,
		ExpYear:               2031,
		Fingerprint:           []byte{0, 1, 2, 0xfe, 0xff, 0}, // zero bytes survive
		FingerprintKeyVersion: 7,
		Status:                subaccounts.CardActive,
		PolicyStatus:          subaccounts.OutOfPolicy,
		Metadata:              map[string]string{"holder": "Zoë", "ref": `"quoted" & <tagged>`},
		CreatedAt:             now.Add(-1500 * time.Millisecond),
		UpdatedAt:             now.Add(7 * time.Millisecond),
	}
	ids, err := db.CreateCards(ctx, []subaccounts.Card{want})
	mustNil(t, "CreateCards", err)
	if !slices.Equal(ids, []uuid.UUID{want.ID}) {
		t.Fatalf("CreateCards = %v, want [%s]", ids, want.ID)
	}

	got, err := db.GetCard(ctx, a.ID, want.ID, false)
	mustNil(t, "GetCard", err)
	sameCard(t, got, want)

	// The same value comes back from every read path.
	var locked subaccounts.Card
	mustNil(t, "Transact", db.Transact(ctx, func(ctx context.Context) error {
		var err error
		locked, err = db.GetCard(ctx, a.ID, want.ID, true)
		return err
	}))
	sameCard(t, locked, want)
	byID, err := db.GetCards(ctx, a.ID, []uuid.UUID{want.ID, uuid.Must(uuid.NewV7())})
	mustNil(t, "GetCards", err)
	byFP, err := db.ActiveCardsByFingerprint(ctx, a.ID, [][]byte{want.Fingerprint, fingerprintOf("nothing")})
	mustNil(t, "ActiveCardsByFingerprint", err)
	list, err := db.ListCards(ctx, a.ID, subaccounts.CardFilter{}, subaccounts.Page{Limit: 10})
	mustNil(t, "ListCards", err)
	for name, l := range map[string][]subaccounts.Card{"GetCards": byID, "ActiveCardsByFingerprint": byFP, "ListCards": list} {
		if len(l) != 1 {
			t.Fatalf("%s = %d cards, want 1", name, len(l))
		}
		sameCard(t, l[0], want)
	}

	// Metadata may be absent: it reads back empty, not nil.
	bare := cardValue(a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)
	bare.Metadata = nil
	_, err = db.CreateCards(ctx, []subaccounts.Card{bare})
	mustNil(t, "CreateCards(no metadata)", err)
	got, err = db.GetCard(ctx, a.ID, bare.ID, false)
	mustNil(t, "GetCard", err)
	bare.Metadata = map[string]string{}
	sameCard(t, got, bare)
}

func testCardCreateNone(t *testing.T, db *store.DB) {
	ctx := t.Context()
	for _, cards := range [][]subaccounts.Card{nil, {}} {
		ids, err := db.CreateCards(ctx, cards)
		mustNil(t, "CreateCards(none)", err)
		if len(ids) != 0 {
			t.Errorf("CreateCards(none) = %v, want no ids", ids)
		}
	}
	a := newAccount(t, db, "acct")
	for _, f := range []func() (int, error){
		func() (int, error) { c, err := db.GetCards(ctx, a.ID, nil); return len(c), err },
		func() (int, error) { c, err := db.ActiveCardsByFingerprint(ctx, a.ID, nil); return len(c), err },
	} {
		n, err := f()
		mustNil(t, "lookup of nothing", err)
		if n != 0 {
			t.Errorf("lookup of nothing = %d cards", n)
		}
	}
}

func testCardDuplicateFingerprint(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s1 := newSubaccount(t, db, a.ID, "one", gbrVisa...)
	s2 := newSubaccount(t, db, a.ID, "two", gbrVisa...)
	first := newCard(t, db, a.ID, s1.ID, "4111111111111111", "GBR", policy.Visa)

	again := cardValue(a.ID, s2.ID, "4111111111111111", "GBR", policy.Visa) // same PAN, another subaccount
	fresh := cardValue(a.ID, s1.ID, "4000056655665556", "GBR", policy.Visa)
	twinA := cardValue(a.ID, s1.ID, "4242424242424242", "GBR", policy.Visa)
	twinB := cardValue(a.ID, s2.ID, "4242424242424242", "GBR", policy.Visa) // same PAN in the same call
	ids, err := db.CreateCards(ctx, []subaccounts.Card{again, fresh, twinA, twinB})
	mustNil(t, "CreateCards", err)
	if got, want := sortIDs(ids), idsOfCards(fresh, twinA); !slices.Equal(got, want) {
		t.Errorf("CreateCards = %v, want only the new PANs' first cards %v", got, want)
	}

	for _, skipped := range []subaccounts.Card{again, twinB} {
		_, err := db.GetCard(ctx, a.ID, skipped.ID, false)
		wantErrIs(t, "GetCard(skipped card)", err, subaccounts.ErrNotFound)
	}
	got, err := db.ActiveCardsByFingerprint(ctx, a.ID, [][]byte{first.Fingerprint, twinA.Fingerprint, fresh.Fingerprint})
	mustNil(t, "ActiveCardsByFingerprint", err)
	if want := idsOfCards(first, fresh, twinA); !slices.Equal(sortIDs(cardIDs(got)), want) {
		t.Errorf("ActiveCardsByFingerprint = %v, want %v", cardIDs(got), want)
	}

	// Another account may hold the same PAN.
	b := newAccount(t, db, "other")
	sb := newSubaccount(t, db, b.ID, "theirs", gbrVisa...)
	newCard(t, db, b.ID, sb.ID, "4111111111111111", "GBR", policy.Visa)
}

func testCardReEnrol(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub", gbrVisa...)
	old := newCard(t, db, a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)

	old.Status = subaccounts.CardRemoved
	old.UpdatedAt = old.UpdatedAt.Add(time.Second)
	mustNil(t, "UpdateCard(removed)", db.UpdateCard(ctx, old))
	found, err := db.ActiveCardsByFingerprint(ctx, a.ID, [][]byte{old.Fingerprint})
	mustNil(t, "ActiveCardsByFingerprint", err)
	if len(found) != 0 {
		t.Errorf("a removed card is active by fingerprint: %v", cardIDs(found))
	}

	// The removed card frees its PAN, once per removal.
	renewed := newCard(t, db, a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)
	found, err = db.ActiveCardsByFingerprint(ctx, a.ID, [][]byte{old.Fingerprint})
	mustNil(t, "ActiveCardsByFingerprint", err)
	if len(found) != 1 || found[0].ID != renewed.ID {
		t.Errorf("ActiveCardsByFingerprint = %v, want the new enrolment %s", cardIDs(found), renewed.ID)
	}
	renewed.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard(removed)", db.UpdateCard(ctx, renewed))
	third := newCard(t, db, a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)

	// Reactivating an old enrolment while the PAN is active again is a conflict.
	old.Status = subaccounts.CardActive
	wantErrIs(t, "UpdateCard(reactivate a duplicate)", db.UpdateCard(ctx, old), subaccounts.ErrConflict)

	got, err := db.GetCards(ctx, a.ID, []uuid.UUID{old.ID, renewed.ID, third.ID})
	mustNil(t, "GetCards", err)
	status := map[uuid.UUID]subaccounts.CardStatus{}
	for _, c := range got {
		status[c.ID] = c.Status
	}
	want := map[uuid.UUID]subaccounts.CardStatus{old.ID: subaccounts.CardRemoved, renewed.ID: subaccounts.CardRemoved, third.ID: subaccounts.CardActive}
	if !reflect.DeepEqual(status, want) {
		t.Errorf("statuses = %v, want %v", status, want)
	}
}

func testCardReusedID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub", gbrVisa...)
	c := newCard(t, db, a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)
	// Only a duplicate PAN is skipped; a reused id is an error, not a silent skip.
	dup := cardValue(a.ID, s.ID, "4000056655665556", "GBR", policy.Visa)
	dup.ID = c.ID
	_, err := db.CreateCards(ctx, []subaccounts.Card{dup})
	wantErrIs(t, "CreateCards(reused id)", err, subaccounts.ErrConflict)

	noFingerprint := cardValue(a.ID, s.ID, "4000056655665556", "GBR", policy.Visa)
	noFingerprint.Fingerprint = nil
	if _, err := db.CreateCards(ctx, []subaccounts.Card{noFingerprint}); err == nil {
		t.Errorf("CreateCards(no fingerprint) = nil error")
	}
}

func testCardManyInOneCall(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub", gbrVisa...)
	// More than one INSERT's worth, with duplicates of earlier rows in later chunks.
	all := pans("411111", 1200)
	cards := make([]subaccounts.Card, 0, 1300)
	for _, p := range all {
		cards = append(cards, cardValue(a.ID, s.ID, p, "GBR", policy.Visa))
	}
	for _, p := range all[:100] {
		cards = append(cards, cardValue(a.ID, s.ID, p, "GBR", policy.Visa))
	}
	ids, err := db.CreateCards(ctx, cards)
	mustNil(t, "CreateCards", err)
	if want := idsOfCards(cards[:1200]...); !slices.Equal(sortIDs(ids), want) {
		t.Errorf("CreateCards returned %d ids, want the %d first enrolments", len(ids), len(want))
	}
	n, err := db.CountActiveCards(ctx, a.ID, s.ID)
	mustNil(t, "CountActiveCards", err)
	if n != 1200 {
		t.Errorf("CountActiveCards = %d, want 1200", n)
	}
	fps := make([][]byte, len(all))
	for i, p := range all {
		fps[i] = fingerprintOf(p)
	}
	found, err := db.ActiveCardsByFingerprint(ctx, a.ID, fps)
	mustNil(t, "ActiveCardsByFingerprint", err)
	byID, err := db.GetCards(ctx, a.ID, ids)
	mustNil(t, "GetCards", err)
	if len(found) != 1200 || len(byID) != 1200 {
		t.Errorf("looked up %d by fingerprint and %d by id, want 1200 each", len(found), len(byID))
	}
}

func testCardGetUnknown(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub", gbrVisa...)
	newCard(t, db, a.ID, s.ID, "4111111111111111", "GBR", policy.Visa)
	_, err := db.GetCard(ctx, a.ID, uuid.Must(uuid.NewV7()), false)
	wantErrIs(t, "GetCard(unknown)", err, subaccounts.ErrNotFound)
	if err == nil || !strings.Contains(err.Error(), "card") {
		t.Errorf("GetCard(unknown) = %v, want it to name the card", err)
	}
}

func testCardListFilters(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	b := newAccount(t, db, "other")
	s1 := newSubaccount(t, db, a.ID, "one", contractAll...)
	s2 := newSubaccount(t, db, a.ID, "two", contractAll...)
	sb := newSubaccount(t, db, b.ID, "theirs", contractAll...)

	gbrVisa1 := newCard(t, db, a.ID, s1.ID, "4000000000000001", "GBR", policy.Visa)
	gbrMC1 := newCard(t, db, a.ID, s1.ID, "5100000000000002", "GBR", policy.Mastercard)
	fraVisa2 := newCard(t, db, a.ID, s2.ID, "4000000000000003", "FRA", policy.Visa)
	removed := newCard(t, db, a.ID, s2.ID, "4000000000000004", "GBR", policy.Visa)
	removed.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, removed))
	outside := cardValue(a.ID, s2.ID, "5100000000000005", "USA", policy.Mastercard)
	outside.PolicyStatus = subaccounts.OutOfPolicy
	_, err := db.CreateCards(ctx, []subaccounts.Card{outside})
	mustNil(t, "CreateCards", err)
	newCard(t, db, b.ID, sb.ID, "4000000000000001", "GBR", policy.Visa) // another tenant's

	ptr := func(id uuid.UUID) *uuid.UUID { return &id }
	tests := []struct {
		name   string
		filter subaccounts.CardFilter
		want   []subaccounts.Card
	}{
		{"no filter", subaccounts.CardFilter{}, []subaccounts.Card{gbrVisa1, gbrMC1, fraVisa2, removed, outside}},
		{"subaccount", subaccounts.CardFilter{SubaccountID: ptr(s1.ID)}, []subaccounts.Card{gbrVisa1, gbrMC1}},
		{"another tenant's subaccount", subaccounts.CardFilter{SubaccountID: ptr(sb.ID)}, nil},
		{"network", subaccounts.CardFilter{Network: "MASTERCARD"}, []subaccounts.Card{gbrMC1, outside}},
		{"country", subaccounts.CardFilter{Country: "GBR"}, []subaccounts.Card{gbrVisa1, gbrMC1, removed}},
		{"country and network", subaccounts.CardFilter{Country: "GBR", Network: "VISA"}, []subaccounts.Card{gbrVisa1, removed}},
		{"active", subaccounts.CardFilter{Status: subaccounts.CardActive}, []subaccounts.Card{gbrVisa1, gbrMC1, fraVisa2, outside}},
		{"removed", subaccounts.CardFilter{Status: subaccounts.CardRemoved}, []subaccounts.Card{removed}},
		{"out of policy", subaccounts.CardFilter{PolicyStatus: subaccounts.OutOfPolicy}, []subaccounts.Card{outside}},
		{"in policy", subaccounts.CardFilter{PolicyStatus: subaccounts.InPolicy}, []subaccounts.Card{gbrVisa1, gbrMC1, fraVisa2, removed}},
		{"everything at once", subaccounts.CardFilter{SubaccountID: ptr(s2.ID), Network: "VISA", Country: "GBR", Status: subaccounts.CardRemoved, PolicyStatus: subaccounts.InPolicy}, []subaccounts.Card{removed}},
		{"a combination nothing has", subaccounts.CardFilter{SubaccountID: ptr(s1.ID), Country: "FRA"}, nil},
		{"lower-case network matches nothing", subaccounts.CardFilter{Network: "visa"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListCards(ctx, a.ID, tc.filter, subaccounts.Page{Limit: 100})
			mustNil(t, "ListCards", err)
			if want := idsOfCards(tc.want...); !slices.Equal(cardIDs(got), want) {
				t.Errorf("ListCards(%+v) = %v, want %v", tc.filter, cardIDs(got), want)
			}
		})
	}
}

func testCardListPages(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s1 := newSubaccount(t, db, a.ID, "one", gbrVisa...)
	s2 := newSubaccount(t, db, a.ID, "two", gbrVisa...)
	var all, inS1 []subaccounts.Card
	for i, p := range pans("400000", 9) {
		sub := s1
		if i%3 == 2 {
			sub = s2
		}
		c := cardValue(a.ID, sub.ID, p, "GBR", policy.Visa)
		all = append(all, c)
		if sub.ID == s1.ID {
			inS1 = append(inS1, c)
		}
	}
	// Inserted in reverse, so id order and insertion order differ.
	rev := slices.Clone(all)
	slices.Reverse(rev)
	_, err := db.CreateCards(ctx, rev)
	mustNil(t, "CreateCards", err)

	tests := []struct {
		name   string
		filter subaccounts.CardFilter
		limit  int
		want   []subaccounts.Card
	}{
		{"all, pages of 2", subaccounts.CardFilter{}, 2, all},
		{"all, pages of 4", subaccounts.CardFilter{}, 4, all},
		{"all, one page", subaccounts.CardFilter{}, 9, all},
		{"one subaccount, pages of 2", subaccounts.CardFilter{SubaccountID: &s1.ID}, 2, inS1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []subaccounts.Card
			after := uuid.Nil
			for range len(tc.want) + 2 {
				page, err := db.ListCards(ctx, a.ID, tc.filter, subaccounts.Page{Limit: tc.limit, After: after})
				mustNil(t, "ListCards", err)
				if len(page) > tc.limit {
					t.Fatalf("page of %d cards, limit %d", len(page), tc.limit)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].ID
			}
			if want := idsOfCards(tc.want...); !slices.Equal(cardIDs(got), want) {
				t.Errorf("ids across pages = %v, want %v", cardIDs(got), want)
			}
		})
	}
}

func testCardUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s1 := newSubaccount(t, db, a.ID, "one", gbrVisa...)
	s2 := newSubaccount(t, db, a.ID, "two", gbrVisa...)
	c := newCard(t, db, a.ID, s1.ID, "4111111111111111", "GBR", policy.Visa)
	neighbour := newCard(t, db, a.ID, s1.ID, "4000056655665556", "GBR", policy.Visa)

	moved := c
	moved.SubaccountID = s2.ID
	moved.PolicyStatus = subaccounts.OutOfPolicy
	moved.Metadata = map[string]string{"moved": "yes"}
	moved.UpdatedAt = c.UpdatedAt.Add(1500 * time.Millisecond)
	// Fields UpdateCard does not write stay as they were.
	sent := moved
	sent.ExpYear, sent.LastNumbers, sent.CreatedAt = 2099, "9999", c.CreatedAt.Add(time.Hour)
	sent.Network, sent.Fingerprint = policy.Mastercard, nil
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, sent))
	got, err := db.GetCard(ctx, a.ID, c.ID, false)
	mustNil(t, "GetCard", err)
	sameCard(t, got, moved)
	gotNeighbour, err := db.GetCard(ctx, a.ID, neighbour.ID, false)
	mustNil(t, "GetCard(neighbour)", err)
	sameCard(t, gotNeighbour, neighbour)

	// Zero values are written, not skipped.
	moved.Metadata = map[string]string{}
	moved.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, moved))
	got, err = db.GetCard(ctx, a.ID, c.ID, false)
	mustNil(t, "GetCard", err)
	sameCard(t, got, moved)

	unknown := cardValue(a.ID, s1.ID, "4242424242424242", "GBR", policy.Visa)
	wantErrIs(t, "UpdateCard(unknown)", db.UpdateCard(ctx, unknown), subaccounts.ErrNotFound)

	// A card cannot move to a subaccount that does not exist in its account.
	lost := moved
	lost.SubaccountID = uuid.Must(uuid.NewV7())
	if err := db.UpdateCard(ctx, lost); err == nil {
		t.Errorf("UpdateCard(unknown subaccount) = nil error, want the foreign key to refuse it")
	}
}

func testCardCounts(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "counted", contractAll...)
	other := newSubaccount(t, db, a.ID, "other", contractAll...)
	empty := newSubaccount(t, db, a.ID, "empty", contractAll...)
	mk := func(sub uuid.UUID, pan, country string, n policy.Network) subaccounts.Card {
		return newCard(t, db, a.ID, sub, pan, country, n)
	}
	mk(s.ID, "4000000000000001", "GBR", policy.Visa)
	mk(s.ID, "4000000000000002", "GBR", policy.Visa)
	mk(s.ID, "4000000000000003", "GBR", policy.Visa)
	mk(s.ID, "5100000000000004", "GBR", policy.Mastercard)
	mk(s.ID, "4000000000000005", "FRA", policy.Visa)
	gone := mk(s.ID, "4000000000000006", "FRA", policy.Visa)
	gone.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, gone))
	goneOnly := mk(s.ID, "5100000000000007", "USA", policy.Mastercard)
	goneOnly.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, goneOnly))
	mk(other.ID, "4000000000000008", "DEU", policy.Visa)

	n, err := db.CountActiveCards(ctx, a.ID, s.ID)
	mustNil(t, "CountActiveCards", err)
	if n != 5 {
		t.Errorf("CountActiveCards = %d, want 5", n)
	}
	n, err = db.CountActiveCards(ctx, a.ID, empty.ID)
	mustNil(t, "CountActiveCards(empty)", err)
	if n != 0 {
		t.Errorf("CountActiveCards(empty) = %d, want 0", n)
	}
	n, err = db.CountActiveCardsInAccount(ctx, a.ID)
	mustNil(t, "CountActiveCardsInAccount", err)
	if n != 6 {
		t.Errorf("CountActiveCardsInAccount = %d, want 6", n)
	}

	counts, err := db.CardPairCounts(ctx, a.ID, s.ID)
	mustNil(t, "CardPairCounts", err)
	want := []subaccounts.PairCount{
		{Pair: policy.Pair{Country: "FRA", Network: policy.Visa}, Cards: 1},
		{Pair: policy.Pair{Country: "GBR", Network: policy.Mastercard}, Cards: 1},
		{Pair: policy.Pair{Country: "GBR", Network: policy.Visa}, Cards: 3},
	}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("CardPairCounts = %+v, want %+v", counts, want)
	}
	counts, err = db.CardPairCounts(ctx, a.ID, empty.ID)
	mustNil(t, "CardPairCounts(empty)", err)
	if len(counts) != 0 {
		t.Errorf("CardPairCounts(empty) = %+v, want none", counts)
	}
}

func testCardRecomputePolicy(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub", cfg([]string{"GBR"}, "VISA"), cfg([]string{"FRA"}, "VISA", "MASTERCARD"))
	neighbour := newSubaccount(t, db, a.ID, "neighbour", gbrVisa...)
	gbrV := newCard(t, db, a.ID, s.ID, "4000000000000001", "GBR", policy.Visa)
	fraV := newCard(t, db, a.ID, s.ID, "4000000000000002", "FRA", policy.Visa)
	fraM := newCard(t, db, a.ID, s.ID, "5100000000000003", "FRA", policy.Mastercard)
	usaV := cardValue(a.ID, s.ID, "4000000000000004", "USA", policy.Visa)
	usaV.PolicyStatus = subaccounts.OutOfPolicy
	_, err := db.CreateCards(ctx, []subaccounts.Card{usaV})
	mustNil(t, "CreateCards", err)
	removed := newCard(t, db, a.ID, s.ID, "4000000000000005", "DEU", policy.Visa)
	removed.Status = subaccounts.CardRemoved
	mustNil(t, "UpdateCard", db.UpdateCard(ctx, removed))
	// The neighbour's card is out of its configuration too, but it is not recomputed.
	nb := newCard(t, db, a.ID, neighbour.ID, "4000000000000006", "DEU", policy.Visa)

	check := func(t *testing.T, step string, at time.Time, want map[uuid.UUID]subaccounts.PolicyStatus, changed map[uuid.UUID]bool) {
		t.Helper()
		got, err := db.GetCards(ctx, a.ID, []uuid.UUID{gbrV.ID, fraV.ID, fraM.ID, usaV.ID, removed.ID, nb.ID})
		mustNil(t, "GetCards", err)
		for _, c := range got {
			if c.PolicyStatus != want[c.ID] {
				t.Errorf("%s: card %s/%s policy = %s, want %s", step, c.CountryCode, c.Network, c.PolicyStatus, want[c.ID])
			}
			if changed[c.ID] != c.UpdatedAt.Equal(at) {
				t.Errorf("%s: card %s/%s updated_at = %v (recompute at %v), changed = %v", step, c.CountryCode, c.Network, c.UpdatedAt, at, changed[c.ID])
			}
		}
	}
	in, out := subaccounts.InPolicy, subaccounts.OutOfPolicy

	// 1. Narrow to GBR on VISA: both FRA cards go out of policy; USA stays out.
	s.Configurations = []policy.Configuration{cfg([]string{"GBR"}, "VISA")}
	mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s, policy.MustCompile(s.Configurations).Pairs()))
	at1 := subaccounts.Now().Add(time.Hour)
	changed, err := db.RecomputeCardPolicy(ctx, a.ID, s.ID, at1)
	mustNil(t, "RecomputeCardPolicy", err)
	n := len(changed)
	if n != 2 {
		t.Errorf("narrowing: RecomputeCardPolicy = %d, want 2", n)
	}
	check(t, "narrowing", at1,
		map[uuid.UUID]subaccounts.PolicyStatus{gbrV.ID: in, fraV.ID: out, fraM.ID: out, usaV.ID: out, removed.ID: in, nb.ID: in},
		map[uuid.UUID]bool{fraV.ID: true, fraM.ID: true})

	// 2. Nothing changed: nothing is written.
	changed, err = db.RecomputeCardPolicy(ctx, a.ID, s.ID, at1.Add(time.Hour))
	mustNil(t, "RecomputeCardPolicy", err)
	if n = len(changed); n != 0 {
		t.Errorf("again: RecomputeCardPolicy = %d, want 0", n)
	}

	// 3. Widen to FRA on MASTERCARD and USA on VISA: two come back in.
	s.Configurations = []policy.Configuration{cfg([]string{"GBR", "USA"}, "VISA"), cfg([]string{"FRA"}, "MASTERCARD")}
	mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s, policy.MustCompile(s.Configurations).Pairs()))
	at3 := at1.Add(2*time.Hour + 5*time.Millisecond)
	changed, err = db.RecomputeCardPolicy(ctx, a.ID, s.ID, at3)
	mustNil(t, "RecomputeCardPolicy", err)
	n = len(changed)
	if n != 2 {
		t.Errorf("widening: RecomputeCardPolicy = %d, want 2", n)
	}
	check(t, "widening", at3,
		map[uuid.UUID]subaccounts.PolicyStatus{gbrV.ID: in, fraV.ID: out, fraM.ID: in, usaV.ID: in, removed.ID: in, nb.ID: in},
		map[uuid.UUID]bool{fraM.ID: true, usaV.ID: true})

	// 4. No entitlements at all: every active card is out.
	s.Configurations = []policy.Configuration{}
	mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s, []policy.Pair{}))
	at4 := at3.Add(time.Hour)
	changed, err = db.RecomputeCardPolicy(ctx, a.ID, s.ID, at4)
	mustNil(t, "RecomputeCardPolicy", err)
	n = len(changed)
	if n != 3 {
		t.Errorf("emptied: RecomputeCardPolicy = %d, want 3", n)
	}
	check(t, "emptied", at4,
		map[uuid.UUID]subaccounts.PolicyStatus{gbrV.ID: out, fraV.ID: out, fraM.ID: out, usaV.ID: out, removed.ID: in, nb.ID: in},
		map[uuid.UUID]bool{gbrV.ID: true, fraM.ID: true, usaV.ID: true})
}

func testCardShareSubaccount(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "shared", gbrVisa...)
	deleted := newSubaccount(t, db, a.ID, "deleted", gbrVisa...)
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, deleted.ID))

	got, err := db.ShareSubaccount(ctx, a.ID, s.ID)
	mustNil(t, "ShareSubaccount", err)
	sameSubaccount(t, got, s)
	_, err = db.ShareSubaccount(ctx, a.ID, deleted.ID)
	wantErrIs(t, "ShareSubaccount(deleted)", err, subaccounts.ErrNotFound)
	_, err = db.ShareSubaccount(ctx, a.ID, uuid.Must(uuid.NewV7()))
	wantErrIs(t, "ShareSubaccount(unknown)", err, subaccounts.ErrNotFound)

	// Inside a transaction the subaccount cannot change until the transaction ends, while
	// other enrolments may share it. SQLite's immediate transactions already exclude every
	// other writer, so the row lock is PostgreSQL's alone.
	if db.Dialect() != "postgres" {
		mustNil(t, "Transact", db.Transact(ctx, func(ctx context.Context) error {
			_, err := db.ShareSubaccount(ctx, a.ID, s.ID)
			return err
		}))
		return
	}
	updated := make(chan error, 1)
	err = db.Transact(ctx, func(txCtx context.Context) error {
		if _, err := db.ShareSubaccount(txCtx, a.ID, s.ID); err != nil {
			return err
		}
		// The backend holding the share lock, so that the wait below is on this lock.
		holder, err := store.QueryInt(txCtx, db, `SELECT pg_backend_pid()`)
		if err != nil {
			return fmt.Errorf("pg_backend_pid: %w", err)
		}
		// A second sharer, in a transaction of its own (ctx carries none), is not blocked.
		if err := db.Transact(ctx, func(ctx context.Context) error {
			_, err := db.ShareSubaccount(ctx, a.ID, s.ID)
			return err
		}); err != nil {
			return fmt.Errorf("second sharer: %w", err)
		}
		go func() {
			renamed := s
			renamed.Name = "renamed"
			updated <- db.UpdateSubaccount(ctx, renamed, nil)
		}()
		// The writer cannot finish while the share lock is held: wait until PostgreSQL
		// shows it waiting on a lock the holder keeps it from (so a pass is never luck:
		// the writer did start and did block on this transaction), and check it has not
		// finished. The query runs on the pool (ctx carries no transaction).
		deadline := time.Now().Add(10 * time.Second)
		for {
			select {
			case err := <-updated:
				return fmt.Errorf("UpdateSubaccount finished under the share lock: %v", err)
			default:
			}
			waiting, err := store.QueryInt(ctx, db, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE%subaccounts%'
				AND ? = ANY(pg_blocking_pids(pid))`, holder)
			if err != nil {
				return fmt.Errorf("pg_stat_activity: %w", err)
			}
			if waiting > 0 {
				break
			}
			if time.Now().After(deadline) {
				return errors.New("the writer never waited on the share lock")
			}
			time.Sleep(5 * time.Millisecond)
		}
		select {
		case err := <-updated:
			return fmt.Errorf("UpdateSubaccount finished under the share lock: %v", err)
		default:
		}
		return nil
	})
	mustNil(t, "Transact", err)
	mustNil(t, "UpdateSubaccount after the lock", <-updated)
}

func testCardDifferentTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	s := newSubaccount(t, db, a.ID, "sub", gbrVisa...)
	c := newCard(t, db, a.ID, s.ID, "4111111111111111", "FRA", policy.Visa)

	asB := c
	asB.AccountID = b.ID
	asB.Status = subaccounts.CardRemoved
	notFound := []struct {
		name string
		call func() error
	}{
		{"GetCard", func() error { _, err := db.GetCard(ctx, b.ID, c.ID, false); return err }},
		{"GetCard locked", func() error {
			return db.Transact(ctx, func(ctx context.Context) error { _, err := db.GetCard(ctx, b.ID, c.ID, true); return err })
		}},
		{"UpdateCard", func() error { return db.UpdateCard(ctx, asB) }},
		{"ShareSubaccount", func() error { _, err := db.ShareSubaccount(ctx, b.ID, s.ID); return err }},
		{"ShareSubaccount inside Transact", func() error {
			return db.Transact(ctx, func(ctx context.Context) error { _, err := db.ShareSubaccount(ctx, b.ID, s.ID); return err })
		}},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			wantErrIs(t, tc.name, tc.call(), subaccounts.ErrNotFound)
		})
	}

	empty := []struct {
		name string
		call func() (int, error)
	}{
		{"GetCards", func() (int, error) { l, err := db.GetCards(ctx, b.ID, []uuid.UUID{c.ID}); return len(l), err }},
		{"ActiveCardsByFingerprint", func() (int, error) {
			l, err := db.ActiveCardsByFingerprint(ctx, b.ID, [][]byte{c.Fingerprint})
			return len(l), err
		}},
		{"ListCards", func() (int, error) {
			l, err := db.ListCards(ctx, b.ID, subaccounts.CardFilter{}, subaccounts.Page{Limit: 10})
			return len(l), err
		}},
		{"ListCards of A's subaccount", func() (int, error) {
			l, err := db.ListCards(ctx, b.ID, subaccounts.CardFilter{SubaccountID: &s.ID}, subaccounts.Page{Limit: 10})
			return len(l), err
		}},
		{"CountActiveCards", func() (int, error) { n, err := db.CountActiveCards(ctx, b.ID, s.ID); return int(n), err }},
		{"CountActiveCardsInAccount", func() (int, error) { n, err := db.CountActiveCardsInAccount(ctx, b.ID); return int(n), err }},
		{"CardPairCounts", func() (int, error) { l, err := db.CardPairCounts(ctx, b.ID, s.ID); return len(l), err }},
		{"RecomputeCardPolicy", func() (int, error) {
			l, err := db.RecomputeCardPolicy(ctx, b.ID, s.ID, subaccounts.Now())
			return len(l), err
		}},
	}
	for _, tc := range empty {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.call()
			mustNil(t, tc.name, err)
			if n != 0 {
				t.Errorf("%s as B = %d, want 0", tc.name, n)
			}
		})
	}

	t.Run("CreateCards into another tenant's subaccount", func(t *testing.T) {
		cross := cardValue(b.ID, s.ID, "4000056655665556", "GBR", policy.Visa)
		if _, err := db.CreateCards(ctx, []subaccounts.Card{cross}); err == nil {
			t.Fatalf("CreateCards(account B, A's subaccount) succeeded; the (account_id, subaccount_id) foreign key should refuse it")
		}
	})
	t.Run("A is untouched", func(t *testing.T) {
		got, err := db.GetCard(ctx, a.ID, c.ID, false)
		mustNil(t, "GetCard(A)", err)
		sameCard(t, got, c)
	})
}

// Fingerprint keys.

func testFingerprintKeysNewestFirst(t *testing.T, db *store.DB) {
	ctx := t.Context()
	keys, err := db.FingerprintKeys(ctx)
	mustNil(t, "FingerprintKeys(empty)", err)
	if len(keys) != 0 {
		t.Fatalf("FingerprintKeys on a new database = %+v, want none", keys)
	}
	now := subaccounts.Now()
	want := []subaccounts.FingerprintKey{
		{Version: 12, KeyCheck: "check-12", CreatedAt: now.Add(-time.Hour)}, // newest by version, not by time
		{Version: 3, KeyCheck: "check-3", CreatedAt: now.Add(5 * time.Millisecond)},
		{Version: 2, KeyCheck: "check-2", Secret: []byte{0, 1, 2, 3, 0xff}, CreatedAt: now},
		{Version: 1, KeyCheck: "check-1", Secret: nil, CreatedAt: now.Add(-2 * time.Hour)},
	}
	for _, i := range []int{2, 0, 3, 1} {
		mustNil(t, "CreateFingerprintKey", db.CreateFingerprintKey(ctx, want[i]))
	}
	keys, err = db.FingerprintKeys(ctx)
	mustNil(t, "FingerprintKeys", err)
	if len(keys) != len(want) {
		t.Fatalf("FingerprintKeys = %d keys, want %d", len(keys), len(want))
	}
	for i := range want {
		got, w := keys[i], want[i]
		if !got.CreatedAt.Equal(w.CreatedAt) {
			t.Errorf("key %d CreatedAt = %v, want %v", w.Version, got.CreatedAt, w.CreatedAt)
		}
		got.CreatedAt, w.CreatedAt = time.Time{}, time.Time{}
		// A key without a secret reads back with a nil one: the service tells a generated
		// key from a configured one by it.
		if !reflect.DeepEqual(got, w) {
			t.Errorf("key %d = %+v, want %+v", i, got, w)
		}
	}
}

func testFingerprintKeyDuplicate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	first := subaccounts.FingerprintKey{Version: 1, KeyCheck: "first", CreatedAt: subaccounts.Now()}
	mustNil(t, "CreateFingerprintKey", db.CreateFingerprintKey(ctx, first))
	dup := subaccounts.FingerprintKey{Version: 1, KeyCheck: "second", Secret: []byte("s"), CreatedAt: subaccounts.Now()}
	wantErrIs(t, "CreateFingerprintKey(duplicate version)", db.CreateFingerprintKey(ctx, dup), subaccounts.ErrConflict)
	keys, err := db.FingerprintKeys(ctx)
	mustNil(t, "FingerprintKeys", err)
	if len(keys) != 1 || keys[0].KeyCheck != "first" || keys[0].Secret != nil {
		t.Errorf("FingerprintKeys after a refused duplicate = %+v, want only the first key", keys)
	}
}

// testFingerprintKeyLockedCreateOnce runs the read-or-create of the default key from many
// goroutines at once, as replicas starting together do.
func testFingerprintKeyLockedCreateOnce(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mustNil(t, "LockFingerprintKeys outside a transaction", db.LockFingerprintKeys(ctx))

	const workers = 10
	chosen := make([]string, workers)
	errs := make([]error, workers)
	together := newBarrier(db, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			errs[i] = db.Transact(ctx, func(ctx context.Context) error {
				if err := together.wait(); err != nil {
					return err
				}
				if err := db.LockFingerprintKeys(ctx); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
				keys, err := db.FingerprintKeys(ctx)
				if err != nil {
					return err
				}
				if len(keys) > 0 {
					chosen[i] = keys[0].KeyCheck
					return nil
				}
				k := subaccounts.FingerprintKey{Version: 1, KeyCheck: fmt.Sprintf("replica-%02d", i), Secret: []byte{byte(i + 1)}, CreatedAt: subaccounts.Now()}
				chosen[i] = k.KeyCheck
				return db.CreateFingerprintKey(ctx, k)
			})
		})
	}
	wg.Wait()
	mustNil(t, "Transact", errors.Join(errs...))

	keys, err := db.FingerprintKeys(ctx)
	mustNil(t, "FingerprintKeys", err)
	if len(keys) != 1 {
		t.Fatalf("%d workers created %d keys, want exactly 1", workers, len(keys))
	}
	for i, c := range chosen {
		if c != keys[0].KeyCheck {
			t.Errorf("worker %d chose key %q, want the one stored key %q", i, c, keys[0].KeyCheck)
		}
	}
}

// TestSchemaHasNoPANColumns guards the rule that card numbers are never stored: no
// column of the card tables may be named for a PAN or a card number. The first six and
// last four digits are the only digits kept, in the two columns allowed below.
func TestSchemaHasNoPANColumns(t *testing.T) {
	queries := map[string]string{
		"postgres": "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
		"sqlite":   "SELECT name FROM pragma_table_info($1)",
	}
	allowed := map[string]bool{"first_numbers": true, "last_numbers": true}
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			m := openMigrated(t, dialect)
			for _, table := range []string{"cards", "transactions"} {
				rows, err := m.raw.QueryContext(t.Context(), queries[dialect], table)
				mustNil(t, "query columns", err)
				var cols []string
				for rows.Next() {
					var c string
					mustNil(t, "scan column", rows.Scan(&c))
					cols = append(cols, c)
				}
				mustNil(t, "columns", errors.Join(rows.Err(), rows.Close()))
				if !slices.Contains(cols, "fingerprint") && !slices.Contains(cols, "card_fingerprint") {
					t.Fatalf("table %s has columns %q; the schema query did not find it", table, cols)
				}
				for _, c := range cols {
					lc := strings.ToLower(c)
					if (strings.Contains(lc, "pan") || strings.Contains(lc, "number")) && !allowed[lc] {
						t.Errorf("table %s has column %q, named like a card number", table, c)
					}
				}
			}
		})
	}
}
