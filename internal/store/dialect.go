package store

import (
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// dialect is every difference between PostgreSQL and SQLite the queries meet, in one
// place: no query compares a dialect's name.
type dialect struct {
	name string
	// rowLocks: PostgreSQL takes row, table and advisory locks. SQLite has none and
	// needs none: its immediate transactions already hold the database's write lock.
	rowLocks bool
	// textTimes: SQLite holds times as RFC 3339 text with trailing fractional zeros
	// trimmed, which neither sorts nor compares as text.
	textTimes bool
	// perRowUpdates: SQLite runs in the process, so one statement per row costs no
	// round trip; PostgreSQL updates many rows in one statement.
	perRowUpdates bool
	// lateral: PostgreSQL joins a subquery per row (LATERAL), so a report's per-group
	// samples come in its aggregate's own statement; SQLite has no LATERAL.
	lateral bool
	goose   goose.Dialect
}

var (
	postgresDialect = dialect{name: "postgres", rowLocks: true, lateral: true, goose: goose.DialectPostgres}
	sqliteDialect   = dialect{name: "sqlite", textTimes: true, perRowUpdates: true, goose: goose.DialectSQLite3}
)

// dialectNamed returns the dialect called name ("postgres"; anything else is SQLite, the
// embedded default).
func dialectNamed(name string) dialect {
	if name == postgresDialect.name {
		return postgresDialect
	}
	return sqliteDialect
}

// rowRef is the expression of a row version's handle in table alias t: PostgreSQL's
// ctid as text; SQLite needs none.
func (d dialect) rowRef(t string) string {
	if !d.rowLocks {
		return "''"
	}
	return t + ".ctid::text"
}

// noTableScans turns sequential scans off for the rest of db's transaction on
// PostgreSQL, so statements that find rows by their ctid take the TID scan: a table
// without statistics (a fresh one, until autovacuum analyses it) made the planner prefer
// reading it whole, and a plan made then is kept as it grows.
func (d dialect) noTableScans(db *gorm.DB) error {
	if !d.rowLocks {
		return nil
	}
	return db.Exec("SELECT set_config('enable_seqscan', 'off', true)").Error
}

// forUpdate takes a row lock on what db selects, for the rest of the transaction.
func (d dialect) forUpdate(db *gorm.DB) *gorm.DB {
	if !d.rowLocks {
		return db
	}
	return db.Clauses(clause.Locking{Strength: "UPDATE"})
}

// forShare takes a share lock on what db selects, for the rest of the transaction.
func (d dialect) forShare(db *gorm.DB) *gorm.DB {
	if !d.rowLocks {
		return db
	}
	return db.Clauses(clause.Locking{Strength: "SHARE"})
}

// lockTable serialises writers of table (a fixed name, never user input) until the
// transaction ends.
func (d dialect) lockTable(db *gorm.DB, table string) error {
	if !d.rowLocks {
		return nil
	}
	return db.Exec("LOCK TABLE " + table + " IN SHARE ROW EXCLUSIVE MODE").Error
}

// timeColumn is a timestamp column (a fixed name, never user input) in a form that sorts
// and compares in time order: on SQLite a fixed-width millisecond text, which its
// migration indexes as exactly this expression.
func (d dialect) timeColumn(column string) string {
	if !d.textTimes {
		return column
	}
	return "strftime('%Y-%m-%dT%H:%M:%f', " + column + ")"
}

// timeArg is t as timeColumn's values compare with it. Stored times are whole
// milliseconds, so rounding a bound up to the next millisecond keeps >= and < exact.
func (d dialect) timeArg(t time.Time) any {
	t = t.UTC()
	if !d.textTimes {
		return t
	}
	if r := t.Truncate(time.Millisecond); !r.Equal(t) {
		t = r.Add(time.Millisecond)
	}
	return t.Format("2006-01-02T15:04:05.000")
}

// timeOrder is an ORDER BY term sorting a timestamp column in time order.
func (d dialect) timeOrder(column string, desc bool) string {
	term := d.timeColumn(column)
	if desc {
		term += " DESC"
	}
	return term
}

// timeAfter and timeBefore filter a timestamp column to [t, …) and (…, t).
func (d dialect) timeAfter(db *gorm.DB, column string, t time.Time) *gorm.DB {
	return db.Where(d.timeColumn(column)+" >= ?", d.timeArg(t))
}

func (d dialect) timeBefore(db *gorm.DB, column string, t time.Time) *gorm.DB {
	return db.Where(d.timeColumn(column)+" < ?", d.timeArg(t))
}
