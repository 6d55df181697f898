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

func subaccountTests() []storeTest {
	return []storeTest{
		{"Subaccount/RoundTrip", testSubaccountRoundTrip},
		{"Subaccount/GetUnknown", testSubaccountGetUnknown},
		{"Subaccount/ListFilters", testSubaccountListFilters},
		{"Subaccount/ListPages", testSubaccountListPages},
		{"Subaccount/AllAndCountExcludeDeleted", testSubaccountAllAndCount},
		{"Subaccount/UpdateFields", testSubaccountUpdateFields},
		{"Subaccount/UpdateEntitlements", testSubaccountUpdateEntitlements},
		{"Subaccount/UpdateUnknown", testSubaccountUpdateUnknown},
		{"Subaccount/UniqueName", testSubaccountUniqueName},
		{"Subaccount/DeleteTwice", testSubaccountDeleteTwice},
		{"Subaccount/DeleteRevokesConfinedClients", testSubaccountDeleteRevokesClients},
	}
}

func testSubaccountRoundTrip(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	set := policy.MustCompile([]policy.Configuration{
		cfg([]string{"GBR", "FRA"}, "VISA", "MASTERCARD"),
		cfg([]string{"USA"}, "MASTERCARD"),
	})
	now := subaccounts.Now()
	want := subaccounts.Subaccount{
		ID:             uuid.Must(uuid.NewV7()),
		AccountID:      a.ID,
		Name:           "Acme Corp – Zürich", // non-ASCII survives both databases
		Configurations: set.Normalize(),
		ConfigVersion:  4,
		Metadata:       map[string]string{"costCentre": "42", "owner": "ops@example.com"},
		Suspended:      true,
		CreatedAt:      now,
		UpdatedAt:      now.Add(1500 * time.Millisecond),
	}
	mustNil(t, "CreateSubaccount", db.CreateSubaccount(ctx, want, set.Pairs()))

	got, err := db.GetSubaccount(ctx, a.ID, want.ID)
	mustNil(t, "GetSubaccount", err)
	sameSubaccount(t, got, want)

	// The same value comes back from every read path.
	list, err := db.ListSubaccounts(ctx, a.ID, subaccounts.SubaccountFilter{}, subaccounts.Page{Limit: 10})
	mustNil(t, "ListSubaccounts", err)
	all, err := db.AllSubaccounts(ctx, a.ID)
	mustNil(t, "AllSubaccounts", err)
	for _, l := range [][]subaccounts.Subaccount{list, all} {
		if len(l) != 1 {
			t.Fatalf("listed %d subaccounts, want 1", len(l))
		}
		sameSubaccount(t, l[0], want)
	}
}

func testSubaccountGetUnknown(t *testing.T, db *store.DB) {
	a := newAccount(t, db, "acct")
	newSubaccount(t, db, a.ID, "exists", gbrVisa...)
	_, err := db.GetSubaccount(t.Context(), a.ID, uuid.Must(uuid.NewV7()))
	wantErrIs(t, "GetSubaccount(unknown)", err, subaccounts.ErrNotFound)
}

func testSubaccountListFilters(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")

	// Acme Corp permits GBR only on VISA and FRA only on MASTERCARD: a Country+Network
	// filter must match one entitlement row, not a country and a network from two rows.
	acmeCorp := newSubaccount(t, db, a.ID, "Acme Corp", cfg([]string{"GBR"}, "VISA"), cfg([]string{"FRA"}, "MASTERCARD"))
	acmeEU := newSubaccount(t, db, a.ID, "acme-eu", cfg([]string{"FRA", "DEU"}, "VISA", "MASTERCARD"))
	pct := newSubaccount(t, db, a.ID, "100% real", cfg([]string{"USA"}, "VISA"))
	pctLookalike := newSubaccount(t, db, a.ID, "100x real", cfg([]string{"USA"}, "MASTERCARD"))
	under := newSubaccount(t, db, a.ID, "a_b", cfg([]string{"GBR"}, "MASTERCARD"))
	underLookalike := newSubaccount(t, db, a.ID, "axb") // no entitlements at all
	zurich := newSubaccount(t, db, a.ID, "Zürich AG", cfg([]string{"CHE"}, "VISA"))
	deleted := newSubaccount(t, db, a.ID, "acme-deleted", cfg([]string{"GBR", "JPN"}, "VISA", "MASTERCARD"))
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, deleted.ID))
	otherTenant := newSubaccount(t, db, b.ID, "acme other tenant", cfg([]string{"GBR", "JPN"}, "VISA", "MASTERCARD"))
	live := []subaccounts.Subaccount{acmeCorp, acmeEU, pct, pctLookalike, under, underLookalike, zurich}

	ptr := func(id uuid.UUID) *uuid.UUID { return &id }
	tests := []struct {
		name   string
		filter subaccounts.SubaccountFilter
		want   []subaccounts.Subaccount
	}{
		{"no filter lists every live subaccount", subaccounts.SubaccountFilter{}, live},
		{"prefix is case-sensitive (lower)", subaccounts.SubaccountFilter{NamePrefix: "acme"}, []subaccounts.Subaccount{acmeEU}},
		{"prefix is case-sensitive (upper)", subaccounts.SubaccountFilter{NamePrefix: "Acme"}, []subaccounts.Subaccount{acmeCorp}},
		{"prefix ACME matches nothing", subaccounts.SubaccountFilter{NamePrefix: "ACME"}, nil},
		{"prefix equal to the whole name", subaccounts.SubaccountFilter{NamePrefix: "Acme Corp"}, []subaccounts.Subaccount{acmeCorp}},
		{"prefix longer than every name", subaccounts.SubaccountFilter{NamePrefix: "Acme Corporation"}, nil},
		{"percent sign is literal", subaccounts.SubaccountFilter{NamePrefix: "100%"}, []subaccounts.Subaccount{pct}},
		{"lone percent sign matches nothing", subaccounts.SubaccountFilter{NamePrefix: "%"}, nil},
		{"underscore is literal", subaccounts.SubaccountFilter{NamePrefix: "a_"}, []subaccounts.Subaccount{under}},
		{"lone underscore matches nothing", subaccounts.SubaccountFilter{NamePrefix: "_"}, nil},
		{"non-ASCII prefix counts characters", subaccounts.SubaccountFilter{NamePrefix: "Zü"}, []subaccounts.Subaccount{zurich}},
		{"country", subaccounts.SubaccountFilter{Country: "GBR"}, []subaccounts.Subaccount{acmeCorp, under}},
		{"country only a deleted one had", subaccounts.SubaccountFilter{Country: "JPN"}, nil},
		{"network VISA", subaccounts.SubaccountFilter{Network: "VISA"}, []subaccounts.Subaccount{acmeCorp, acmeEU, pct, zurich}},
		{"network MASTERCARD", subaccounts.SubaccountFilter{Network: "MASTERCARD"}, []subaccounts.Subaccount{acmeCorp, acmeEU, pctLookalike, under}},
		{"country and network on one row", subaccounts.SubaccountFilter{Country: "GBR", Network: "VISA"}, []subaccounts.Subaccount{acmeCorp}},
		{"country and network from different rows do not match", subaccounts.SubaccountFilter{Country: "FRA", Network: "VISA"}, []subaccounts.Subaccount{acmeEU}},
		{"country and network, other network", subaccounts.SubaccountFilter{Country: "GBR", Network: "MASTERCARD"}, []subaccounts.Subaccount{under}},
		{"prefix and country", subaccounts.SubaccountFilter{NamePrefix: "a", Country: "FRA"}, []subaccounts.Subaccount{acmeEU}},
		{"only", subaccounts.SubaccountFilter{Only: ptr(under.ID)}, []subaccounts.Subaccount{under}},
		{"only and a prefix it does not have", subaccounts.SubaccountFilter{Only: ptr(under.ID), NamePrefix: "acme"}, nil},
		{"only and a country it permits", subaccounts.SubaccountFilter{Only: ptr(acmeCorp.ID), Country: "FRA", Network: "MASTERCARD"}, []subaccounts.Subaccount{acmeCorp}},
		{"only and a pair it does not permit", subaccounts.SubaccountFilter{Only: ptr(acmeCorp.ID), Country: "FRA", Network: "VISA"}, nil},
		{"only a deleted subaccount", subaccounts.SubaccountFilter{Only: ptr(deleted.ID)}, nil},
		{"only another tenant's subaccount", subaccounts.SubaccountFilter{Only: ptr(otherTenant.ID)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.ListSubaccounts(ctx, a.ID, tc.filter, subaccounts.Page{Limit: 100})
			mustNil(t, "ListSubaccounts", err)
			if want := inIDOrder(tc.want...); !slices.Equal(names(got), want) {
				t.Errorf("ListSubaccounts(%+v) = %q, want %q", tc.filter, names(got), want)
			}
		})
	}
}

func testSubaccountListPages(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	var subs, visa []subaccounts.Subaccount
	for _, n := range []string{"e", "d", "c", "b", "a", "f", "g"} {
		configs := fraMC
		if n < "f" {
			configs = gbrVisa
		}
		s := newSubaccount(t, db, a.ID, "sub-"+n, configs...)
		subs = append(subs, s)
		if n < "f" {
			visa = append(visa, s)
		}
	}
	tests := []struct {
		name   string
		filter subaccounts.SubaccountFilter
		limit  int
		want   []subaccounts.Subaccount
	}{
		{"all, pages of 2", subaccounts.SubaccountFilter{}, 2, subs},
		{"all, pages of 3", subaccounts.SubaccountFilter{}, 3, subs},
		{"all, one page", subaccounts.SubaccountFilter{}, 7, subs},
		{"filtered, pages of 2", subaccounts.SubaccountFilter{NamePrefix: "sub-", Country: "GBR"}, 2, visa},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []subaccounts.Subaccount
			after := uuid.Nil
			for range len(tc.want) + 2 {
				page, err := db.ListSubaccounts(ctx, a.ID, tc.filter, subaccounts.Page{Limit: tc.limit, After: after})
				mustNil(t, "ListSubaccounts", err)
				if len(page) > tc.limit {
					t.Fatalf("page of %d items, limit %d", len(page), tc.limit)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, page...)
				after = page[len(page)-1].ID
			}
			if want := inIDOrder(tc.want...); !slices.Equal(names(got), want) {
				t.Errorf("names across pages = %q, want %q", names(got), want)
			}
		})
	}
}

func testSubaccountAllAndCount(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	empty := newAccount(t, db, "empty")
	x := newSubaccount(t, db, a.ID, "x", gbrVisa...)
	y := newSubaccount(t, db, a.ID, "y")
	z := newSubaccount(t, db, a.ID, "z", fraMC...)
	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, y.ID))

	tests := []struct {
		name    string
		account uuid.UUID
		want    []subaccounts.Subaccount
	}{
		{"deleted subaccount left out", a.ID, []subaccounts.Subaccount{x, z}},
		{"account without subaccounts", empty.ID, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all, err := db.AllSubaccounts(ctx, tc.account)
			mustNil(t, "AllSubaccounts", err)
			if want := inIDOrder(tc.want...); !slices.Equal(names(all), want) {
				t.Errorf("AllSubaccounts = %q, want %q", names(all), want)
			}
			n, err := db.CountSubaccounts(ctx, tc.account)
			mustNil(t, "CountSubaccounts", err)
			if n != len(tc.want) {
				t.Errorf("CountSubaccounts = %d, want %d", n, len(tc.want))
			}
		})
	}
}

func testSubaccountUpdateFields(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "before", gbrVisa...)
	neighbour := newSubaccount(t, db, a.ID, "neighbour", gbrVisa...)

	s.Name = "after"
	s.Metadata = map[string]string{"k": "v"}
	s.Suspended = true
	s.UpdatedAt = s.UpdatedAt.Add(2 * time.Second)
	mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s, nil))

	got, err := db.GetSubaccount(ctx, a.ID, s.ID)
	mustNil(t, "GetSubaccount", err)
	sameSubaccount(t, got, s)
	gotNeighbour, err := db.GetSubaccount(ctx, a.ID, neighbour.ID)
	mustNil(t, "GetSubaccount(neighbour)", err)
	sameSubaccount(t, gotNeighbour, neighbour)

	// Suspended goes back to false: a zero value is written, not skipped.
	s.Suspended = false
	s.Metadata = map[string]string{}
	mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s, nil))
	got, err = db.GetSubaccount(ctx, a.ID, s.ID)
	mustNil(t, "GetSubaccount", err)
	sameSubaccount(t, got, s)
}

func testSubaccountUpdateEntitlements(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "moving", gbrVisa...)
	other := newSubaccount(t, db, a.ID, "other", gbrVisa...)

	// listed returns the names of the subaccounts permitting country on network.
	listed := func(t *testing.T, country, network string) []string {
		t.Helper()
		got, err := db.ListSubaccounts(ctx, a.ID, subaccounts.SubaccountFilter{Country: country, Network: network}, subaccounts.Page{Limit: 10})
		mustNil(t, "ListSubaccounts", err)
		return names(got)
	}
	type lookup struct {
		country, network string
		want             []string
	}
	steps := []struct {
		name    string
		configs []policy.Configuration
		pairs   func(set *policy.Set) []policy.Pair
		lookups []lookup
	}{
		{
			name:    "pairs replace the entitlement rows",
			configs: fraMC,
			pairs:   (*policy.Set).Pairs,
			lookups: []lookup{
				{"GBR", "VISA", inIDOrder(other)},
				{"FRA", "MASTERCARD", []string{"moving"}},
			},
		},
		{
			name:    "nil pairs leave them",
			configs: nil, // configurations unchanged
			pairs:   func(*policy.Set) []policy.Pair { return nil },
			lookups: []lookup{
				{"GBR", "VISA", inIDOrder(other)},
				{"FRA", "MASTERCARD", []string{"moving"}},
			},
		},
		{
			name:    "empty pairs clear them",
			configs: []policy.Configuration{},
			pairs:   func(*policy.Set) []policy.Pair { return []policy.Pair{} },
			lookups: []lookup{
				{"GBR", "VISA", inIDOrder(other)},
				{"FRA", "", nil},
				{"", "MASTERCARD", nil},
			},
		},
		{
			name:    "pairs can add several rows again",
			configs: []policy.Configuration{cfg([]string{"GBR", "USA"}, "VISA", "MASTERCARD")},
			pairs:   (*policy.Set).Pairs,
			lookups: []lookup{
				{"GBR", "VISA", inIDOrder(s, other)},
				{"USA", "MASTERCARD", []string{"moving"}},
				{"FRA", "", nil},
			},
		},
	}
	for _, step := range steps {
		// Steps build on each other, so they run in order and stop at the first failure.
		ok := t.Run(step.name, func(t *testing.T) {
			if step.configs != nil {
				set := policy.MustCompile(step.configs)
				s.Configurations = set.Normalize()
				s.ConfigVersion++
			}
			s.UpdatedAt = s.UpdatedAt.Add(time.Second)
			s.Name = "moving"
			mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, s, step.pairs(policy.MustCompile(s.Configurations))))
			got, err := db.GetSubaccount(ctx, a.ID, s.ID)
			mustNil(t, "GetSubaccount", err)
			sameSubaccount(t, got, s)
			for _, l := range step.lookups {
				if got := listed(t, l.country, l.network); !slices.Equal(got, l.want) {
					t.Errorf("subaccounts permitting (%q, %q) = %q, want %q", l.country, l.network, got, l.want)
				}
			}
		})
		if !ok {
			break
		}
	}
}

func testSubaccountUpdateUnknown(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	ghost, pairs := subaccountValue(a.ID, "ghost", gbrVisa)
	wantErrIs(t, "UpdateSubaccount(unknown)", db.UpdateSubaccount(ctx, ghost, pairs), subaccounts.ErrNotFound)
	wantErrIs(t, "UpdateSubaccount(unknown, nil pairs)", db.UpdateSubaccount(ctx, ghost, nil), subaccounts.ErrNotFound)
	if _, err := db.GetSubaccount(ctx, a.ID, ghost.ID); err == nil {
		t.Errorf("UpdateSubaccount of an unknown id created it")
	}
}

func testSubaccountUniqueName(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "A")
	b := newAccount(t, db, "B")
	taken := newSubaccount(t, db, a.ID, "taken", gbrVisa...)
	free := newSubaccount(t, db, a.ID, "free", gbrVisa...)

	t.Run("create with a taken name", func(t *testing.T) {
		dup, pairs := subaccountValue(a.ID, "taken", fraMC)
		wantErrIs(t, "CreateSubaccount(duplicate name)", db.CreateSubaccount(ctx, dup, pairs), subaccounts.ErrConflict)
		n, err := db.CountSubaccounts(ctx, a.ID)
		mustNil(t, "CountSubaccounts", err)
		if n != 2 {
			t.Errorf("CountSubaccounts = %d after a refused create, want 2", n)
		}
	})
	t.Run("names differing only in case are distinct", func(t *testing.T) {
		newSubaccount(t, db, a.ID, "TAKEN")
	})
	t.Run("update to a taken name", func(t *testing.T) {
		renamed := free
		renamed.Name = "taken"
		renamed.UpdatedAt = renamed.UpdatedAt.Add(time.Second)
		wantErrIs(t, "UpdateSubaccount(duplicate name)", db.UpdateSubaccount(ctx, renamed, nil), subaccounts.ErrConflict)
		got, err := db.GetSubaccount(ctx, a.ID, free.ID)
		mustNil(t, "GetSubaccount", err)
		sameSubaccount(t, got, free)
	})
	t.Run("update keeping its own name", func(t *testing.T) {
		same := taken
		same.Suspended = true
		mustNil(t, "UpdateSubaccount(own name)", db.UpdateSubaccount(ctx, same, nil))
	})
	t.Run("same name in another account", func(t *testing.T) {
		newSubaccount(t, db, b.ID, "taken", gbrVisa...)
	})
	t.Run("a deleted subaccount frees its name", func(t *testing.T) {
		mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, taken.ID))
		again := newSubaccount(t, db, a.ID, "taken", fraMC...)
		got, err := db.ListSubaccounts(ctx, a.ID, subaccounts.SubaccountFilter{NamePrefix: "taken"}, subaccounts.Page{Limit: 10})
		mustNil(t, "ListSubaccounts", err)
		if len(got) != 1 || got[0].ID != again.ID {
			t.Errorf("ListSubaccounts(prefix taken) = %v, want only the new subaccount %s", got, again.ID)
		}
		renamed := free
		renamed.Name = "taken-too"
		mustNil(t, "UpdateSubaccount", db.UpdateSubaccount(ctx, renamed, nil))
		mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, renamed.ID))
		newSubaccount(t, db, a.ID, "taken-too")
	})
}

func testSubaccountDeleteTwice(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	s := newSubaccount(t, db, a.ID, "doomed", gbrVisa...)
	keep := newSubaccount(t, db, a.ID, "kept", gbrVisa...)

	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, s.ID))
	wantErrIs(t, "DeleteSubaccount again", db.DeleteSubaccount(ctx, a.ID, s.ID), subaccounts.ErrNotFound)
	_, err := db.GetSubaccount(ctx, a.ID, s.ID)
	wantErrIs(t, "GetSubaccount(deleted)", err, subaccounts.ErrNotFound)
	s.Name = "resurrected"
	wantErrIs(t, "UpdateSubaccount(deleted)", db.UpdateSubaccount(ctx, s, nil), subaccounts.ErrNotFound)
	wantErrIs(t, "DeleteSubaccount(unknown)", db.DeleteSubaccount(ctx, a.ID, uuid.Must(uuid.NewV7())), subaccounts.ErrNotFound)

	got, err := db.ListSubaccounts(ctx, a.ID, subaccounts.SubaccountFilter{Country: "GBR"}, subaccounts.Page{Limit: 10})
	mustNil(t, "ListSubaccounts", err)
	if !slices.Equal(names(got), []string{keep.Name}) {
		t.Errorf("ListSubaccounts(GBR) after delete = %q, want only %q", names(got), keep.Name)
	}
}

func testSubaccountDeleteRevokesClients(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	doomed := newSubaccount(t, db, a.ID, "doomed")
	kept := newSubaccount(t, db, a.ID, "kept")
	now := subaccounts.Now()
	confined := newClient(t, db, a.ID, &doomed.ID, now)
	confinedToo := newClient(t, db, a.ID, &doomed.ID, now.Add(time.Second))
	elsewhere := newClient(t, db, a.ID, &kept.ID, now.Add(2*time.Second))
	wholeAccount := newClient(t, db, a.ID, nil, now.Add(3*time.Second))

	mustNil(t, "DeleteSubaccount", db.DeleteSubaccount(ctx, a.ID, doomed.ID))

	tests := []struct {
		name   string
		client subaccounts.Client
		active bool
	}{
		{"confined to the deleted subaccount", confined, false},
		{"second client confined to it", confinedToo, false},
		{"confined to another subaccount", elsewhere, true},
		{"not confined", wholeAccount, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.GetClient(ctx, tc.client.ID)
			if !tc.active {
				wantErrIs(t, "GetClient(revoked)", err, subaccounts.ErrNotFound)
				return
			}
			mustNil(t, "GetClient", err)
			sameClient(t, got, tc.client)
		})
	}
	list, err := db.ListClients(ctx, a.ID, "", 100)
	mustNil(t, "ListClients", err)
	var ids []string
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	want := []string{elsewhere.ID, wholeAccount.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("ListClients after delete = %q, want %q", ids, want)
	}
}
