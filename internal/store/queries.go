package store

import (
	"context"

	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// queries holds the pool; every method binds its statements with with(ctx), so it runs
// in the transaction ctx carries (see Transact) or, without one, on the pool. Every
// tenant query filters on account_id first.
type queries struct {
	db *gorm.DB
	d  dialect
}

// with binds ctx to the transaction it carries, or to the pool.
func (q queries) with(ctx context.Context) *gorm.DB {
	if a := q.ambientOf(ctx); a != nil {
		return a.tx.WithContext(ctx)
	}
	if q.pgGroupOf(ctx) != nil {
		// Not on the pool: that would be outside the group's transaction.
		db := q.db.WithContext(ctx)
		_ = db.AddError(errOutsideGroup)
		return db
	}
	return q.db.WithContext(ctx)
}

// inTransaction reports whether statements made with ctx run in a transaction; row locks
// only mean something there.
func (q queries) inTransaction(ctx context.Context) bool {
	return q.ambientOf(ctx) != nil || q.pgGroupOf(ctx) != nil
}

// notFound translates err, naming kind when it is ErrNotFound.
func notFound(kind string, err error) error {
	if err = translate(err); err == subaccounts.ErrNotFound {
		return subaccounts.NotFound(kind)
	}
	return err
}
