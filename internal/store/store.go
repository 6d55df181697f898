// Package store implements every domain service's narrow store (their union is
// app.Store) with gorm, for PostgreSQL and for the embedded pure-Go SQLite default. It
// owns the rows and their converters to domain values, one file per entity (accounts.go,
// subaccounts.go, cards.go, transactions.go, ledger.go, clients.go, signing_keys.go,
// fingerprint_keys.go, audit.go, idempotency.go, webhooks.go; compliance.go holds the
// report's aggregates), the migrations run at start-up, and the translation of driver
// errors into the domain's sentinel errors (unavailable.go for a lost database). The
// machinery is in files of its own: queries.go (the queries type every method hangs
// on), transact.go, dialect.go and gormlog.go. Nothing above it sees gorm.
//
// Rules every file follows:
//   - Query style: gorm's builder for whatever one table's filter, order, limit and
//     GROUP BY can say: single-row CRUD, batched plain inserts, filtered lists, counts
//     and one-table groupings. SQL (Raw/Exec) for the rest: aggregates over unions,
//     joins or correlated subqueries (ledger positions, the compliance report) and the
//     hot paths' statements the builder cannot say (inserts that skip conflicts and
//     return what they wrote, ON CONFLICT … DO NOTHING RETURNING id, for cards and
//     messages; the audit chainer's multi-row UPDATE … FROM VALUES; the set-wide
//     card-policy recomputation).
//   - Transactions are carried in the context (transact.go): Transact(ctx, fn) runs fn
//     in one transaction and every method called with fn's context joins it, reads
//     included; a nested Transact is a savepoint that an error from fn rolls back alone;
//     the outermost Transact's loop is the only retry in the package.
//   - Dialects differ only through dialect.go's type (row and table locks, time columns,
//     ordering and ranges, per-row or batched updates, the goose dialect); no query
//     compares a dialect's name.
//   - Every tenant query filters on account_id first. The few that do not find a tenant
//     rather than read one (GetClient, by which a token request finds its account; the
//     audit chainer's AccountsWithUnchainedAuditEvents) or read outside any one tenant
//     (ListAccounts, operator clients, signing and fingerprint keys).
//   - Statements bind their parameters; the logger drops them before gorm renders a
//     statement (gormlog.go's ParamsFilter), so no log line or trace holds one.
//
// It imports only what is below it: the vocabulary (subaccounts), policy, migrations,
// and the record types of audit and idempotency. It must not import httpapi, cmd, app or
// any service built on it.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/gormlite"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/migrations"
)

// DB is the gorm-backed store every domain service runs on.
type DB struct {
	gdb *gorm.DB
	queries
}

// Options tune Open.
type Options struct {
	// Logger receives slow-query and error logs; nil discards them.
	Logger *slog.Logger
	// SkipMigrations leaves the schema alone (the schema was migrated elsewhere).
	SkipMigrations bool
	// MaxConns bounds PostgreSQL's pool (0: DefaultMaxConns); every connection is a
	// server process, so replicas × MaxConns must stay below max_connections.
	MaxConns int
	// QueryTracer, when set, sees every PostgreSQL statement on every connection (the
	// tracing package's statement spans).
	QueryTracer pgx.QueryTracer
	// SQLitePlugin, when set, is installed on SQLite only, the driver there having no
	// tracer of its own; on PostgreSQL QueryTracer does its work a level lower, and both
	// would trace each statement twice.
	SQLitePlugin gorm.Plugin
}

// DefaultMaxConns is the PostgreSQL pool size when Options.MaxConns is not set.
const DefaultMaxConns = 32

// OpenPostgres connects to PostgreSQL and applies the migrations under a session lock, so
// several replicas can start at once.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	dialector := postgres.Open(dsn)
	if opts.QueryTracer != nil {
		// gorm's driver parses the DSN into a pgx config the same way when it opens the
		// pool itself; here the config gets the tracer first.
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		cfg.Tracer = opts.QueryTracer
		dialector = postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)})
	}
	return open(ctx, dialector, "postgres", opts, func(sqlDB *sql.DB) {
		n := opts.MaxConns
		if n <= 0 {
			n = DefaultMaxConns
		}
		sqlDB.SetMaxOpenConns(n)
		sqlDB.SetMaxIdleConns(n)
		sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	})
}

// OpenSQLite opens (creating if needed) the embedded database file in dir and applies the
// migrations.
func OpenSQLite(ctx context.Context, dir string, opts Options) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	path := filepath.Join(dir, "subaccounts.db")
	// WAL lets readers run beside the writer; immediate transactions take the write lock
	// up front, so concurrent writers queue on busy_timeout instead of failing with
	// SQLITE_BUSY half-way through.
	q := url.Values{}
	q.Add("_pragma", "journal_mode(wal)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(on)")
	q.Add("_pragma", "synchronous(normal)")
	q.Set("_txlock", "immediate")
	dsn := "file:" + filepath.ToSlash(path) + "?" + q.Encode()
	db, err := open(ctx, gormlite.Open(dsn), "sqlite", opts, func(sqlDB *sql.DB) { sqlDB.SetMaxOpenConns(8) })
	if err == nil && opts.SQLitePlugin != nil {
		if err = db.gdb.Use(opts.SQLitePlugin); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	}
	return db, err
}

// open connects through dialector, sizes the pool and migrates unless told not to.
func open(ctx context.Context, dialector gorm.Dialector, dialect string, opts Options, pool func(*sql.DB)) (*DB, error) {
	gdb, err := gorm.Open(dialector, gormConfig(opts))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dialect, err)
	}
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dialect, err)
	}
	pool(sqlDB)
	if !opts.SkipMigrations {
		if err := Migrate(ctx, sqlDB, dialect); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	if err := noteRetryableErrors(gdb); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open %s: %w", dialect, err)
	}
	return &DB{gdb: gdb, queries: queries{db: gdb, d: dialectNamed(dialect)}}, nil
}

func gormConfig(opts Options) *gorm.Config {
	l := opts.Logger
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &gorm.Config{
		// Formatted messages through the service's logger; statements without their bound
		// values (and so without any sensitive input), see gormLogger.
		Logger:                 newGormLogger(l, 500*time.Millisecond),
		TranslateError:         true,
		SkipDefaultTransaction: true,
		NowFunc:                subaccounts.Now,
	}
}

// Migrate applies every pending migration of dialect to db. On PostgreSQL it holds a
// session advisory lock while doing so.
func Migrate(ctx context.Context, db *sql.DB, dialect string) error {
	fsys, err := migrations.FS(dialect)
	if err != nil {
		return err
	}
	var opts []goose.ProviderOption
	d := dialectNamed(dialect)
	if d.rowLocks {
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close releases the connection pool.
func (d *DB) Close() error {
	sqlDB, err := d.gdb.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Pool is the connection pool, for its statistics (metrics); the store's callers must
// not query through it.
func (d *DB) Pool() *sql.DB {
	sqlDB, _ := d.gdb.DB()
	return sqlDB
}

// Dialect is "postgres" or "sqlite".
func (d *DB) Dialect() string { return d.d.name }

// Ping checks the connection and that the newest migration is applied.
func (d *DB) Ping(ctx context.Context) error {
	fsys, err := migrations.FS(d.d.name)
	if err != nil {
		return err
	}
	sqlDB, err := d.gdb.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", asUnavailable(err))
	}
	p, err := goose.NewProvider(d.d.goose, sqlDB, fsys)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	pending, err := p.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if pending {
		return errors.New("ping: migrations pending")
	}
	return nil
}

func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return errors.Is(err, sqlite3.BUSY) || errors.Is(err, sqlite3.LOCKED)
}

// translate maps driver and gorm errors onto the domain's sentinels (a lost or
// overloaded database onto ErrUnavailable); everything else passes through as it was.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return subaccounts.ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %s", subaccounts.ErrConflict, strings.TrimSpace(err.Error()))
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %s", subaccounts.ErrConflict, pgErr.ConstraintName)
	}
	return asUnavailable(err)
}
