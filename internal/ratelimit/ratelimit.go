// Package ratelimit limits events per key with the generic cell rate algorithm (GCRA, a
// token bucket that keeps one timestamp per key): in process, in Redis so that every
// replica shares one limit, or in Redis with the in-process limiter standing in while
// Redis is unreachable.
package ratelimit

import (
	"context"
	"math"
	"time"
)

// Limit allows Rate events per Period, and at most Burst at once.
type Limit struct {
	Rate   int
	Period time.Duration
	Burst  int
}

// PerSecond is a limit of n events a second with a burst of n.
func PerSecond(n int) Limit { return Limit{Rate: n, Period: time.Second, Burst: n} }

// PerMinute is a limit of n events a minute with a burst of n.
func PerMinute(n int) Limit { return Limit{Rate: n, Period: time.Minute, Burst: n} }

// IsZero reports whether the limit allows everything.
func (l Limit) IsZero() bool { return l.Rate <= 0 || l.Period <= 0 || l.Burst <= 0 }

// interval is the time one event's token takes to come back.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Rate) }

// Result is the state of a key after a call.
type Result struct {
	// Allowed reports whether the n events were admitted (and counted).
	Allowed bool
	// Remaining is how many more events would be admitted now.
	Remaining int
	// RetryAfter is how long until n events would be admitted; 0 when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to a full burst.
	ResetAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up and at least 1, as the
// Retry-After header wants it.
func (r Result) RetryAfterSeconds() int { return max(1, ceilSeconds(r.RetryAfter)) }

// ResetSeconds is ResetAfter in whole seconds, rounded up.
func (r Result) ResetSeconds() int { return ceilSeconds(r.ResetAfter) }

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

// Limiter admits or refuses events per key.
type Limiter interface {
	// AllowN counts n events for key if the limit admits them now. n = 0 only reads
	// the key's state: Allowed is then whether one more event would be admitted.
	AllowN(ctx context.Context, key string, l Limit, n int) (Result, error)
}

// peekResult turns the state a GCRA read with cost 0 leaves (Remaining and ResetAfter)
// into the answer to "would one more event be admitted".
func peekResult(l Limit, r Result) Result {
	r.Allowed = r.Remaining >= 1
	r.RetryAfter = 0
	if !r.Allowed {
		// The key is full: one event's token comes back when the reset time has shrunk
		// to Burst-1 intervals.
		r.RetryAfter = max(0, r.ResetAfter-time.Duration(l.Burst-1)*l.interval())
	}
	return r
}
