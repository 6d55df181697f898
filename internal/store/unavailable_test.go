package store_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" driver the lock is held with

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestLockedDatabaseUnavailable: a database another connection holds locked (a table
// locked ACCESS EXCLUSIVE on PostgreSQL, the write lock on SQLite) makes a store call
// give up at its context's deadline with ErrUnavailable, instead of waiting out lock or
// busy timeouts; once the lock is released the same store works again.
func TestLockedDatabaseUnavailable(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			var db *store.DB
			var raw *sql.DB
			var err error
			switch d {
			case "sqlite":
				dir := t.TempDir()
				db, err = store.OpenSQLite(ctx, dir, store.Options{})
				if err == nil {
					raw, err = sql.Open("sqlite3", "file:"+filepath.Join(dir, "subaccounts.db")+"?_pragma=busy_timeout(10000)")
				}
			default:
				url := storetest.PostgresURL(t)
				db, err = store.OpenPostgres(ctx, url, store.Options{SkipMigrations: true})
				if err == nil {
					raw, err = sql.Open("pgx", url)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close(); _ = raw.Close() })
			holder, err := raw.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d == "sqlite" {
				// A deferred transaction takes the write lock with its first write.
				_, err = holder.ExecContext(ctx, "CREATE TABLE lock_holder (x)")
			} else {
				_, err = holder.ExecContext(ctx, "LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE")
			}
			if err != nil {
				t.Fatal(err)
			}

			a := accountValue("Locked out", 1)
			callCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = db.Transact(callCtx, func(ctx context.Context) error { return db.CreateAccount(ctx, a) })
			took := time.Since(start)
			if !errors.Is(err, subaccounts.ErrUnavailable) {
				t.Errorf("write under a held lock: %v, want ErrUnavailable", err)
			}
			if took > 2*time.Second {
				t.Errorf("write under a held lock gave up after %s, want at its 300ms deadline", took)
			}

			if err := holder.Rollback(); err != nil {
				t.Fatal(err)
			}
			if err := db.Transact(ctx, func(ctx context.Context) error { return db.CreateAccount(ctx, a) }); err != nil {
				t.Fatalf("write after the lock was released: %v", err)
			}
		})
	}
}
