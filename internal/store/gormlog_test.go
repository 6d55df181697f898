package store_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// lockedBuffer collects log output written from the pool's goroutines.
type lockedBuffer struct {
	mu  chan struct{}
	buf strings.Builder
}

func newLockedBuffer() *lockedBuffer { return &lockedBuffer{mu: make(chan struct{}, 1)} }

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// TestGormErrorsAreFormatted: gorm's own error message on a database it cannot reach is
// logged through the service's logger formatted, not as a format string with %v.
func TestGormErrorsAreFormatted(t *testing.T) {
	t.Parallel()
	logs := newLockedBuffer()
	log := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Nothing listens on port 1.
	_, err := store.OpenPostgres(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", store.Options{Logger: log})
	if err == nil {
		t.Fatal("OpenPostgres succeeded on a closed port")
	}
	out := logs.String()
	if !strings.Contains(out, "failed to initialize database, got error") {
		t.Fatalf("gorm's error was not logged: %q", out)
	}
	if strings.Contains(out, "%v") || strings.Contains(out, `"data"`) {
		t.Errorf("gorm's error logged unformatted: %s", out)
	}
	if !strings.Contains(out, `"level":"ERROR"`) {
		t.Errorf("gorm's error not at ERROR: %s", out)
	}
}

// TestGormTracesHoldNoParameters: a failing statement is logged with its SQL, and the
// values bound to it are not, on each database.
func TestGormTracesHoldNoParameters(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			logs := newLockedBuffer()
			opts := store.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))}
			var db *store.DB
			var err error
			if dialect == "postgres" {
				db, err = store.OpenPostgres(ctx, storetest.PostgresURL(t), opts)
			} else {
				db, err = store.OpenSQLite(ctx, t.TempDir(), opts)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			const canary = "canary-name-7c1e9b"
			now := subaccounts.Now()
			a := subaccounts.Account{
				ID: uuid.Must(uuid.NewV7()), Name: canary,
				Contract:  subaccounts.Contract{MaxSubaccounts: 1, Version: 1, Currency: "EUR"},
				CreatedAt: now, UpdatedAt: now,
			}
			if err := db.CreateAccount(ctx, a); err != nil {
				t.Fatal(err)
			}
			// The same id again violates the primary key: gorm traces the failure.
			if err := db.CreateAccount(ctx, a); err == nil {
				t.Fatal("a duplicate account was created")
			}
			out := logs.String()
			if !strings.Contains(out, `"msg":"SQL executed"`) || !strings.Contains(out, "INSERT INTO") {
				t.Fatalf("the failed statement was not traced: %s", out)
			}
			if strings.Contains(out, canary) || strings.Contains(out, a.ID.String()) {
				t.Errorf("a bound value reached the log: %s", out)
			}
		})
	}
}
