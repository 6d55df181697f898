package routing_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" driver the lock is held with

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// lockedFixture is a fixture on an embedded database whose write lock the test can hold
// from another connection, freezing every write of the service.
type lockedFixture struct {
	fixture
	raw *sql.DB
}

func newLockedFixture(t *testing.T) lockedFixture {
	t.Helper()
	ctx := t.Context()
	dir := t.TempDir()
	db, err := store.OpenSQLite(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "subaccounts.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	return lockedFixture{fixture: seedFixture(t, db, app.Config{}), raw: raw}
}

// hold takes the database's write lock until the returned function is called.
func (f lockedFixture) hold(t *testing.T) (release func()) {
	t.Helper()
	tx, err := f.raw.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(t.Context(), "CREATE TABLE lock_holder (x)"); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// ingestAll sends n messages at once, each with its own deadline, and returns their
// errors and how long the slowest took.
func (f lockedFixture) ingestAll(t *testing.T, prefix string, n int, timeout time.Duration) ([]error, time.Duration) {
	t.Helper()
	errs := make([]error, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_, errs[i] = f.svc.Routing.IngestTransaction(ctx, f.p, msg(fmt.Sprintf("%s-%d", prefix, i), "auth", f.card.ID.String()))
		})
	}
	wg.Wait()
	return errs, time.Since(start)
}

// TestGroupCommitRespectsDeadline: with the database frozen, requests in the group
// commit give up at their own deadline (not the group's 30 s), as unavailable, and
// nothing they sent is written later; once the database is back, messages commit again.
func TestGroupCommitRespectsDeadline(t *testing.T) {
	t.Parallel()
	f := newLockedFixture(t)
	release := f.hold(t)
	errs, took := f.ingestAll(t, "frozen", 20, 300*time.Millisecond)
	for i, err := range errs {
		if !errors.Is(err, subaccounts.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("message %d with the database frozen: %v, want unavailable", i, err)
		}
	}
	if took > 2*time.Second {
		t.Errorf("the slowest request took %s, want about its 300ms deadline", took)
	}
	release()
	errs, _ = f.ingestAll(t, "thawed", 5, 5*time.Second)
	for i, err := range errs {
		if err != nil {
			t.Errorf("message %d after the database came back: %v", i, err)
		}
	}
	page, _, err := f.svc.Routing.ListTransactions(t.Context(), f.p, routing.TransactionQuery{}, subaccounts.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 5 {
		t.Errorf("%d transactions stored, want the 5 sent after the thaw: a refused request's message was written", len(page))
	}
}

// TestGroupCommitShutdownBounded: Shutdown with the database frozen returns at its
// deadline, cancelling the groups in flight, whose requests get an error rather than a
// late commit; requests without a deadline of their own do not hold it either.
func TestGroupCommitShutdownBounded(t *testing.T) {
	t.Parallel()
	f := newLockedFixture(t)
	f.hold(t)
	done := make(chan []error, 1)
	go func() {
		errs, _ := f.ingestAll(t, "shutdown", 10, time.Hour)
		done <- errs
	}()
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := f.svc.Shutdown(ctx)
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a frozen database: %v, want the deadline's error", err)
	}
	if took > 2*time.Second {
		t.Errorf("Shutdown took %s, want about its 500ms deadline", took)
	}
	select {
	case errs := <-done:
		for i, err := range errs {
			if err == nil {
				t.Errorf("message %d succeeded with the database frozen", i)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("requests still waiting 5s after Shutdown returned")
	}
	if _, err := f.svc.Routing.IngestTransaction(t.Context(), f.p, msg("late", "auth", f.card.ID.String())); !errors.Is(err, routing.ErrClosed) {
		t.Errorf("after Shutdown: %v, want ErrClosed", err)
	}
}
