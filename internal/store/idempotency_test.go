package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/ncruces/go-sqlite3"

	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestIdempotency runs the ambient-transaction and idempotency-key cases against every
// dialect, each on a database of its own.
func TestIdempotency(t *testing.T) {
	tests := []storeTest{
		{"ClaimRolledBackLeavesNoRow", testClaimRolledBack},
		{"ClaimCommittedLeavesOneRow", testClaimCommitted},
		{"EffectAndClaimFailTogether", testEffectAndClaimFailTogether},
		{"KeysAreScopedByAccount", testKeysScopedByAccount},
		{"TransactNests", testTransactNests},
		{"TransactRetriesAfterRetryableError", testTransactRetries},
		{"DeleteBefore", testDeleteIdempotencyKeysBefore},
		{"ConcurrentClaimWaitsForTheFirst", testConcurrentClaimWaits},
	}
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, storetest.Open(t, dialect))
				})
			}
		})
	}
}

func keyRecord(account uuid.UUID, key string) idempotency.Record {
	return idempotency.Record{
		AccountID: account, Key: key, Method: "POST", Path: "/v1/subaccounts",
		RequestHash: "hash-" + key, CreatedAt: subaccounts.Now(),
	}
}

func claim(ctx context.Context, t *testing.T, db *store.DB, r idempotency.Record) bool {
	t.Helper()
	ok, err := db.ClaimIdempotencyKey(ctx, r)
	mustNil(t, "ClaimIdempotencyKey", err)
	return ok
}

func testClaimRolledBack(t *testing.T, db *store.DB) {
	ctx := t.Context()
	acct := uuid.New()
	errBoom := errors.New("boom")
	err := db.Transact(ctx, func(ctx context.Context) error {
		if !db.InTransaction(ctx) {
			t.Error("InTransaction inside Transact = false")
		}
		if !claim(ctx, t, db, keyRecord(acct, "k1")) {
			t.Error("first claim not claimed")
		}
		// The transaction sees its own claim.
		if _, err := db.GetIdempotencyKey(ctx, acct, "k1"); err != nil {
			t.Errorf("GetIdempotencyKey inside the transaction: %v", err)
		}
		return errBoom
	})
	wantErrIs(t, "Transact", err, errBoom)
	if db.InTransaction(ctx) {
		t.Error("InTransaction outside Transact = true")
	}
	_, err = db.GetIdempotencyKey(ctx, acct, "k1")
	wantErrIs(t, "GetIdempotencyKey after rollback", err, subaccounts.ErrNotFound)
}

func testClaimCommitted(t *testing.T, db *store.DB) {
	ctx := t.Context()
	acct := uuid.New()
	body := []byte{0, 1, 2, 'x', 0xff}
	err := db.Transact(ctx, func(ctx context.Context) error {
		r := keyRecord(acct, "k1")
		if !claim(ctx, t, db, r) {
			t.Error("first claim not claimed")
		}
		r.Status, r.ContentType, r.Location, r.ETag, r.SealedBody = 201, "application/json", "/v1/x", `"v1"`, body
		return db.CompleteIdempotencyKey(ctx, r)
	})
	mustNil(t, "Transact", err)
	got, err := db.GetIdempotencyKey(ctx, acct, "k1")
	mustNil(t, "GetIdempotencyKey", err)
	if got.Status != 201 || got.ContentType != "application/json" || got.Location != "/v1/x" || got.ETag != `"v1"` ||
		!bytes.Equal(got.SealedBody, body) || got.RequestHash != "hash-k1" || got.Method != "POST" || got.Path != "/v1/subaccounts" {
		t.Errorf("stored key = %+v", got)
	}
	// A second claim of the committed key is refused, and refusing it writes nothing.
	err = db.Transact(ctx, func(ctx context.Context) error {
		if claim(ctx, t, db, keyRecord(acct, "k1")) {
			t.Error("second claim of a committed key claimed it")
		}
		return nil
	})
	mustNil(t, "Transact", err)
	again, err := db.GetIdempotencyKey(ctx, acct, "k1")
	mustNil(t, "GetIdempotencyKey", err)
	if again.Status != 201 || !bytes.Equal(again.SealedBody, body) {
		t.Errorf("a refused claim changed the stored key: %+v", again)
	}
}

// testEffectAndClaimFailTogether is the crash-consistency case: a request's effect and its
// key's claim share one transaction, so a failure after both leaves neither.
func testEffectAndClaimFailTogether(t *testing.T, db *store.DB) {
	ctx := t.Context()
	a := accountValue("effect", 3)
	errCrash := errors.New("crash before commit")
	err := db.Transact(ctx, func(ctx context.Context) error {
		if !claim(ctx, t, db, keyRecord(uuid.Nil, "create-account")) {
			t.Error("claim not claimed")
		}
		mustNil(t, "CreateAccount", db.CreateAccount(ctx, a))
		return errCrash
	})
	wantErrIs(t, "Transact", err, errCrash)
	_, err = db.GetAccount(ctx, a.ID, false)
	wantErrIs(t, "GetAccount", err, subaccounts.ErrNotFound)
	_, err = db.GetIdempotencyKey(ctx, uuid.Nil, "create-account")
	wantErrIs(t, "GetIdempotencyKey", err, subaccounts.ErrNotFound)

	// And a success keeps both.
	err = db.Transact(ctx, func(ctx context.Context) error {
		if !claim(ctx, t, db, keyRecord(uuid.Nil, "create-account")) {
			t.Error("claim after the rollback not claimed")
		}
		return db.CreateAccount(ctx, a)
	})
	mustNil(t, "Transact", err)
	_, err = db.GetAccount(ctx, a.ID, false)
	mustNil(t, "GetAccount", err)
	_, err = db.GetIdempotencyKey(ctx, uuid.Nil, "create-account")
	mustNil(t, "GetIdempotencyKey", err)
}

func testKeysScopedByAccount(t *testing.T, db *store.DB) {
	ctx := t.Context()
	one, other := uuid.New(), uuid.New()
	err := db.Transact(ctx, func(ctx context.Context) error {
		if !claim(ctx, t, db, keyRecord(one, "same")) || !claim(ctx, t, db, keyRecord(other, "same")) {
			t.Error("the same key of two accounts was not claimed by both")
		}
		return nil
	})
	mustNil(t, "Transact", err)
	_, err = db.GetIdempotencyKey(ctx, uuid.New(), "same")
	wantErrIs(t, "GetIdempotencyKey of a third account", err, subaccounts.ErrNotFound)
}

// testTransactNests checks that Transact inside Transact is a nested transaction: its
// error rolls back its own writes only, and what it commits waits for the outer commit.
func testTransactNests(t *testing.T, db *store.DB) {
	ctx := t.Context()
	kept, dropped, outer := accountValue("kept", 1), accountValue("dropped", 1), accountValue("outer", 1)
	errRefused := errors.New("refused")
	err := db.Transact(ctx, func(ctx context.Context) error {
		mustNil(t, "CreateAccount outer", db.CreateAccount(ctx, outer))
		mustNil(t, "Transact kept", db.Transact(ctx, func(ctx context.Context) error { return db.CreateAccount(ctx, kept) }))
		err := db.Transact(ctx, func(ctx context.Context) error {
			if err := db.CreateAccount(ctx, dropped); err != nil {
				return err
			}
			return errRefused
		})
		wantErrIs(t, "Transact dropped", err, errRefused)
		// A unique violation inside a nested transaction leaves the outer one usable
		// (PostgreSQL would otherwise abort it).
		err = db.Transact(ctx, func(ctx context.Context) error { return db.CreateAccount(ctx, kept) })
		wantErrIs(t, "Transact duplicate", err, subaccounts.ErrConflict)
		_, err = db.GetAccount(ctx, kept.ID, false)
		mustNil(t, "GetAccount inside", err)
		return nil
	})
	mustNil(t, "Transact", err)
	for _, a := range []subaccounts.Account{outer, kept} {
		_, err := db.GetAccount(ctx, a.ID, false)
		mustNil(t, "GetAccount "+a.Name, err)
	}
	_, err = db.GetAccount(ctx, dropped.ID, false)
	wantErrIs(t, "GetAccount dropped", err, subaccounts.ErrNotFound)
}

// testTransactRetries: a retryable error inside a nested transaction makes Transact
// roll the attempt back and run everything again, even when fn swallowed the error (as a
// handler answering 500 does).
func testTransactRetries(t *testing.T, db *store.DB) {
	ctx := t.Context()
	attempts := 0
	var created []subaccounts.Account
	err := db.Transact(ctx, func(ctx context.Context) error {
		attempts++
		a := accountValue("attempt", 1)
		created = append(created, a)
		if err := db.CreateAccount(ctx, a); err != nil {
			return err
		}
		if attempts == 1 {
			_ = db.Transact(ctx, func(context.Context) error { return sqlite3.BUSY })
		}
		return nil
	})
	mustNil(t, "Transact", err)
	if attempts != 2 {
		t.Fatalf("fn ran %d times, want 2", attempts)
	}
	_, err = db.GetAccount(ctx, created[0].ID, false)
	wantErrIs(t, "GetAccount of the rolled-back attempt", err, subaccounts.ErrNotFound)
	_, err = db.GetAccount(ctx, created[1].ID, false)
	mustNil(t, "GetAccount of the committed attempt", err)
}

func testDeleteIdempotencyKeysBefore(t *testing.T, db *store.DB) {
	ctx := t.Context()
	acct := uuid.New()
	now := subaccounts.Now()
	old, fresh := keyRecord(acct, "old"), keyRecord(acct, "fresh")
	old.CreatedAt = now.Add(-25 * time.Hour)
	fresh.CreatedAt = now.Add(-23 * time.Hour)
	mustNil(t, "Transact", db.Transact(ctx, func(ctx context.Context) error {
		claim(ctx, t, db, old)
		claim(ctx, t, db, fresh)
		return nil
	}))
	n, err := db.DeleteIdempotencyKeysBefore(ctx, now.Add(-24*time.Hour))
	mustNil(t, "DeleteIdempotencyKeysBefore", err)
	if n != 1 {
		t.Errorf("deleted %d keys, want 1", n)
	}
	_, err = db.GetIdempotencyKey(ctx, acct, "old")
	wantErrIs(t, "GetIdempotencyKey old", err, subaccounts.ErrNotFound)
	_, err = db.GetIdempotencyKey(ctx, acct, "fresh")
	mustNil(t, "GetIdempotencyKey fresh", err)
}

// testConcurrentClaimWaits: a claim racing an uncommitted claim of the same key waits for
// it (PostgreSQL on the unique index, SQLite on the write lock) and then finds it taken.
func testConcurrentClaimWaits(t *testing.T, db *store.DB) {
	ctx := t.Context()
	acct := uuid.New()
	claimed, release := make(chan struct{}), make(chan struct{})
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- db.Transact(ctx, func(ctx context.Context) error {
			ok, err := db.ClaimIdempotencyKey(ctx, keyRecord(acct, "race"))
			if err != nil || !ok {
				return fmt.Errorf("first claim: %v %v", ok, err)
			}
			close(claimed)
			<-release
			return nil
		})
	}()
	<-claimed
	secondDone := make(chan bool, 1)
	go func() {
		var ok bool
		err := db.Transact(ctx, func(ctx context.Context) error {
			var err error
			ok, err = db.ClaimIdempotencyKey(ctx, keyRecord(acct, "race"))
			return err
		})
		if err != nil {
			t.Errorf("second Transact: %v", err)
		}
		secondDone <- ok
	}()
	select {
	case <-secondDone:
		t.Fatal("the second claim finished while the first was uncommitted")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	mustNil(t, "first Transact", <-firstDone)
	if <-secondDone {
		t.Error("the second claim claimed a key the first had committed")
	}
}
