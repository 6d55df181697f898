package store

import (
	"context"
	"database/sql"
	"fmt"
)

// TamperAudit runs statements on d's database with the append-only guards of
// audit_events bypassed, the way someone with direct database access could: on
// PostgreSQL in one transaction that disables the table's triggers (as its owner may),
// on SQLite after dropping the guard triggers. Only tests can call it.
func TamperAudit(ctx context.Context, d *DB, statements ...string) error {
	sqlDB, err := d.gdb.DB()
	if err != nil {
		return err
	}
	return tamper(ctx, sqlDB, d.Dialect(), statements)
}

func tamper(ctx context.Context, db *sql.DB, dialect string, statements []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	// The owner of a table may switch its triggers off; the tests' role owns the
	// tables of its database. They are switched on again before the commit.
	prelude := []string{"ALTER TABLE audit_events DISABLE TRIGGER USER"}
	postlude := []string{"ALTER TABLE audit_events ENABLE TRIGGER USER"}
	if dialect == "sqlite" {
		prelude = []string{"DROP TRIGGER IF EXISTS audit_events_no_update", "DROP TRIGGER IF EXISTS audit_events_no_delete"}
		postlude = nil
	}
	all := append(append(prelude, statements...), postlude...)
	for _, s := range all {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return tx.Commit()
}

// ExecRaw runs one statement on d's pool as it is, guards and all.
func ExecRaw(ctx context.Context, d *DB, statement string, args ...any) error {
	return d.gdb.WithContext(ctx).Exec(statement, args...).Error
}

// QueryInt runs one query returning a single integer, in the transaction ctx carries or,
// without one, on d's pool (as every store call does).
func QueryInt(ctx context.Context, d *DB, query string, args ...any) (int64, error) {
	var n int64
	err := d.with(ctx).Raw(query, args...).Row().Scan(&n)
	return n, err
}
