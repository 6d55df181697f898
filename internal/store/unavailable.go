package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// unavailableError is a database error that says nothing about the request and
// everything about the database's state: errors.Is finds subaccounts.ErrUnavailable
// in it, and its message keeps the driver's words for the log.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string { return "database unavailable: " + e.err.Error() }
func (e *unavailableError) Unwrap() []error {
	return []error{subaccounts.ErrUnavailable, e.err}
}

// asUnavailable wraps err in the unavailable error when it means the database could
// not answer, and returns it unchanged otherwise.
func asUnavailable(err error) error {
	if err == nil || errors.Is(err, subaccounts.ErrUnavailable) || !unavailable(err) {
		return err
	}
	return &unavailableError{err: err}
}

// unavailable reports whether err means the database could not answer (rather than
// that it refused the request): the connection was lost or never made, PostgreSQL is
// starting up, shutting down or out of connections, no pooled connection came free
// before the deadline, or the deadline passed while a statement ran.
func unavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableSQLState(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var opErr *net.OpError
	// Not any net.Error: SQLite's errors implement it too, all of them.
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		// database/sql returns ctx.Err() itself when no connection came free in time;
		// pgx wraps it when the deadline fires mid-statement.
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, context.Canceled),
		pgconn.Timeout(err),
		errors.Is(err, driver.ErrBadConn),
		errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &opErr),
		errors.As(err, &netErr) && netErr.Timeout():
		return true
	case errors.Is(err, sqlite3.BUSY), errors.Is(err, sqlite3.LOCKED),
		// The embedded database's equivalents: still locked after busy_timeout (and the
		// retries), interrupted by the request's context, or its file unusable.
		errors.Is(err, sqlite3.INTERRUPT), errors.Is(err, sqlite3.IOERR),
		errors.Is(err, sqlite3.CANTOPEN), errors.Is(err, sqlite3.FULL):
		return true
	}
	// pgx reports a connection it has already closed with a plain error.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "failed to connect to")
}

// unavailableSQLState reports whether a PostgreSQL error code says the server cannot
// serve now: class 08 (connection exception), 57P01–57P03 (admin shutdown, crash
// shutdown, cannot connect now: starting up or in recovery), 57014 (statement cancelled,
// the request's deadline having passed) and class 53 (insufficient resources, 53300 too
// many connections among them).
func unavailableSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"):
		return true
	case code == "57P01", code == "57P02", code == "57P03", code == "57014":
		return true
	}
	return false
}
