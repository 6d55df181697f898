package ratelimit

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the keys an in-process limiter remembers.
const DefaultMaxKeys = 100_000

// Memory is an in-process GCRA limiter. A key's whole state is its theoretical arrival
// time (TAT); a key whose TAT has passed is back to a full burst and is the same as an
// absent one, so idle keys are dropped without changing any answer. Memory is bounded by
// MaxKeys: when that many keys are all busy, a quarter of them are forgotten, which can
// only admit more, never refuse more.
type Memory struct {
	maxKeys int
	now     func() time.Time

	mu  sync.Mutex
	tat map[string]time.Time
}

// NewMemory returns an in-process limiter remembering at most maxKeys keys
// (DefaultMaxKeys when maxKeys ≤ 0).
func NewMemory(maxKeys int) *Memory {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	return &Memory{maxKeys: maxKeys, now: time.Now, tat: map[string]time.Time{}}
}

// Len is how many keys are remembered.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.tat)
}

// AllowN implements Limiter; it never fails.
func (m *Memory) AllowN(_ context.Context, key string, l Limit, n int) (Result, error) {
	if l.IsZero() {
		return Result{Allowed: true, Remaining: l.Burst}, nil
	}
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	tat, ok := m.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	ei := l.interval()
	newTAT := tat.Add(time.Duration(n) * ei)
	diff := now.Sub(newTAT.Add(-time.Duration(l.Burst) * ei))
	if diff < 0 {
		return Result{Remaining: 0, RetryAfter: -diff, ResetAfter: tat.Sub(now)}, nil
	}
	if newTAT.After(now) {
		if !ok {
			m.makeRoom(now)
		}
		m.tat[key] = newTAT
	}
	r := Result{Allowed: true, Remaining: int(diff / ei), ResetAfter: newTAT.Sub(now)}
	if n == 0 {
		r = peekResult(l, r)
	}
	return r, nil
}

// makeRoom keeps the map under maxKeys before a key is added; m.mu is held.
func (m *Memory) makeRoom(now time.Time) {
	if len(m.tat) < m.maxKeys {
		return
	}
	for k, t := range m.tat {
		if !t.After(now) {
			delete(m.tat, k)
		}
	}
	if len(m.tat) < m.maxKeys {
		return
	}
	// Every key is busy: forget a quarter of them (in map order, which is random), so the
	// next inserts do not each pay a full sweep.
	drop := len(m.tat) / 4
	for k := range m.tat {
		if drop == 0 {
			break
		}
		delete(m.tat, k)
		drop--
	}
}
