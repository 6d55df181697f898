package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func clientTests() []storeTest {
	return []storeTest{
		{"Client/RoundTrip", testClientRoundTrip},
		{"Client/GetUnknown", testClientGetUnknown},
		{"Client/DuplicateID", testClientDuplicateID},
		{"Client/ListActiveOfAccount", testClientList},
		{"Client/ListInCreationOrder", testClientListOrder},
		{"Client/Revoke", testClientRevoke},
		{"Client/Operator", testOperatorClient},
		{"Client/OperatorRefusesAccount", testOperatorRefusesAccount},
		{"Client/OperatorOverAccountClientID", testOperatorOverAccountClientID},
	}
}

func testClientRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "sub")
	tests := []struct {
		name     string
		confined *uuid.UUID
	}{
		{"whole account", nil},
		{"confined to a subaccount", &s.ID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := newClient(t, db, a.ID, tc.confined, subaccounts.Now())
			got, err := db.GetClient(ctx, want.ID)
			mustNil(t, "GetClient", err)
			sameClient(t, got, want)
		})
	}
}

func testClientGetUnknown(t *testing.T, db *store.DB) {
	a := newAccount(t, db, "acct")
	newClient(t, db, a.ID, nil, subaccounts.Now())
	_, err := db.GetClient(t.Context(), "no-such-client")
	wantErrIs(t, "GetClient(unknown)", err, subaccounts.ErrNotFound)
}

func testClientDuplicateID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	first := newClient(t, db, a.ID, nil, subaccounts.Now())
	dup := first
	dup.SecretHash = "other"
	wantErrIs(t, "CreateClient(duplicate id)", db.CreateClient(ctx, dup), subaccounts.ErrConflict)
	got, err := db.GetClient(ctx, first.ID)
	mustNil(t, "GetClient", err)
	sameClient(t, got, first)
}

func testClientList(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	empty := newAccount(t, db, "no clients")
	s := newSubaccount(t, db, a.ID, "sub")
	now := subaccounts.Now()
	a1 := newClient(t, db, a.ID, nil, now)
	a2 := newClient(t, db, a.ID, &s.ID, now.Add(time.Second))
	revoked := newClient(t, db, a.ID, nil, now.Add(2*time.Second))
	mustNil(t, "RevokeClient", db.RevokeClient(ctx, a.ID, revoked.ID))
	b1 := newClient(t, db, b.ID, nil, now)
	mustNil(t, "UpsertOperatorClient", db.UpsertOperatorClient(ctx, subaccounts.Client{
		ID: "operator", Name: "operator", Scopes: []string{subaccounts.ScopeAccountsAdmin}, SecretHash: "h", CreatedAt: now,
	}))

	tests := []struct {
		name    string
		account uuid.UUID
		want    []subaccounts.Client
	}{
		{"active clients of A only", a.ID, []subaccounts.Client{a1, a2}},
		{"B's client", b.ID, []subaccounts.Client{b1}},
		{"account without clients", empty.ID, nil},
		{"unknown account", uuid.Must(uuid.NewV7()), nil},
		{"nil account does not list operator clients", uuid.Nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListClients(ctx, tc.account, "", 100)
			mustNil(t, "ListClients", err)
			if len(got) != len(tc.want) {
				t.Fatalf("ListClients = %d clients, want %d", len(got), len(tc.want))
			}
			for i := range got {
				sameClient(t, got[i], tc.want[i])
			}
		})
	}
}

// testClientListOrder checks that ListClients pages through clients in id order, which
// for the issuer's UUIDv7 ids is creation order.
func testClientListOrder(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	var want []string
	for range 5 {
		c := subaccounts.Client{
			ID: uuid.Must(uuid.NewV7()).String(), AccountID: &a.ID, Name: "c",
			Scopes: []string{subaccounts.ScopeSubaccountsRead}, SecretHash: "h", CreatedAt: subaccounts.Now(),
		}
		mustNil(t, "CreateClient", db.CreateClient(ctx, c))
		want = append(want, c.ID)
	}
	var ids []string
	after := ""
	for range 3 {
		got, err := db.ListClients(ctx, a.ID, after, 2)
		mustNil(t, "ListClients", err)
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if len(got) > 0 {
			after = got[len(got)-1].ID
		}
	}
	if !slices.Equal(ids, want) {
		t.Errorf("ListClients pages = %q, want creation order %q", ids, want)
	}
}

func testClientRevoke(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	b := newAccount(t, db, "other")
	c := newClient(t, db, a.ID, nil, subaccounts.Now())
	kept := newClient(t, db, a.ID, nil, subaccounts.Now())

	wantErrIs(t, "RevokeClient(wrong account)", db.RevokeClient(ctx, b.ID, c.ID), subaccounts.ErrNotFound)
	got, err := db.GetClient(ctx, c.ID)
	mustNil(t, "GetClient after a refused revoke", err)
	sameClient(t, got, c)

	mustNil(t, "RevokeClient", db.RevokeClient(ctx, a.ID, c.ID))
	_, err = db.GetClient(ctx, c.ID)
	wantErrIs(t, "GetClient(revoked)", err, subaccounts.ErrNotFound)
	wantErrIs(t, "RevokeClient again", db.RevokeClient(ctx, a.ID, c.ID), subaccounts.ErrNotFound)
	wantErrIs(t, "RevokeClient(unknown)", db.RevokeClient(ctx, a.ID, "no-such-client"), subaccounts.ErrNotFound)
	wantErrIs(t, "CreateClient(revoked id)", db.CreateClient(ctx, c), subaccounts.ErrConflict)

	list, err := db.ListClients(ctx, a.ID, "", 100)
	mustNil(t, "ListClients", err)
	if len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("ListClients after revoke = %d clients, want only %s", len(list), kept.ID)
	}
}

func testOperatorClient(t *testing.T, db *store.DB) {
	ctx := t.Context()
	exists := func(t *testing.T, want bool) {
		t.Helper()
		got, err := db.OperatorClientExists(ctx)
		mustNil(t, "OperatorClientExists", err)
		if got != want {
			t.Fatalf("OperatorClientExists = %v, want %v", got, want)
		}
	}
	exists(t, false)

	// An account's client is not an operator client.
	a := newAccount(t, db, "acct")
	newClient(t, db, a.ID, nil, subaccounts.Now())
	exists(t, false)

	op := subaccounts.Client{
		ID:         "operator-1",
		Name:       "operator",
		Scopes:     []string{subaccounts.ScopeAccountsAdmin},
		SecretHash: "hash-1",
		CreatedAt:  subaccounts.Now(),
	}
	mustNil(t, "UpsertOperatorClient(create)", db.UpsertOperatorClient(ctx, op))
	exists(t, true)
	got, err := db.GetClient(ctx, op.ID)
	mustNil(t, "GetClient(operator)", err)
	sameClient(t, got, op)
	if got.AccountID != nil || got.SubaccountID != nil {
		t.Errorf("operator client has account %v / subaccount %v, want none", got.AccountID, got.SubaccountID)
	}

	replaced := op
	replaced.Name = "operator (rotated)"
	replaced.SecretHash = "hash-2"
	replaced.Scopes = []string{subaccounts.ScopeAccountsAdmin, subaccounts.ScopeSubaccountsRead}
	replaced.CreatedAt = op.CreatedAt.Add(time.Minute)
	mustNil(t, "UpsertOperatorClient(replace)", db.UpsertOperatorClient(ctx, replaced))
	got, err = db.GetClient(ctx, op.ID)
	mustNil(t, "GetClient(operator)", err)
	if got.SecretHash != "hash-2" || !slices.Equal(got.Scopes, replaced.Scopes) || got.Name != replaced.Name {
		t.Errorf("after replace: %s; want hash-2 with scopes %q named %q", fmtClient(got), replaced.Scopes, replaced.Name)
	}
	exists(t, true)

	// A second operator client with another id is a second row, not a replacement.
	second := op
	second.ID = "operator-2"
	mustNil(t, "UpsertOperatorClient(second)", db.UpsertOperatorClient(ctx, second))
	for _, id := range []string{"operator-1", "operator-2"} {
		if _, err := db.GetClient(ctx, id); err != nil {
			t.Errorf("GetClient(%s): %v", id, err)
		}
	}
}

func testOperatorRefusesAccount(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	c := subaccounts.Client{ID: "not-an-operator", AccountID: &a.ID, Name: "x", Scopes: []string{subaccounts.ScopeAccountsAdmin}, SecretHash: "h", CreatedAt: subaccounts.Now()}
	if err := db.UpsertOperatorClient(ctx, c); err == nil {
		t.Fatalf("UpsertOperatorClient with an AccountID succeeded, want an error")
	}
	_, err := db.GetClient(ctx, c.ID)
	wantErrIs(t, "GetClient(refused operator)", err, subaccounts.ErrNotFound)
	exists, err := db.OperatorClientExists(ctx)
	mustNil(t, "OperatorClientExists", err)
	if exists {
		t.Errorf("OperatorClientExists = true after a refused upsert")
	}
}

// testOperatorOverAccountClientID upserts an operator client whose id an account's client
// already has. The account's client must not be turned into an operator client, and the
// caller must learn, as ErrConflict, that no operator client was written.
func testOperatorOverAccountClientID(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	tenant := newClient(t, db, a.ID, nil, subaccounts.Now())
	op := subaccounts.Client{ID: tenant.ID, Name: "operator", Scopes: []string{subaccounts.ScopeAccountsAdmin}, SecretHash: "operator-hash", CreatedAt: subaccounts.Now()}

	err := db.UpsertOperatorClient(ctx, op)

	// Whatever the error, the tenant's client must be exactly as it was.
	got, gerr := db.GetClient(ctx, tenant.ID)
	mustNil(t, "GetClient(tenant client)", gerr)
	sameClient(t, got, tenant)
	exists, eerr := db.OperatorClientExists(ctx)
	mustNil(t, "OperatorClientExists", eerr)
	if exists {
		t.Errorf("OperatorClientExists = true, yet no operator client could be written")
	}
	wantErrIs(t, "UpsertOperatorClient(id of an account's client)", err, subaccounts.ErrConflict)
}
