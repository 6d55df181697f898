package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func tenantTests() []storeTest {
	return []storeTest{
		{"DifferentTenant", testDifferentTenant},
	}
}

// testDifferentTenant uses account B's id with account A's subaccount and client: every
// tenant-scoped method must behave as if they did not exist, and must change nothing.
func testDifferentTenant(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	sub := newSubaccount(t, db, a.ID, "shared name", gbrVisa...)
	client := newClient(t, db, a.ID, nil, subaccounts.Now())
	confined := newClient(t, db, a.ID, &sub.ID, subaccounts.Now())

	asB := sub
	asB.AccountID = b.ID
	asB.Name = "hijacked"
	asB.Suspended = true
	asB.UpdatedAt = sub.UpdatedAt.Add(time.Hour)

	notFound := []struct {
		name string
		call func() error
	}{
		{"GetSubaccount", func() error { _, err := db.GetSubaccount(ctx, b.ID, sub.ID); return err }},
		{"UpdateSubaccount with pairs", func() error {
			return db.UpdateSubaccount(ctx, asB, policy.MustCompile(fraMC).Pairs())
		}},
		{"UpdateSubaccount with empty pairs", func() error { return db.UpdateSubaccount(ctx, asB, []policy.Pair{}) }},
		{"UpdateSubaccount without pairs", func() error { return db.UpdateSubaccount(ctx, asB, nil) }},
		{"DeleteSubaccount", func() error { return db.DeleteSubaccount(ctx, b.ID, sub.ID) }},
		{"RevokeClient", func() error { return db.RevokeClient(ctx, b.ID, client.ID) }},
		{"RevokeClient of a confined client", func() error { return db.RevokeClient(ctx, b.ID, confined.ID) }},
		{"GetSubaccount inside Transact", func() error {
			return db.Transact(ctx, func(ctx context.Context) error { _, err := db.GetSubaccount(ctx, b.ID, sub.ID); return err })
		}},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			wantErrIs(t, tc.name, tc.call(), subaccounts.ErrNotFound)
		})
	}

	only := sub.ID
	lists := []struct {
		name   string
		filter subaccounts.SubaccountFilter
	}{
		{"ListSubaccounts", subaccounts.SubaccountFilter{}},
		{"ListSubaccounts by prefix", subaccounts.SubaccountFilter{NamePrefix: "shared"}},
		{"ListSubaccounts by pair", subaccounts.SubaccountFilter{Country: "GBR", Network: "VISA"}},
		{"ListSubaccounts only A's subaccount", subaccounts.SubaccountFilter{Only: &only}},
	}
	for _, tc := range lists {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListSubaccounts(ctx, b.ID, tc.filter, subaccounts.Page{Limit: 10})
			mustNil(t, tc.name, err)
			if len(got) != 0 {
				t.Errorf("%s as B = %q, want none", tc.name, names(got))
			}
		})
	}
	t.Run("AllSubaccounts", func(t *testing.T) {
		got, err := db.AllSubaccounts(ctx, b.ID)
		mustNil(t, "AllSubaccounts", err)
		if len(got) != 0 {
			t.Errorf("AllSubaccounts(B) = %q, want none", names(got))
		}
	})
	t.Run("CountSubaccounts", func(t *testing.T) {
		n, err := db.CountSubaccounts(ctx, b.ID)
		mustNil(t, "CountSubaccounts", err)
		if n != 0 {
			t.Errorf("CountSubaccounts(B) = %d, want 0", n)
		}
	})
	t.Run("ListClients", func(t *testing.T) {
		got, err := db.ListClients(ctx, b.ID, "", 100)
		mustNil(t, "ListClients", err)
		if len(got) != 0 {
			t.Errorf("ListClients(B) = %d clients, want none", len(got))
		}
	})
	t.Run("CreateClient confined to another tenant's subaccount", func(t *testing.T) {
		c := subaccounts.Client{ID: "cross-tenant", AccountID: &b.ID, SubaccountID: &sub.ID, Name: "x", SecretHash: "h", CreatedAt: subaccounts.Now()}
		if err := db.CreateClient(ctx, c); err == nil {
			t.Fatalf("CreateClient(account B, A's subaccount) succeeded; the (account_id, subaccount_id) foreign key should refuse it")
		}
		if _, err := db.GetClient(ctx, c.ID); err == nil {
			t.Errorf("the refused cross-tenant client is active")
		}
	})

	// Nothing B did changed A's data.
	t.Run("A is untouched", func(t *testing.T) {
		got, err := db.GetSubaccount(ctx, a.ID, sub.ID)
		mustNil(t, "GetSubaccount(A)", err)
		sameSubaccount(t, got, sub)
		byPair, err := db.ListSubaccounts(ctx, a.ID, subaccounts.SubaccountFilter{Country: "GBR", Network: "VISA"}, subaccounts.Page{Limit: 10})
		mustNil(t, "ListSubaccounts(A, GBR VISA)", err)
		if len(byPair) != 1 || byPair[0].ID != sub.ID {
			t.Errorf("A's entitlement rows changed: ListSubaccounts(GBR VISA) = %q", names(byPair))
		}
		for _, c := range []subaccounts.Client{client, confined} {
			got, err := db.GetClient(ctx, c.ID)
			mustNil(t, "GetClient(A's client)", err)
			sameClient(t, got, c)
		}
		n, err := db.CountSubaccounts(ctx, a.ID)
		mustNil(t, "CountSubaccounts(A)", err)
		if n != 1 {
			t.Errorf("CountSubaccounts(A) = %d, want 1", n)
		}
	})
}
