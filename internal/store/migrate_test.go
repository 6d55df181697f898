package store_test

import (
	"database/sql"
	"path/filepath"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"       // the "pgx" database/sql driver
	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" database/sql driver

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// migrated is one dialect's migrated database, reachable both as a store and as a plain
// *sql.DB on which the migrations can be run again.
type migrated struct {
	raw *sql.DB
	// reopen opens another store on the same database, migrating it at open.
	reopen func(t *testing.T) (*store.DB, error)
}

func openMigrated(t *testing.T, dialect string) migrated {
	t.Helper()
	ctx := t.Context()
	var m migrated
	var err error
	switch dialect {
	case "sqlite":
		dir := t.TempDir()
		first, err := store.OpenSQLite(ctx, dir, store.Options{})
		mustNil(t, "OpenSQLite", err)
		mustNil(t, "Close", first.Close())
		m.raw, err = sql.Open("sqlite3", "file:"+filepath.ToSlash(filepath.Join(dir, "subaccounts.db"))+"?_pragma=busy_timeout(10000)")
		mustNil(t, "sql.Open(sqlite3)", err)
		m.reopen = func(t *testing.T) (*store.DB, error) { return store.OpenSQLite(t.Context(), dir, store.Options{}) }
	case "postgres":
		url := storetest.PostgresURL(t)
		m.raw, err = sql.Open("pgx", url)
		mustNil(t, "sql.Open(pgx)", err)
		m.reopen = func(t *testing.T) (*store.DB, error) { return store.OpenPostgres(t.Context(), url, store.Options{}) }
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	t.Cleanup(func() { _ = m.raw.Close() })
	return m
}

// appliedMigrations counts goose's version rows.
func appliedMigrations(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	mustNil(t, "count goose_db_version", db.QueryRowContext(t.Context(), "SELECT count(*) FROM goose_db_version").Scan(&n))
	return n
}

func TestMigrateTwiceIsNoOp(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			m := openMigrated(t, dialect)
			before := appliedMigrations(t, m.raw)
			if before < 2 { // goose's own version-0 row plus at least one migration
				t.Fatalf("goose_db_version has %d rows on a migrated database", before)
			}

			// Data written before the second migration survives it.
			db, err := m.reopen(t)
			mustNil(t, "open (migrates again)", err)
			a := newAccount(t, db, "survivor")
			mustNil(t, "Close", db.Close())

			// Concurrent runs, as replicas starting together do; PostgreSQL serialises
			// them with its session lock, SQLite with its write lock.
			var wg sync.WaitGroup
			errs := make([]error, 3)
			for i := range errs {
				wg.Go(func() { errs[i] = store.Migrate(ctx, m.raw, dialect) })
			}
			wg.Wait()
			for _, err := range errs {
				mustNil(t, "Migrate again", err)
			}
			mustNil(t, "Migrate once more", store.Migrate(ctx, m.raw, dialect))
			if after := appliedMigrations(t, m.raw); after != before {
				t.Errorf("goose_db_version rows: %d before, %d after migrating again", before, after)
			}

			db, err = m.reopen(t)
			mustNil(t, "open (migrates again)", err)
			t.Cleanup(func() { _ = db.Close() })
			mustNil(t, "Ping", db.Ping(ctx))
			got, err := db.GetAccount(ctx, a.ID, false)
			mustNil(t, "GetAccount after migrating again", err)
			sameAccount(t, got, a)
		})
	}
}

func TestPingReportsPendingMigrations(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			m := openMigrated(t, dialect)
			db, err := m.reopen(t)
			mustNil(t, "open", err)
			t.Cleanup(func() { _ = db.Close() })
			mustNil(t, "Ping on a migrated database", db.Ping(ctx))

			// Forget the newest migration: the schema is now behind the code.
			_, err = m.raw.ExecContext(ctx, "DELETE FROM goose_db_version WHERE version_id = (SELECT max(version_id) FROM goose_db_version)")
			mustNil(t, "forget newest migration", err)
			if err := db.Ping(ctx); err == nil {
				t.Errorf("Ping with a migration pending = nil, want an error")
			}
		})
	}
}

func TestPingUnmigratedSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := store.OpenSQLite(ctx, t.TempDir(), store.Options{SkipMigrations: true})
	mustNil(t, "OpenSQLite(SkipMigrations)", err)
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Ping(ctx); err == nil {
		t.Errorf("Ping on a database that was never migrated = nil, want an error")
	}
}
