// Package groupcommit lets concurrent requests share database transactions: each
// request submits its item and waits; writers take the queued items in groups and write
// each group in one transaction, answering every request only after the transaction
// holding its item committed. Routing writes transaction messages this way and cards
// write enrolments; what a group's transaction does is theirs (the write function), the
// queueing, deadlines, shutdown and tracing are here.
package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Config tunes a Committer.
type Config struct {
	// MaxBatch is the most items one transaction carries.
	MaxBatch int
	// MaxWait bounds how long a group stays open for more items after its first one
	// was taken. A group never waits on an empty queue while no other group is being
	// written: under light load each item is committed at once.
	MaxWait time.Duration
	// Writers is how many groups may be committing at the same time.
	Writers int
	// Observe, when set, learns every group written: its size, and how long its oldest
	// item waited in the queue before the write began (for metrics and tests).
	Observe func(items int, waited time.Duration)
	// Tracer, when set, starts a span per group written, named SpanName with the
	// group's size in the attribute SizeAttribute; nil traces nothing.
	Tracer                  trace.Tracer
	SpanName, SizeAttribute string
}

// ErrClosed is returned for items submitted after the committer was closed.
var ErrClosed = errors.New("service is shutting down")

// maxGroupTimeout bounds a group whose requests carry no deadline.
const maxGroupTimeout = 30 * time.Second

// The states of a pending item: queued until a writer takes it into a group, or until
// its request gives up waiting first, which withdraws it.
const (
	pendingQueued int32 = iota
	pendingTaken
	pendingWithdrawn
)

type pending[T any] struct {
	item T
	// origin is the submitting request's span, which the group's span links to.
	origin trace.SpanContext
	// deadline is the request's; zero when it has none.
	deadline time.Time
	// queued is when it was submitted; set only when Config.Observe is.
	queued time.Time
	state  atomic.Int32
	done   chan struct{}
	err    error
}

// take claims p for a group; it fails when p's request already gave up.
func (p *pending[T]) take() bool { return p.state.CompareAndSwap(pendingQueued, pendingTaken) }

// Committer runs the group commit of items of type T. It is safe for concurrent use.
type Committer[T any] struct {
	cfg Config
	// write writes one group in one transaction; it may be called again with a single
	// item of a group whose transaction failed, so it must derive every outcome it sets
	// on the items from scratch.
	write func(ctx context.Context, items []T) error
	queue chan *pending[T]
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	// abort ends every group's transaction at once: shutdown cancels it when its deadline
	// passes, so a frozen database cannot hold the process.
	abort       context.Context
	cancelAbort context.CancelFunc
	// writing counts the groups being written.
	writing atomic.Int32
	// mu orders submissions before closing: an item is either queued before close begins
	// (and then written by the writers' final drain) or refused with ErrClosed.
	mu     sync.RWMutex
	closed bool
}

// New starts cfg.Writers writers that write groups with write. MaxBatch and Writers
// must be at least 1.
func New[T any](cfg Config, write func(ctx context.Context, items []T) error) *Committer[T] {
	cfg.MaxBatch, cfg.Writers = max(cfg.MaxBatch, 1), max(cfg.Writers, 1)
	c := &Committer[T]{cfg: cfg, write: write, queue: make(chan *pending[T], cfg.MaxBatch*cfg.Writers*2), stop: make(chan struct{})}
	c.abort, c.cancelAbort = context.WithCancel(context.Background())
	c.wg.Add(cfg.Writers)
	for range cfg.Writers {
		go c.writer()
	}
	return c
}

// Submit queues item and waits until the transaction holding it has committed (or
// failed), returning that transaction's error; the item's own outcome is whatever write
// set on it. An item whose request ends before a writer took it is withdrawn and never
// written (ctx's error); one already taken is answered with its transaction's outcome,
// so an item that committed is never answered with an error.
func (c *Committer[T]) Submit(ctx context.Context, item T) error {
	p := &pending[T]{item: item, origin: trace.SpanContextFromContext(ctx), done: make(chan struct{})}
	p.deadline, _ = ctx.Deadline()
	if c.cfg.Observe != nil {
		p.queued = time.Now()
	}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return ErrClosed
	}
	// The writers keep taking from the queue until close, which waits for this lock, so a
	// full queue cannot block here forever.
	select {
	case c.queue <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		if p.state.CompareAndSwap(pendingQueued, pendingWithdrawn) {
			return ctx.Err()
		}
		<-p.done
		return p.err
	}
}

// Close stops taking items, writes what is queued and waits for the writers.
func (c *Committer[T]) Close() { _ = c.Shutdown(context.Background()) }

// Shutdown stops taking items and writes what is queued. When ctx ends first, the
// groups still being written are cancelled (their requests are answered with the error,
// nothing of them committed) and Shutdown returns ctx's error once the writers stopped.
func (c *Committer[T]) Shutdown(ctx context.Context) error {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
	})
	stopped := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		c.cancelAbort()
		<-stopped
		return fmt.Errorf("group commit: %w", ctx.Err())
	}
}

func (c *Committer[T]) writer() {
	defer c.wg.Done()
	group := make([]*pending[T], 0, c.cfg.MaxBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		group = group[:0]
		select {
		case p := <-c.queue:
			if !p.take() {
				continue
			}
			group = append(group, p)
		case <-c.stop:
			c.drain()
			return
		}
		timer.Reset(c.cfg.MaxWait)
		group = c.gather(group, timer)
		timer.Stop()
		c.writing.Add(1)
		c.writeGroup(group)
		c.writing.Add(-1)
	}
}

// gather fills group from the queue until it is full, the queue is empty while no other
// group is being written, or MaxWait (timer) has passed.
func (c *Committer[T]) gather(group []*pending[T], timer *time.Timer) []*pending[T] {
	for len(group) < c.cfg.MaxBatch {
		select {
		case p := <-c.queue:
			if p.take() {
				group = append(group, p)
			}
		default:
			if c.writing.Load() == 0 {
				// Nothing more waiting and the database idle: write now rather than hold
				// the group open.
				return group
			}
			// Another group is being written: this one could not commit before it
			// anyway, so it gathers what arrives meanwhile, up to MaxWait.
			select {
			case p := <-c.queue:
				if p.take() {
					group = append(group, p)
				}
			case <-timer.C:
				return group
			}
			continue
		}
		select {
		case <-timer.C:
			return group
		default:
		}
	}
	return group
}

// drain writes whatever is still queued at shutdown.
func (c *Committer[T]) drain() {
	for {
		group := make([]*pending[T], 0, c.cfg.MaxBatch)
		empty := true
	fill:
		for len(group) < c.cfg.MaxBatch {
			select {
			case p := <-c.queue:
				empty = false
				if p.take() {
					group = append(group, p)
				}
			default:
				break fill
			}
		}
		if empty {
			return
		}
		if len(group) > 0 {
			c.writeGroup(group)
		}
	}
}

// groupContext is the context a group is written under: its own, since the group
// outlives any one request's handler, but ending at the earliest deadline of its
// requests, so each is answered by its deadline; at most maxGroupTimeout; and at once
// when shutdown aborts.
func (c *Committer[T]) groupContext(group []*pending[T]) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(maxGroupTimeout)
	for _, p := range group {
		if !p.deadline.IsZero() && p.deadline.Before(deadline) {
			deadline = p.deadline
		}
	}
	return context.WithDeadline(c.abort, deadline)
}

// writeGroup commits one group. If the group's transaction fails, each item is tried
// again in its own transaction, so one item that breaks a write cannot fail the others —
// unless the database itself is unavailable, which would fail them all again.
func (c *Committer[T]) writeGroup(group []*pending[T]) {
	if c.cfg.Observe != nil {
		oldest := group[0].queued
		for _, p := range group[1:] {
			if p.queued.Before(oldest) {
				oldest = p.queued
			}
		}
		c.cfg.Observe(len(group), time.Since(oldest))
	}
	items := make([]T, len(group))
	for i, p := range group {
		items[i] = p.item
	}
	ctx, cancel := c.groupContext(group)
	defer cancel()
	ctx, span := c.groupSpan(ctx, group)
	err := c.write(ctx, items)
	if err != nil {
		span.SetStatus(codes.Error, "group transaction failed")
	}
	oneByOne := err != nil && len(group) > 1 && !errors.Is(err, subaccounts.ErrUnavailable) && ctx.Err() == nil
	if oneByOne {
		span.AddEvent("writing each item in its own transaction")
	}
	// Ended before any request is answered, so a request's trace is whole when it is;
	// the one-by-one retries below stay its children.
	span.End()
	if !oneByOne {
		for _, p := range group {
			p.err = err
			close(p.done)
		}
		return
	}
	for _, p := range group {
		p.err = c.write(ctx, []T{p.item})
		close(p.done)
	}
}

// groupSpan starts the span of one group's transaction, its statements' parent. A group
// carries many requests' items, so the span links to every traced request's span; its
// parent is the first sampled of them (or the first), so that a request alone in its
// group — the usual case under light load — shows its commit and statements as its
// children. A group of untraced requests gets no span: the group commit starts no traces
// of its own.
func (c *Committer[T]) groupSpan(ctx context.Context, group []*pending[T]) (context.Context, trace.Span) {
	if c.cfg.Tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	links := make([]trace.Link, 0, len(group))
	var parent trace.SpanContext
	for _, p := range group {
		sc := p.origin
		if !sc.IsValid() {
			continue
		}
		links = append(links, trace.Link{SpanContext: sc})
		if !parent.IsValid() || (!parent.IsSampled() && sc.IsSampled()) {
			parent = sc
		}
	}
	if !parent.IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return c.cfg.Tracer.Start(trace.ContextWithSpanContext(ctx, parent), c.cfg.SpanName,
		trace.WithLinks(links...), trace.WithAttributes(attribute.Int(c.cfg.SizeAttribute, len(group))))
}
