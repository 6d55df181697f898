package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/ncruces/go-sqlite3"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestTranslateUnavailable: the errors of a lost, starting, stopping or overloaded
// database, and of a deadline met while waiting on it, become ErrUnavailable with the
// driver's words kept; a refusal of the request itself does not.
func TestTranslateUnavailable(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"admin shutdown 57P01", pg("57P01"), true},
		{"crash shutdown 57P02", pg("57P02"), true},
		{"starting up 57P03", pg("57P03"), true},
		{"connection failure 08006", pg("08006"), true},
		{"cannot connect 08001", pg("08001"), true},
		{"too many connections 53300", pg("53300"), true},
		{"statement cancelled 57014", pg("57014"), true},
		{"unique violation", pg("23505"), false},
		{"serialization failure", pg("40001"), false},
		{"syntax error", pg("42601"), false},
		{"EOF", fmt.Errorf("read: %w", io.EOF), true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"connection refused", &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, true},
		{"connection reset", fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{"bad conn", driver.ErrBadConn, true},
		{"conn closed", errors.New("conn closed"), true},
		{"deadline while waiting for a connection", context.DeadlineExceeded, true},
		{"cancelled", fmt.Errorf("query: %w", context.Canceled), true},
		{"sqlite busy", sqlite3.BUSY, true},
		{"sqlite interrupted", sqlite3.INTERRUPT, true},
		{"sqlite constraint", sqlite3.CONSTRAINT, false},
		{"sqlite logic error", sqlite3.ERROR, false},
		{"record not found", gorm.ErrRecordNotFound, false},
		{"anything else", errors.New("json: cannot unmarshal"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := translate(tt.err)
			if errors.Is(got, subaccounts.ErrUnavailable) != tt.want {
				t.Fatalf("translate(%v) = %v; unavailable %v, want %v", tt.err, got, !tt.want, tt.want)
			}
			if tt.want && !strings.Contains(got.Error(), tt.err.Error()) {
				t.Errorf("translate(%v) = %q lost the driver's words", tt.err, got)
			}
			if tt.want && !errors.Is(got, tt.err) {
				t.Errorf("translate(%v) no longer wraps the cause", tt.err)
			}
		})
	}
}

// TestTranslateSQLiteErrors: SQLite's own errors (which implement net.Error, all of
// them) are unavailable only when they say so.
func TestTranslateSQLiteErrors(t *testing.T) {
	t.Parallel()
	d, err := OpenSQLite(t.Context(), t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	for _, stmt := range []string{"SELECT * FROM no_such_table", "INSERT INTO accounts (account_id) VALUES (NULL)"} {
		err := d.gdb.Exec(stmt).Error
		if err == nil {
			t.Fatalf("%s succeeded", stmt)
		}
		if got := translate(err); errors.Is(got, subaccounts.ErrUnavailable) {
			t.Errorf("%s: %v translated to unavailable", stmt, err)
		}
	}
}
