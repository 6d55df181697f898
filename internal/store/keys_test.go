package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func signingKeyTests() []storeTest {
	return []storeTest{
		{"SigningKey/NewestFirst", testSigningKeysNewestFirst},
		{"SigningKey/DuplicateKID", testSigningKeyDuplicate},
		{"SigningKey/LockedCreateHappensOnce", testSigningKeyLockedCreateOnce},
	}
}

func signingKey(kid string, at time.Time) subaccounts.SigningKey {
	return subaccounts.SigningKey{
		KID:        kid,
		Algorithm:  "RS256",
		PrivateKey: "-----BEGIN PRIVATE KEY-----\n" + kid + "\n-----END PRIVATE KEY-----\n",
		CreatedAt:  at,
	}
}

func testSigningKeysNewestFirst(t *testing.T, db *store.DB) {
	ctx := t.Context()
	keys, err := db.SigningKeys(ctx)
	mustNil(t, "SigningKeys(empty)", err)
	if len(keys) != 0 {
		t.Fatalf("SigningKeys on a new database = %d keys, want none", len(keys))
	}

	// Within one second as well as across seconds: replicas that start together create
	// their keys moments apart, and all of them must agree on the newest.
	base := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	tests := []struct {
		kid    string
		offset time.Duration
	}{
		{"k-0ms", 0},
		{"k-100ms", 100 * time.Millisecond},
		{"k-120ms", 120 * time.Millisecond},
		{"k-999ms", 999 * time.Millisecond},
		{"k-1s", time.Second},
		{"k-1s5ms", time.Second + 5*time.Millisecond},
	}
	// Insert out of order, so the database and not insertion order decides.
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		mustNil(t, "CreateSigningKey", db.CreateSigningKey(ctx, signingKey(tests[i].kid, base.Add(tests[i].offset))))
	}
	keys, err = db.SigningKeys(ctx)
	mustNil(t, "SigningKeys", err)
	if len(keys) != len(tests) {
		t.Fatalf("SigningKeys = %d keys, want %d", len(keys), len(tests))
	}
	byKID := map[string]subaccounts.SigningKey{}
	var got, want []string
	for _, k := range keys {
		byKID[k.KID] = k
		got = append(got, k.KID)
	}
	for _, tc := range slices.Backward(tests) {
		want = append(want, tc.kid)
		k := byKID[tc.kid]
		if w := signingKey(tc.kid, base.Add(tc.offset)); !k.CreatedAt.Equal(w.CreatedAt) || k.Algorithm != w.Algorithm || k.PrivateKey != w.PrivateKey {
			t.Errorf("key %s = %+v, want %+v", tc.kid, k, w)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("SigningKeys order = %q, want newest first %q", got, want)
	}
}

func testSigningKeyDuplicate(t *testing.T, db *store.DB) {
	ctx := t.Context()
	first := signingKey("kid-1", subaccounts.Now())
	mustNil(t, "CreateSigningKey", db.CreateSigningKey(ctx, first))
	dup := signingKey("kid-1", subaccounts.Now().Add(time.Hour))
	dup.PrivateKey = "replacement"
	wantErrIs(t, "CreateSigningKey(duplicate kid)", db.CreateSigningKey(ctx, dup), subaccounts.ErrConflict)

	keys, err := db.SigningKeys(ctx)
	mustNil(t, "SigningKeys", err)
	if len(keys) != 1 || keys[0].PrivateKey != first.PrivateKey || !keys[0].CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("SigningKeys after a refused duplicate = %+v, want only the first key", keys)
	}
}

// testSigningKeyLockedCreateOnce runs the issuer's read-or-create from many goroutines at
// once, as replicas starting together do: LockSigningKeys must make all but the first see
// the first one's key, so exactly one key exists and everyone chose it.
func testSigningKeyLockedCreateOnce(t *testing.T, db *store.DB) {
	ctx := t.Context()
	mustNil(t, "LockSigningKeys outside a transaction", db.LockSigningKeys(ctx))

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
				if err := db.LockSigningKeys(ctx); err != nil {
					return fmt.Errorf("lock: %w", err)
				}
				keys, err := db.SigningKeys(ctx)
				if err != nil {
					return err
				}
				if len(keys) > 0 {
					chosen[i] = keys[0].KID
					return nil
				}
				k := signingKey(fmt.Sprintf("replica-%02d", i), subaccounts.Now())
				chosen[i] = k.KID
				return db.CreateSigningKey(ctx, k)
			})
		})
	}
	wg.Wait()
	mustNil(t, "Transact", errors.Join(errs...))

	keys, err := db.SigningKeys(ctx)
	mustNil(t, "SigningKeys", err)
	if len(keys) != 1 {
		var kids []string
		for _, k := range keys {
			kids = append(kids, k.KID)
		}
		t.Fatalf("%d workers created %d keys %q, want exactly 1", workers, len(keys), kids)
	}
	for i, kid := range chosen {
		if kid != keys[0].KID {
			t.Errorf("worker %d chose key %q, want the one stored key %q", i, kid, keys[0].KID)
		}
	}
}
