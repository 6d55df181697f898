package groupcommit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/groupcommit"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type item struct {
	n       int
	bad     bool // breaks any transaction it is in
	written int  // set by the write: how many items its committed transaction held
}

// recorder is a write function over items: a transaction holding a bad item fails as a
// whole; otherwise every item learns its group's size.
type recorder struct {
	mu     sync.Mutex
	groups [][]int
	hold   chan struct{} // when set, the first write waits on it
}

func (r *recorder) write(_ context.Context, items []*item) error {
	r.mu.Lock()
	hold := r.hold
	r.hold = nil
	ns := make([]int, len(items))
	for i, it := range items {
		ns[i] = it.n
	}
	r.groups = append(r.groups, ns)
	r.mu.Unlock()
	if hold != nil {
		<-hold
	}
	for _, it := range items {
		it.written = 0
		if it.bad {
			return errors.New("constraint violated")
		}
	}
	for _, it := range items {
		it.written = len(items)
	}
	return nil
}

// waitWrites waits until n writes have begun.
func (r *recorder) waitWrites(n int) {
	for {
		r.mu.Lock()
		began := len(r.groups)
		r.mu.Unlock()
		if began >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func TestItemsShareTransactions(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	r := &recorder{hold: hold}
	c := groupcommit.New(groupcommit.Config{MaxBatch: 64, MaxWait: time.Second, Writers: 1}, r.write)
	defer c.Close()
	first := &item{n: 0}
	done := make(chan error, 1)
	go func() { done <- c.Submit(t.Context(), first) }()
	// The first item's write is held: the next ones queue meanwhile and share one group.
	r.waitWrites(1)
	var wg sync.WaitGroup
	items := make([]*item, 10)
	for i := range items {
		items[i] = &item{n: i + 1}
		wg.Go(func() {
			if err := c.Submit(t.Context(), items[i]); err != nil {
				t.Errorf("Submit(%d) = %v", i+1, err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let them queue behind the held write
	close(hold)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, it := range items {
		if it.written != len(items) {
			t.Errorf("item %d was written in a group of %d, want all %d queued together (groups %v)", it.n, it.written, len(items), r.groups)
		}
	}
}

func TestBadItemFailsAlone(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	r := &recorder{hold: hold}
	c := groupcommit.New(groupcommit.Config{MaxBatch: 64, MaxWait: time.Second, Writers: 1}, r.write)
	defer c.Close()
	go func() { _ = c.Submit(t.Context(), &item{n: 0}) }()
	r.waitWrites(1)
	good, bad := &item{n: 1}, &item{n: 2, bad: true}
	errs := make(chan error, 2)
	for _, it := range []*item{good, bad} {
		go func() { errs <- c.Submit(t.Context(), it) }()
	}
	time.Sleep(50 * time.Millisecond)
	close(hold)
	var failed int
	for range 2 {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed != 1 || good.written != 1 || bad.written != 0 {
		t.Errorf("%d failed, good written in a group of %d, bad of %d; want the bad one alone to fail and the good one written on its own (groups %v)", failed, good.written, bad.written, r.groups)
	}
}

// An unavailable database is not retried item by item: every item gets the error.
func TestUnavailableFailsTheGroup(t *testing.T) {
	t.Parallel()
	calls := 0
	var mu sync.Mutex
	c := groupcommit.New(groupcommit.Config{MaxBatch: 8, MaxWait: time.Millisecond, Writers: 1}, func(context.Context, []*item) error {
		mu.Lock()
		calls++
		mu.Unlock()
		return subaccounts.ErrUnavailable
	})
	defer c.Close()
	if err := c.Submit(t.Context(), &item{}); !errors.Is(err, subaccounts.ErrUnavailable) {
		t.Errorf("Submit = %v, want unavailable", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("%d writes, want 1", calls)
	}
}

func TestWithdrawnAndClosed(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	r := &recorder{hold: hold}
	c := groupcommit.New(groupcommit.Config{MaxBatch: 1, MaxWait: 0, Writers: 1}, r.write)
	go func() { _ = c.Submit(t.Context(), &item{n: 0}) }()
	r.waitWrites(1)
	// Queued behind the held write, its request gives up: it is never written.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	late := &item{n: 1}
	if err := c.Submit(ctx, late); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Submit = %v, want its deadline", err)
	}
	close(hold)
	c.Close()
	r.mu.Lock()
	for _, g := range r.groups {
		for _, n := range g {
			if n == 1 {
				t.Errorf("the withdrawn item was written (groups %v)", r.groups)
			}
		}
	}
	r.mu.Unlock()
	if err := c.Submit(t.Context(), &item{n: 2}); !errors.Is(err, groupcommit.ErrClosed) {
		t.Errorf("Submit after Close = %v, want ErrClosed", err)
	}
}
