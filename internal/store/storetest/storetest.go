// Package storetest gives tests a fresh, migrated database of each dialect: an embedded
// SQLite file in a temporary directory always, and a PostgreSQL database cloned from a
// migrated template (pgtestdb) when TEST_DATABASE_URL is set. Under CI (CI=true) a missing
// TEST_DATABASE_URL fails the test instead of skipping PostgreSQL.
package storetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver pgtestdb connects with
	"github.com/peterldowns/pgtestdb"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/migrations"
)

// Dialects returns the dialects the current run tests against.
func Dialects(t testing.TB) []string {
	t.Helper()
	if os.Getenv("TEST_DATABASE_URL") != "" {
		return []string{"sqlite", "postgres"}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("TEST_DATABASE_URL is not set: under CI the PostgreSQL suite must run")
	}
	t.Log("TEST_DATABASE_URL not set: testing the embedded database only")
	return []string{"sqlite"}
}

// Open returns a fresh migrated store of dialect, closed when the test ends.
func Open(t testing.TB, dialect string) *store.DB {
	t.Helper()
	return OpenWith(t, dialect, store.Options{})
}

// OpenWith is Open with opts (a statement tracer, say); the schema is migrated either way.
func OpenWith(t testing.TB, dialect string, opts store.Options) *store.DB {
	t.Helper()
	ctx := context.Background()
	var db *store.DB
	var err error
	switch dialect {
	case "sqlite":
		db, err = store.OpenSQLite(ctx, t.TempDir(), opts)
	case "postgres":
		opts.SkipMigrations = true
		db, err = store.OpenPostgres(ctx, PostgresURL(t), opts)
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// PostgresURL returns the URL of a fresh PostgreSQL database cloned from a migrated
// template; it is dropped when the test ends. The caller must close its connections.
func PostgresURL(t testing.TB) string {
	t.Helper()
	raw := os.Getenv("TEST_DATABASE_URL")
	if raw == "" {
		t.Fatal("TEST_DATABASE_URL is not set")
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	pw, _ := u.User.Password()
	port := u.Port()
	if port == "" {
		port = "5432"
	}
	conf := pgtestdb.Config{
		DriverName:                "pgx",
		Host:                      u.Hostname(),
		Port:                      port,
		User:                      u.User.Username(),
		Password:                  pw,
		Database:                  trimSlash(u.Path),
		Options:                   u.RawQuery,
		ForceTerminateConnections: true,
	}
	return pgtestdb.Custom(t, conf, migrator{}).URL()
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// migrator applies the project's own migrations to pgtestdb's template database.
type migrator struct{}

// Hash identifies the template by the content of every PostgreSQL migration.
func (migrator) Hash() (string, error) {
	fsys, err := migrations.FS("postgres")
	if err != nil {
		return "", err
	}
	h := sha256.New()
	err = fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	return hex.EncodeToString(h.Sum(nil)), err
}

// Migrate runs the migrations.
func (migrator) Migrate(ctx context.Context, db *sql.DB, _ pgtestdb.Config) error {
	return store.Migrate(ctx, db, "postgres")
}
