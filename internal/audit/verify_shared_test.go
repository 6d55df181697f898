package audit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
)

// gatedStore is the real store with its chain head read (the last step of a
// verification) counted and held until release is closed, so a test can keep one
// verification running while others arrive.
type gatedStore struct {
	*store.DB
	heads   atomic.Int64
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (g *gatedStore) AuditHead(ctx context.Context, accountID uuid.UUID) (subaccounts.AuditHead, error) {
	g.heads.Add(1)
	g.once.Do(func() { close(g.entered) })
	select {
	case <-g.release:
	case <-ctx.Done():
		return subaccounts.AuditHead{}, ctx.Err()
	}
	return g.DB.AuditHead(ctx, accountID)
}

// TestVerifyAuditShared: concurrent verifications of one account share one computation
// and all get its answer; a caller that gives up does not cancel it for the others; a
// verification after it finished computes afresh; another account's is its own.
func TestVerifyAuditShared(t *testing.T) {
	t.Parallel()
	db := storetest.Open(t, "sqlite")
	g := &gatedStore{DB: db, entered: make(chan struct{}), release: make(chan struct{})}
	svc := tenancy.NewService(db, audit.NewRecorder(db), nil)
	aud := audit.NewService(g, nil)
	p := newAuditAccount(t, svc, 5)

	const callers = 8
	results := make(chan audit.AuditVerification, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	start := func(ctx context.Context) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := aud.VerifyAudit(ctx, p)
			if err != nil {
				errs <- err
				return
			}
			results <- v
		}()
	}
	// The first caller starts the computation, then leaves.
	first, cancelFirst := context.WithCancel(context.Background())
	start(first)
	<-g.entered
	for range callers - 1 {
		start(context.Background())
	}
	// Give the others time to join the running computation.
	time.Sleep(100 * time.Millisecond)
	cancelFirst()
	time.Sleep(20 * time.Millisecond)
	close(g.release)
	wg.Wait()
	close(results)
	close(errs)

	for err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("verify: %v", err)
		}
	}
	n := 0
	for v := range results {
		n++
		if !v.Valid || v.EventsChecked != 1 {
			t.Errorf("shared result %+v", v)
		}
	}
	if n != callers-1 {
		t.Errorf("%d callers got a result, want %d (all but the one that gave up)", n, callers-1)
	}
	if got := g.heads.Load(); got != 1 {
		t.Errorf("%d verifications computed for %d concurrent callers; want 1", got, callers)
	}

	// Once it finished, the next call computes again and sees newer events.
	if _, err := svc.CreateSubaccount(context.Background(), p, tenancy.SubaccountInput{Name: "later"}); err != nil {
		t.Fatal(err)
	}
	v, err := aud.VerifyAudit(context.Background(), p)
	if err != nil || !v.Valid || v.EventsChecked != 2 || g.heads.Load() != 2 {
		t.Errorf("later verification %+v, %v after %d computations", v, err, g.heads.Load())
	}
}
