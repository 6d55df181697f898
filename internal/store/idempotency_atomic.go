package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// ambientKey is the context key of the ambient transaction.
type ambientKey struct{}

// ambient is one attempt of an Atomically call: the transaction every store call made
// with its context runs in, and whether any of them failed in a way worth retrying.
type ambient struct {
	// root is the pool the transaction was begun on; a context carrying it is only
	// honoured by that same DB.
	root  *gorm.DB
	tx    *gorm.DB
	retry atomic.Bool
}

func (d *DB) ambientOf(ctx context.Context) *ambient {
	if a, ok := ctx.Value(ambientKey{}).(*ambient); ok && a.root == d.gdb {
		return a
	}
	return nil
}

// InTransaction reports whether ctx carries an ambient transaction of d (see Atomically).
func (d *DB) InTransaction(ctx context.Context) bool { return d.ambientOf(ctx) != nil }

// errRetryAttempt rolls an attempt back when a store call inside it met a retryable error
// that fn did not pass on (a handler answering 500, say).
var errRetryAttempt = errors.New("retryable database error inside the transaction")

// Atomically runs fn in one database transaction carried by the context fn receives:
// every store call made with that context, reads included, runs in it, and Transact
// becomes a nested transaction (a savepoint) inside it. The transaction commits when fn
// returns nil and rolls back otherwise. When a statement inside met a serialization
// failure, a deadlock or a busy lock, the whole of fn runs again (up to five attempts,
// with jittered backoff), so fn must be safe to run again. Called inside another
// Atomically, fn joins the transaction already there.
func (d *DB) Atomically(ctx context.Context, fn func(ctx context.Context) error) error {
	if d.ambientOf(ctx) != nil {
		return fn(ctx)
	}
	const attempts = 5
	var err error
	for i := range attempts {
		a := &ambient{root: d.gdb}
		err = d.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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

// nested runs fn in a savepoint of the ambient transaction: an error from fn rolls back
// fn's writes only, which the domain relies on for dry runs and refused changes. It does
// not retry: after a serialization failure or deadlock PostgreSQL has aborted the whole
// transaction, so only Atomically, running everything again, can.
func (d *DB) nested(ctx context.Context, a *ambient, fn func(tx subaccounts.Tx) error) error {
	err := a.tx.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(queries{db: tx, dialect: d.dialect, inTx: true})
	})
	if err != nil && retryable(err) {
		a.retry.Store(true)
	}
	return translate(err)
}

// noteRetryableErrors makes every statement that fails with a retryable error inside an
// ambient transaction mark it for another attempt, whatever the caller then does with the
// error: a store call outside Transact reports it to a handler, which answers 500.
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
