package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func transactTests() []storeTest {
	return []storeTest{
		{"Transact/Commits", testTransactCommits},
		{"Transact/RollsBack", testTransactRollsBack},
		{"Transact/ReturnsFnError", testTransactReturnsFnError},
		{"Transact/LockAccount", testTransactLockAccount},
		{"Transact/ConcurrentCreatesRespectMax", testTransactConcurrentMax},
	}
}

func testTransactCommits(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := accountValue("made in a transaction", 3)
	s, pairs := subaccountValue(a.ID, "sub", gbrVisa)
	err := db.Transact(ctx, func(ctx context.Context) error {
		if err := db.CreateAccount(ctx, a); err != nil {
			return err
		}
		return db.CreateSubaccount(ctx, s, pairs)
	})
	mustNil(t, "Transact", err)

	gotA, err := db.GetAccount(ctx, a.ID, false)
	mustNil(t, "GetAccount after commit", err)
	sameAccount(t, gotA, a)
	gotS, err := db.GetSubaccount(ctx, a.ID, s.ID)
	mustNil(t, "GetSubaccount after commit", err)
	sameSubaccount(t, gotS, s)
	byPair, err := db.ListSubaccounts(ctx, a.ID, subaccounts.SubaccountFilter{Country: "GBR", Network: "VISA"}, subaccounts.Page{Limit: 10})
	mustNil(t, "ListSubaccounts", err)
	if len(byPair) != 1 {
		t.Errorf("entitlement rows written in the transaction: ListSubaccounts(GBR VISA) = %q, want [sub]", names(byPair))
	}
}

func testTransactRollsBack(t *testing.T, db *store.DB) {
	ctx := t.Context()
	existing := newAccount(t, db, "existing")
	kept := newSubaccount(t, db, existing.ID, "kept", gbrVisa...)
	client := newClient(t, db, existing.ID, &kept.ID, subaccounts.Now())

	errBoom := errors.New("boom")
	inner := accountValue("inner", 1)
	innerSub, innerPairs := subaccountValue(existing.ID, "inner sub", fraMC)
	err := db.Transact(ctx, func(ctx context.Context) error {
		if err := db.CreateAccount(ctx, inner); err != nil {
			return err
		}
		if err := db.CreateSubaccount(ctx, innerSub, innerPairs); err != nil {
			return err
		}
		renamed := existing
		renamed.Name = "renamed"
		if err := db.UpdateAccount(ctx, renamed); err != nil {
			return err
		}
		changed := kept
		changed.Name = "changed"
		if err := db.UpdateSubaccount(ctx, changed, policy.MustCompile(fraMC).Pairs()); err != nil {
			return err
		}
		if err := db.RevokeClient(ctx, existing.ID, client.ID); err != nil {
			return err
		}
		// The transaction sees its own writes.
		if _, err := db.GetSubaccount(ctx, existing.ID, innerSub.ID); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return fmt.Errorf("step 6: %w", errBoom)
	})
	wantErrIs(t, "Transact", err, errBoom)

	_, err = db.GetAccount(ctx, inner.ID, false)
	wantErrIs(t, "GetAccount(created in the rolled-back transaction)", err, subaccounts.ErrNotFound)
	_, err = db.GetSubaccount(ctx, existing.ID, innerSub.ID)
	wantErrIs(t, "GetSubaccount(created in the rolled-back transaction)", err, subaccounts.ErrNotFound)
	gotA, err := db.GetAccount(ctx, existing.ID, false)
	mustNil(t, "GetAccount", err)
	sameAccount(t, gotA, existing)
	gotS, err := db.GetSubaccount(ctx, existing.ID, kept.ID)
	mustNil(t, "GetSubaccount", err)
	sameSubaccount(t, gotS, kept)
	gotC, err := db.GetClient(ctx, client.ID)
	mustNil(t, "GetClient(revoked in the rolled-back transaction)", err)
	sameClient(t, gotC, client)
	n, err := db.CountSubaccounts(ctx, existing.ID)
	mustNil(t, "CountSubaccounts", err)
	if n != 1 {
		t.Errorf("CountSubaccounts = %d after rollback, want 1", n)
	}
	for _, f := range []subaccounts.SubaccountFilter{{Country: "GBR", Network: "VISA"}, {Country: "FRA"}} {
		got, err := db.ListSubaccounts(ctx, existing.ID, f, subaccounts.Page{Limit: 10})
		mustNil(t, "ListSubaccounts", err)
		want := []string{}
		if f.Country == "GBR" {
			want = []string{"kept"}
		}
		if len(got) != len(want) || (len(want) == 1 && got[0].Name != want[0]) {
			t.Errorf("ListSubaccounts(%+v) after rollback = %q, want %q", f, names(got), want)
		}
	}
}

func testTransactReturnsFnError(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "acct")
	newSubaccount(t, db, a.ID, "taken")
	errSentinel := errors.New("sentinel")
	domainErr := subaccounts.Errorf(subaccounts.CodeProvisioning, "Maximum number of subaccounts reached (%d).", 0)

	tests := []struct {
		name  string
		fn    func(ctx context.Context) error
		check func(t *testing.T, err error)
	}{
		{
			name: "the very error",
			fn:   func(context.Context) error { return errSentinel },
			check: func(t *testing.T, err error) {
				if err != errSentinel {
					t.Errorf("Transact = %v, want the fn's error itself", err)
				}
			},
		},
		{
			name: "a wrapped sentinel",
			fn:   func(context.Context) error { return fmt.Errorf("context: %w", errSentinel) },
			check: func(t *testing.T, err error) {
				wantErrIs(t, "Transact", err, errSentinel)
			},
		},
		{
			name: "a domain error",
			fn:   func(context.Context) error { return domainErr },
			check: func(t *testing.T, err error) {
				var e *subaccounts.Error
				if !errors.As(err, &e) || e.Code != subaccounts.CodeProvisioning {
					t.Errorf("Transact = %v, want the *subaccounts.Error with code %q", err, subaccounts.CodeProvisioning)
				}
			},
		},
		{
			name: "not found from the store",
			fn: func(ctx context.Context) error {
				_, err := db.GetAccount(ctx, uuid.Must(uuid.NewV7()), true)
				return err
			},
			check: func(t *testing.T, err error) { wantErrIs(t, "Transact", err, subaccounts.ErrNotFound) },
		},
		{
			name: "conflict from the store",
			fn: func(ctx context.Context) error {
				s, pairs := subaccountValue(a.ID, "taken", nil)
				return db.CreateSubaccount(ctx, s, pairs)
			},
			check: func(t *testing.T, err error) { wantErrIs(t, "Transact", err, subaccounts.ErrConflict) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := db.Transact(ctx, func(ctx context.Context) error { calls++; return tc.fn(ctx) })
			tc.check(t, err)
			if calls != 1 {
				t.Errorf("fn ran %d times, want once (its error is not retryable)", calls)
			}
		})
	}
}

func testTransactLockAccount(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := newAccount(t, db, "locked")
	var got subaccounts.Account
	err := db.Transact(ctx, func(ctx context.Context) error {
		var err error
		got, err = db.GetAccount(ctx, a.ID, true)
		if err != nil {
			return err
		}
		// Writing the locked row in the same transaction works.
		updated := got
		updated.Name = "locked and renamed"
		return db.UpdateAccount(ctx, updated)
	})
	mustNil(t, "Transact(GetAccount lock=true)", err)
	sameAccount(t, got, a)
	after, err := db.GetAccount(ctx, a.ID, false)
	mustNil(t, "GetAccount", err)
	if after.Name != "locked and renamed" {
		t.Errorf("account name = %q after commit, want %q", after.Name, "locked and renamed")
	}
}

// testTransactConcurrentMax runs the service's check-then-insert from many goroutines at
// once. Only the account row lock (PostgreSQL) or the immediate transaction (SQLite)
// keeps them from all seeing a count below the maximum.
func testTransactConcurrentMax(t *testing.T, db *store.DB) {
	ctx := t.Context()
	const maxSubaccounts, workers = 5, 20
	a := accountValue("limited", maxSubaccounts)
	mustNil(t, "CreateAccount", db.CreateAccount(ctx, a))
	other := newAccount(t, db, "other")
	newSubaccount(t, db, other.ID, "not counted")

	errFull := errors.New("maximum reached")
	errs := make([]error, workers)
	together := newBarrier(db, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			s, pairs := subaccountValue(a.ID, fmt.Sprintf("worker %02d", i), gbrVisa)
			errs[i] = db.Transact(ctx, func(ctx context.Context) error {
				if err := together.wait(); err != nil {
					return err
				}
				acc, err := db.GetAccount(ctx, a.ID, true)
				if err != nil {
					return err
				}
				n, err := db.CountSubaccounts(ctx, a.ID)
				if err != nil {
					return err
				}
				if n >= acc.Contract.MaxSubaccounts {
					return errFull
				}
				return db.CreateSubaccount(ctx, s, pairs)
			})
		})
	}
	wg.Wait()

	created, full := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, errFull):
			full++
		default:
			t.Errorf("worker %d: %v", i, err)
		}
	}
	n, err := db.CountSubaccounts(ctx, a.ID)
	mustNil(t, "CountSubaccounts", err)
	all, err := db.AllSubaccounts(ctx, a.ID)
	mustNil(t, "AllSubaccounts", err)
	if n != maxSubaccounts || len(all) != maxSubaccounts || created != maxSubaccounts || full != workers-maxSubaccounts {
		t.Errorf("count %d, listed %d, %d transactions created and %d saw the maximum; want %d, %d, %d, %d",
			n, len(all), created, full, maxSubaccounts, maxSubaccounts, maxSubaccounts, workers-maxSubaccounts)
	}
}
