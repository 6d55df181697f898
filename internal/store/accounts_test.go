package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func accountTests() []storeTest {
	return []storeTest{
		{"Account/RoundTrip", testAccountRoundTrip},
		{"Account/GetUnknown", testAccountGetUnknown},
		{"Account/DuplicateID", testAccountDuplicateID},
		{"Account/ListPages", testAccountListPages},
		{"Account/Update", testAccountUpdate},
		{"Account/UpdateUnknown", testAccountUpdateUnknown},
	}
}

func testAccountRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	want := accountValue("Acme Platform", 7)
	want.Contract.Configurations = policy.MustCompile([]policy.Configuration{
		cfg([]string{"GBR", "FRA"}, "VISA", "MASTERCARD"),
		cfg([]string{"USA"}, "VISA"),
	}).Normalize()
	want.Contract.Version = 3
	want.UpdatedAt = want.CreatedAt.Add(1234 * time.Millisecond) // a distinct, ms-precise instant
	mustNil(t, "CreateAccount", db.CreateAccount(ctx, want))

	for _, lock := range []bool{false, true} {
		got, err := db.GetAccount(ctx, want.ID, lock)
		mustNil(t, "GetAccount", err)
		sameAccount(t, got, want)
	}
}

func testAccountGetUnknown(t *testing.T, db *store.DB) {
	newAccount(t, db, "someone else")
	for _, lock := range []bool{false, true} {
		_, err := db.GetAccount(t.Context(), uuid.Must(uuid.NewV7()), lock)
		wantErrIs(t, "GetAccount(unknown)", err, subaccounts.ErrNotFound)
	}
}

func testAccountDuplicateID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	first := newAccount(t, db, "first")
	dup := accountValue("second", 1)
	dup.ID = first.ID
	wantErrIs(t, "CreateAccount(duplicate id)", db.CreateAccount(ctx, dup), subaccounts.ErrConflict)

	got, err := db.GetAccount(ctx, first.ID, false)
	mustNil(t, "GetAccount", err)
	sameAccount(t, got, first)
}

func testAccountListPages(t *testing.T, db *store.DB) {
	ctx := t.Context()
	if got, err := db.ListAccounts(ctx, subaccounts.Page{Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("ListAccounts on an empty database = %d accounts, %v; want none", len(got), err)
	}
	// Insert in reverse id order, with names in reverse id order too, so only ordering
	// by id can give the expected pages.
	var ids []uuid.UUID
	accounts := map[uuid.UUID]subaccounts.Account{}
	for i := range 5 {
		a := accountValue("account "+string(rune('E'-i)), i)
		accounts[a.ID] = a
		ids = append(ids, a.ID)
	}
	for _, id := range slices.Backward(ids) {
		mustNil(t, "CreateAccount", db.CreateAccount(ctx, accounts[id]))
	}
	want := sortIDs(ids)

	tests := []struct {
		name  string
		limit int
		pages []int // the size of each page until an empty one
	}{
		{"limit 2", 2, []int{2, 2, 1}},
		{"limit 5", 5, []int{5}},
		{"limit larger than the list", 50, []int{5}},
		{"limit 1", 1, []int{1, 1, 1, 1, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []uuid.UUID
			after := uuid.Nil
			for i := 0; ; i++ {
				page, err := db.ListAccounts(ctx, subaccounts.Page{Limit: tc.limit, After: after})
				mustNil(t, "ListAccounts", err)
				if len(page) == 0 {
					break
				}
				if i >= len(tc.pages) || len(page) != tc.pages[i] {
					t.Fatalf("page %d has %d accounts; want page sizes %v", i, len(page), tc.pages)
				}
				for _, a := range page {
					sameAccount(t, a, accounts[a.ID])
					got = append(got, a.ID)
				}
				after = page[len(page)-1].ID
			}
			if !slices.Equal(got, want) {
				t.Errorf("ids across pages = %v\nwant (id order) %v", got, want)
			}
		})
	}
}

func testAccountUpdate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "before")
	other := newAccount(t, db, "untouched")

	a.Name = "after"
	a.Contract = subaccounts.Contract{
		Configurations: policy.MustCompile(gbrVisa).Normalize(),
		MaxSubaccounts: 2,
		Version:        a.Contract.Version + 1,
		Currency:       "USD",
		Pricing:        subaccounts.Pricing{CardEnrolment: 25, Transaction: 3},
	}
	// The ledger columns round-trip too: 100 of credit, 40 handed out, 60 of it in use.
	a.CreditLimit, a.AllocatedCredit, a.Balance, a.Version = 100, 40, -60, a.Version+1
	a.UpdatedAt = a.UpdatedAt.Add(5 * time.Second)
	mustNil(t, "UpdateAccount", db.UpdateAccount(ctx, a))

	got, err := db.GetAccount(ctx, a.ID, false)
	mustNil(t, "GetAccount", err)
	sameAccount(t, got, a)
	gotOther, err := db.GetAccount(ctx, other.ID, false)
	mustNil(t, "GetAccount(other)", err)
	sameAccount(t, gotOther, other)
}

func testAccountUpdateUnknown(t *testing.T, db *store.DB) {
	newAccount(t, db, "existing")
	err := db.UpdateAccount(t.Context(), accountValue("ghost", 1))
	wantErrIs(t, "UpdateAccount(unknown)", err, subaccounts.ErrNotFound)
}
