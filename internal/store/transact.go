package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// ambientKey is the context key of the ambient transaction.
type ambientKey struct{}

// ambient is the transaction a context carries (see Transact): the one every store call
// made with that context runs in, and whether any statement in the whole attempt failed
// in a way worth retrying (shared by the savepoints nested in it).
type ambient struct {
	// root is the pool the transaction was begun on; a context carrying it is only
	// honoured by that same DB.
	root  *gorm.DB
	tx    *gorm.DB
	retry *atomic.Bool
}

// ambientOf returns the transaction of q's pool that ctx carries, or nil.
func (q queries) ambientOf(ctx context.Context) *ambient {
	if a, ok := ctx.Value(ambientKey{}).(*ambient); ok && a.root == q.db {
		return a
	}
	return nil
}

// InTransaction reports whether ctx carries a transaction of this database (see
// Transact).
func (q queries) InTransaction(ctx context.Context) bool {
	return q.ambientOf(ctx) != nil || q.pgGroupOf(ctx) != nil
}

// errRetryAttempt rolls an attempt back when a statement inside it met a retryable error
// that fn did not pass on (a handler answering 500, say).
var errRetryAttempt = errors.New("retryable database error inside the transaction")

// Transact runs fn in one database transaction carried by the context fn receives: every
// store call made with that context, reads included, runs in it and on its connection.
// The transaction commits when fn returns nil and rolls back otherwise.
//
// Outermost, Transact is the one retry loop of the store: when a statement inside met a
// serialization failure, a deadlock or a busy lock, all of fn runs again (up to five
// attempts, with jittered backoff), so fn must be safe to run again. Called with a
// context that already carries a transaction, fn runs in a savepoint of it instead: an
// error from fn rolls back fn's writes only (dry runs and refused changes rely on that),
// and a retryable failure marks the outer attempt for another run, since PostgreSQL has
// aborted the whole transaction by then.
func (q queries) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	if a := q.ambientOf(ctx); a != nil {
		return q.nested(ctx, a, fn)
	}
	if q.pgGroupOf(ctx) != nil {
		return errOutsideGroup
	}
	const attempts = 5
	var err error
	for i := range attempts {
		a := &ambient{root: q.db, retry: new(atomic.Bool)}
		err = q.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			a.tx = tx
			if err := fn(context.WithValue(ctx, ambientKey{}, a)); err != nil {
				return err
			}
			if a.retry.Load() {
				return errRetryAttempt
			}
			return nil
		})
		if err == nil || !(a.retry.Load() || retryable(err)) {
			return translate(err)
		}
		backoff := time.Duration(1<<i) * 5 * time.Millisecond
		select {
		case <-ctx.Done():
			return asUnavailable(ctx.Err())
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
	}
	return fmt.Errorf("transaction kept conflicting: %w", translate(err))
}

// nested runs fn in a savepoint of the ambient transaction a.
func (q queries) nested(ctx context.Context, a *ambient, fn func(ctx context.Context) error) error {
	err := a.tx.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, ambientKey{}, &ambient{root: a.root, tx: tx, retry: a.retry}))
	})
	if err != nil && retryable(err) {
		a.retry.Store(true)
	}
	return translate(err)
}

// noteRetryableErrors makes every statement that fails with a retryable error inside an
// ambient transaction mark it for another attempt, whatever the caller then does with the
// error: a store call whose error a handler answers with 500 still gets its retry.
func noteRetryableErrors(gdb *gorm.DB) error {
	note := func(db *gorm.DB) {
		if db.Error == nil || db.Statement == nil || db.Statement.Context == nil || !retryable(db.Error) {
			return
		}
		if a, ok := db.Statement.Context.Value(ambientKey{}).(*ambient); ok {
			a.retry.Store(true)
		}
	}
	const name = "cardseg:note_retryable"
	cb := gdb.Callback()
	for _, err := range []error{
		cb.Create().Register(name, note),
		cb.Query().Register(name, note),
		cb.Update().Register(name, note),
		cb.Delete().Register(name, note),
		cb.Row().Register(name, note),
		cb.Raw().Register(name, note),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}
