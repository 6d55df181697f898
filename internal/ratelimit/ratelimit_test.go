package ratelimit_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/ratelimit"
	"github.com/cardseg/subaccounts/internal/ratelimit/redistest"
)

// limiters returns every implementation under test: in process always, Redis when it is
// up (see redistest).
func limiters(t *testing.T) map[string]ratelimit.Limiter {
	t.Helper()
	out := map[string]ratelimit.Limiter{"memory": ratelimit.NewMemory(0)}
	if _, ok := redistest.Available(t); ok {
		out["redis"] = newRedis(t, redistest.Prefix(t))
	}
	return out
}

func newRedis(t *testing.T, prefix string) *ratelimit.Redis {
	t.Helper()
	// A generous timeout: these tests are about the algorithm, on a machine that may
	// be busy.
	rdb, err := ratelimit.NewRedisClient(redistest.URL(t), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return ratelimit.NewRedis(rdb, prefix, time.Second)
}

func TestBurstThenRefused(t *testing.T) {
	t.Parallel()
	for name, lim := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			// 5 a minute: nothing comes back during the test.
			l := ratelimit.PerMinute(5)
			for i := range 5 {
				r, err := lim.AllowN(ctx, "k", l, 1)
				if err != nil || !r.Allowed || r.Remaining != 4-i {
					t.Fatalf("event %d: %+v, %v", i+1, r, err)
				}
			}
			r, err := lim.AllowN(ctx, "k", l, 1)
			if err != nil || r.Allowed || r.Remaining != 0 {
				t.Fatalf("event 6: %+v, %v", r, err)
			}
			// One token comes back every 12 s.
			if r.RetryAfter <= 10*time.Second || r.RetryAfter > 12*time.Second || r.RetryAfterSeconds() < 11 {
				t.Errorf("RetryAfter = %s", r.RetryAfter)
			}
			if r.ResetAfter <= 50*time.Second || r.ResetSeconds() > 60 {
				t.Errorf("ResetAfter = %s", r.ResetAfter)
			}
			// Another key has its own bucket.
			if r, _ := lim.AllowN(ctx, "other", l, 1); !r.Allowed {
				t.Error("another key was refused")
			}
		})
	}
}

// TestPeek: n = 0 counts nothing and says whether one more event would pass.
func TestPeek(t *testing.T) {
	t.Parallel()
	for name, lim := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := ratelimit.PerMinute(3)
			for i := range 3 {
				if r, _ := lim.AllowN(ctx, "k", l, 0); !r.Allowed || r.Remaining != 3-i {
					t.Fatalf("peek before event %d: %+v", i+1, r)
				}
				if r, _ := lim.AllowN(ctx, "k", l, 1); !r.Allowed {
					t.Fatalf("event %d refused", i+1)
				}
			}
			for range 3 {
				r, err := lim.AllowN(ctx, "k", l, 0)
				if err != nil || r.Allowed || r.RetryAfter <= 15*time.Second || r.RetryAfter > 20*time.Second {
					t.Fatalf("peek when full: %+v, %v", r, err)
				}
			}
		})
	}
}

func TestCostAboveRemaining(t *testing.T) {
	t.Parallel()
	for name, lim := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			l := ratelimit.PerMinute(10)
			if r, _ := lim.AllowN(ctx, "k", l, 8); !r.Allowed || r.Remaining != 2 {
				t.Fatalf("cost 8: %+v", r)
			}
			if r, _ := lim.AllowN(ctx, "k", l, 3); r.Allowed {
				t.Fatalf("cost 3 with 2 left: %+v", r)
			}
			// A refused request took nothing.
			if r, _ := lim.AllowN(ctx, "k", l, 2); !r.Allowed || r.Remaining != 0 {
				t.Fatalf("cost 2 with 2 left: %+v", r)
			}
		})
	}
}

func TestZeroLimitAllowsAll(t *testing.T) {
	t.Parallel()
	for name, lim := range limiters(t) {
		t.Run(name, func(t *testing.T) {
			for range 100 {
				if r, err := lim.AllowN(context.Background(), "k", ratelimit.Limit{}, 1); err != nil || !r.Allowed {
					t.Fatalf("%+v, %v", r, err)
				}
			}
		})
	}
}

// TestMemoryBounded: however many keys arrive, the in-process limiter keeps at most its
// bound, and keys back at a full bucket are dropped first.
func TestMemoryBounded(t *testing.T) {
	t.Parallel()
	m := ratelimit.NewMemory(1000)
	ctx := context.Background()
	for i := range 20_000 {
		_, _ = m.AllowN(ctx, "key-"+strconv.Itoa(i), ratelimit.PerMinute(5), 1)
		if m.Len() > 1000 {
			t.Fatalf("after %d keys the limiter holds %d", i+1, m.Len())
		}
	}
	// Keys whose bucket refilled are forgotten at the next sweep without changing answers.
	fast := ratelimit.NewMemory(10)
	for i := range 10 {
		_, _ = fast.AllowN(ctx, strconv.Itoa(i), ratelimit.Limit{Rate: 1000, Period: time.Millisecond, Burst: 1}, 1)
	}
	time.Sleep(5 * time.Millisecond)
	if r, _ := fast.AllowN(ctx, "new", ratelimit.PerMinute(1), 1); !r.Allowed || fast.Len() != 1 {
		t.Errorf("after the sweep: %+v, %d keys", r, fast.Len())
	}
}

// TestRedisShared: two limiters (two replicas) over one Redis share each key's bucket.
func TestRedisShared(t *testing.T) {
	t.Parallel()
	prefix := redistest.Prefix(t)
	a, b := newRedis(t, prefix), newRedis(t, prefix)
	ctx := context.Background()
	l := ratelimit.PerMinute(10)
	allowed := 0
	for i := range 20 {
		lim := ratelimit.Limiter(a)
		if i%2 == 1 {
			lim = b
		}
		r, err := lim.AllowN(ctx, "shared", l, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 10 {
		t.Errorf("%d of 20 admitted across two replicas; want 10", allowed)
	}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// closedPort returns a local address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestFallbackRedisDown: with Redis unreachable every call is answered, quickly, by the
// per-replica limiter (which still limits), and the outage is logged once, not per call.
func TestFallbackRedisDown(t *testing.T) {
	t.Parallel()
	rdb, err := ratelimit.NewRedisClient("redis://"+closedPort(t)+"/0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	var logs syncBuffer
	f := ratelimit.NewFallback(ratelimit.NewRedis(rdb, "x:", 0), ratelimit.NewMemory(0), slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()
	l := ratelimit.PerMinute(5)
	allowed := 0
	for range 50 {
		start := time.Now()
		r, err := f.AllowN(ctx, "k", l, 1)
		if err != nil {
			t.Fatalf("fallback failed: %v", err)
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("a call took %s", time.Since(start))
		}
		if r.Allowed {
			allowed++
		}
	}
	if allowed != 5 {
		t.Errorf("%d of 50 admitted by the per-replica limit; want 5", allowed)
	}
	if !f.Down() {
		t.Error("Down() = false with Redis unreachable")
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d WARN lines for one outage; want 1:\n%s", n, logs.String())
	}
}

// flaky is a primary limiter that fails while down is set.
type flaky struct {
	mu    sync.Mutex
	down  bool
	calls int
}

func (f *flaky) AllowN(_ context.Context, _ string, _ ratelimit.Limit, _ int) (ratelimit.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.down {
		return ratelimit.Result{}, net.ErrClosed
	}
	// The shared limit refuses everything, so answers show who gave them.
	return ratelimit.Result{Allowed: false, RetryAfter: time.Second}, nil
}

// TestFallbackRecovers: while the primary fails it is asked again only every RetryEvery,
// and once it answers again its answers are used (and the recovery is logged).
func TestFallbackRecovers(t *testing.T) {
	t.Parallel()
	p := &flaky{down: true}
	var logs syncBuffer
	f := ratelimit.NewFallback(p, ratelimit.NewMemory(0), slog.New(slog.NewTextHandler(&logs, nil)))
	f.RetryEvery = 50 * time.Millisecond
	ctx := context.Background()
	l := ratelimit.PerMinute(100)
	for range 20 {
		if r, err := f.AllowN(ctx, "k", l, 1); err != nil || !r.Allowed {
			t.Fatalf("while down: %+v, %v", r, err)
		}
	}
	if p.calls != 1 {
		t.Errorf("the failed primary was asked %d times within RetryEvery; want 1", p.calls)
	}
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
	time.Sleep(60 * time.Millisecond)
	if r, _ := f.AllowN(ctx, "k", l, 1); r.Allowed {
		t.Fatal("after recovery the answer still came from the local limiter")
	}
	if f.Down() || !strings.Contains(logs.String(), "reachable again") {
		t.Errorf("recovery not noticed: down=%v, logs %s", f.Down(), logs.String())
	}
}
