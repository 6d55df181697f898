package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// DefaultRedisTimeout bounds every Redis call: a limiter that cannot answer in that time
// is treated as down rather than left to slow the request.
const DefaultRedisTimeout = 50 * time.Millisecond

// Redis is a GCRA limiter whose state lives in Redis, so every replica pointing at the
// same Redis shares each key's limit. Keys are stored as "rate:" + prefix + key.
type Redis struct {
	lim     *redis_rate.Limiter
	prefix  string
	timeout time.Duration
}

// NewRedisClient opens a client for a redis:// or rediss:// URL with timeouts short
// enough that an unreachable Redis never holds a request: no retries, and dialling,
// reading, writing and waiting for a pooled connection all bounded by timeout.
func NewRedisClient(url string, timeout time.Duration) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	opt.DialTimeout = timeout
	opt.ReadTimeout = timeout
	opt.WriteTimeout = timeout
	opt.PoolTimeout = timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	return redis.NewClient(opt), nil
}

// LogRedisTo sends go-redis's own log lines (failed dials, pool notes) to l at DEBUG,
// instead of unstructured lines on stderr: the Fallback's WARN already reports an
// outage once. It sets go-redis's process-wide logger.
func LogRedisTo(l *slog.Logger) { redis.SetLogger(redisLogger{l}) }

type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// NewRedis returns a limiter over rdb; prefix separates the keys of one deployment (or
// test) from another's, and timeout bounds each call (DefaultRedisTimeout when ≤ 0).
func NewRedis(rdb *redis.Client, prefix string, timeout time.Duration) *Redis {
	if timeout <= 0 {
		timeout = DefaultRedisTimeout
	}
	return &Redis{lim: redis_rate.NewLimiter(rdb), prefix: prefix, timeout: timeout}
}

// AllowN implements Limiter.
func (r *Redis) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if l.IsZero() {
		return Result{Allowed: true, Remaining: l.Burst}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.lim.AllowN(ctx, r.prefix+key, redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period}, n)
	if err != nil {
		return Result{}, fmt.Errorf("redis rate limit: %w", err)
	}
	out := Result{Allowed: res.Allowed > 0 || n == 0, Remaining: res.Remaining, ResetAfter: max(0, res.ResetAfter)}
	if !out.Allowed {
		out.RetryAfter = max(0, res.RetryAfter)
	}
	if n == 0 {
		out = peekResult(l, out)
	}
	return out, nil
}

// Fallback asks a primary limiter (Redis) and, when it fails, answers from a local one
// (in process) instead, so that losing Redis turns shared limits into per-replica limits
// rather than refusing traffic. After a failure the primary is left alone for RetryEvery
// so a down Redis costs one timeout per RetryEvery, not one per request. The outage is
// logged once when it starts, every WarnEvery while it lasts, and once when it ends.
type Fallback struct {
	// RetryEvery is how long the primary is bypassed after it failed (default 1 s).
	RetryEvery time.Duration
	// WarnEvery is how often a lasting outage is logged again (default 30 s).
	WarnEvery time.Duration

	primary, local Limiter
	log            *slog.Logger
	now            func() time.Time

	mu        sync.Mutex
	downUntil time.Time
	down      bool
	lastWarn  time.Time
	failures  int
}

// NewFallback returns a limiter answering from primary, or from local while primary fails.
func NewFallback(primary, local Limiter, log *slog.Logger) *Fallback {
	if log == nil {
		log = slog.Default()
	}
	return &Fallback{primary: primary, local: local, log: log, RetryEvery: time.Second, WarnEvery: 30 * time.Second, now: time.Now}
}

// AllowN implements Limiter; it never fails.
func (f *Fallback) AllowN(ctx context.Context, key string, l Limit, n int) (Result, error) {
	now := f.now()
	f.mu.Lock()
	skip := now.Before(f.downUntil)
	f.mu.Unlock()
	if !skip {
		r, err := f.primary.AllowN(ctx, key, l, n)
		if err == nil {
			f.up(ctx)
			return r, nil
		}
		if ctx.Err() != nil {
			// The request itself ended; that says nothing about Redis.
			return f.local.AllowN(ctx, key, l, n)
		}
		f.failed(ctx, now, err)
	}
	return f.local.AllowN(ctx, key, l, n)
}

// Down reports whether the primary is being bypassed.
func (f *Fallback) Down() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.down
}

func (f *Fallback) failed(ctx context.Context, now time.Time, err error) {
	f.mu.Lock()
	f.downUntil = now.Add(f.RetryEvery)
	f.failures++
	warn := !f.down || now.Sub(f.lastWarn) >= f.WarnEvery
	failures := f.failures
	if warn {
		f.lastWarn = now
		f.failures = 0
	}
	f.down = true
	f.mu.Unlock()
	if warn {
		f.log.WarnContext(ctx, "rate limiter: Redis unreachable; limits now hold per replica",
			slog.String("error", err.Error()), slog.Int("failures", failures))
	}
}

func (f *Fallback) up(ctx context.Context) {
	f.mu.Lock()
	was := f.down
	f.down = false
	f.failures = 0
	f.mu.Unlock()
	if was {
		f.log.InfoContext(ctx, "rate limiter: Redis reachable again; limits are shared by every replica")
	}
}
