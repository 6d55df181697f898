package routing

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

// GroupCommit tunes how concurrent single-message requests share database transactions.
type GroupCommit struct {
	// MaxBatch is the most messages one transaction carries.
	MaxBatch int
	// MaxWait bounds how long a group stays open for more messages after its first one
	// was taken. A group never waits on an empty queue: under light load each message is
	// committed at once, and under load the messages that queue up during one commit form
	// the next group.
	MaxWait time.Duration
	// Writers is how many groups may be committing at the same time.
	Writers int
	// Observe, when set, learns every group written: its size, and how long its oldest
	// message waited in the queue before the write began (for metrics and tests).
	Observe func(messages int, waited time.Duration)
	// Tracer, when set, starts a span per group written (see groupSpan); nil traces
	// nothing.
	Tracer trace.Tracer
}

// DefaultGroupCommit is at most 256 messages or 2 ms per group, two groups in flight:
// with three round trips a group, two writers keep the database busy while the messages
// queued during one commit form the next group (four made groups half the size for the
// same throughput, one let a slow commit hold every request).
var DefaultGroupCommit = GroupCommit{MaxBatch: 256, MaxWait: 2 * time.Millisecond, Writers: 2}

// ErrClosed is returned for messages submitted after the service was closed.
var ErrClosed = errors.New("service is shutting down")

// The states of a pending message: queued until a writer takes it into a group, or until
// its request gives up waiting first, which withdraws it.
const (
	pendingQueued int32 = iota
	pendingTaken
	pendingWithdrawn
)

type pending struct {
	m *message
	// deadline is the request's; zero when it has none.
	deadline time.Time
	// queued is when it was submitted; set only when GroupCommit.Observe is.
	queued time.Time
	state  atomic.Int32
	done   chan struct{}
	err    error
}

// take claims p for a group; it fails when p's request already gave up.
func (p *pending) take() bool { return p.state.CompareAndSwap(pendingQueued, pendingTaken) }

// maxGroupTimeout bounds a group whose requests carry no deadline.
const maxGroupTimeout = 30 * time.Second

// committer runs the group commit: writers take messages off one queue, each gathering a
// group and writing it in one database transaction, and acknowledge every request only
// after that transaction committed.
type committer struct {
	svc   *Service
	cfg   GroupCommit
	queue chan *pending
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	// abort ends every group's transaction at once: shutdown cancels it when its deadline
	// passes, so a frozen database cannot hold the process.
	abort       context.Context
	cancelAbort context.CancelFunc
	// writing counts the groups being written.
	writing atomic.Int32
	// mu orders submissions before closing: a message is either queued before close
	// begins (and then written by the writers' final drain) or refused with ErrClosed.
	mu     sync.RWMutex
	closed bool
}

func newCommitter(svc *Service, cfg GroupCommit) *committer {
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = DefaultGroupCommit.MaxBatch
	}
	if cfg.Writers < 1 {
		cfg.Writers = DefaultGroupCommit.Writers
	}
	c := &committer{svc: svc, cfg: cfg, queue: make(chan *pending, cfg.MaxBatch*cfg.Writers*2), stop: make(chan struct{})}
	c.abort, c.cancelAbort = context.WithCancel(context.Background())
	c.wg.Add(cfg.Writers)
	for range cfg.Writers {
		go c.writer()
	}
	return c
}

// submit queues m and waits until the transaction holding it has committed (or failed).
func (c *committer) submit(ctx context.Context, m *message) (IngestOutcome, error) {
	p := &pending{m: m, done: make(chan struct{})}
	p.deadline, _ = ctx.Deadline()
	if c.cfg.Observe != nil {
		p.queued = time.Now()
	}
	// The group's span links to it; the message's events continue it.
	m.origin = trace.SpanContextFromContext(ctx)
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return IngestOutcome{}, ErrClosed
	}
	// The writers keep taking from the queue until close, which waits for this lock, so a
	// full queue cannot block here forever.
	select {
	case c.queue <- p:
		c.mu.RUnlock()
	case <-ctx.Done():
		c.mu.RUnlock()
		return IngestOutcome{}, ctx.Err()
	}
	select {
	case <-p.done:
		return p.m.out, p.err
	case <-ctx.Done():
		if p.state.CompareAndSwap(pendingQueued, pendingWithdrawn) {
			// No writer took it, and none will: nothing of it is written.
			return IngestOutcome{}, ctx.Err()
		}
		// A writer holds it in a transaction that ends by this request's deadline. Its
		// outcome is this request's answer: a message that committed is never answered
		// with an error.
		<-p.done
		return p.m.out, p.err
	}
}

// close stops taking messages, writes what is queued and waits for the writers.
func (c *committer) close() { _ = c.shutdown(context.Background()) }

// shutdown stops taking messages and writes what is queued. When ctx ends first, the
// groups still being written are cancelled (their requests are answered with the error,
// nothing of them committed) and shutdown returns ctx's error once the writers stopped.
func (c *committer) shutdown(ctx context.Context) error {
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

func (c *committer) writer() {
	defer c.wg.Done()
	group := make([]*pending, 0, c.cfg.MaxBatch)
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
	gather:
		for len(group) < c.cfg.MaxBatch {
			select {
			case p := <-c.queue:
				if p.take() {
					group = append(group, p)
				}
			default:
				if c.writing.Load() == 0 {
					// Nothing more waiting and the database idle: write now rather than
					// hold the group open.
					break gather
				}
				// Another group is being written: this one could not commit before it
				// anyway, so it gathers what arrives meanwhile, up to MaxWait.
				select {
				case p := <-c.queue:
					if p.take() {
						group = append(group, p)
					}
				case <-timer.C:
					break gather
				}
				continue
			}
			select {
			case <-timer.C:
				break gather
			default:
			}
		}
		timer.Stop()
		c.writing.Add(1)
		c.write(group)
		c.writing.Add(-1)
	}
}

// drain writes whatever is still queued at shutdown.
func (c *committer) drain() {
	for {
		group := make([]*pending, 0, c.cfg.MaxBatch)
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
			c.write(group)
		}
	}
}

// groupContext is the context a group is written under: its own, since the group
// outlives any one request's handler, but ending at the earliest deadline of its
// requests, so each is answered by its deadline; at most maxGroupTimeout; and at once
// when shutdown aborts.
func (c *committer) groupContext(group []*pending) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(maxGroupTimeout)
	for _, p := range group {
		if !p.deadline.IsZero() && p.deadline.Before(deadline) {
			deadline = p.deadline
		}
	}
	return context.WithDeadline(c.abort, deadline)
}

// write commits one group. If the group's transaction fails, each message is tried again
// in its own transaction, so one message that breaks a write cannot fail the others —
// unless the database itself is unavailable, which would fail them all again.
func (c *committer) write(group []*pending) {
	if c.cfg.Observe != nil {
		oldest := group[0].queued
		for _, p := range group[1:] {
			if p.queued.Before(oldest) {
				oldest = p.queued
			}
		}
		c.cfg.Observe(len(group), time.Since(oldest))
	}
	msgs := make([]*message, len(group))
	for i, p := range group {
		msgs[i] = p.m
	}
	ctx, cancel := c.groupContext(group)
	defer cancel()
	ctx, span := c.groupSpan(ctx, group)
	err := c.svc.writeGroup(ctx, msgs)
	if err != nil {
		span.SetStatus(codes.Error, "group transaction failed")
	}
	oneByOne := err != nil && len(group) > 1 && !errors.Is(err, subaccounts.ErrUnavailable) && ctx.Err() == nil
	if oneByOne {
		span.AddEvent("writing each message in its own transaction")
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
		one := []*message{p.m}
		p.err = c.svc.writeGroup(ctx, one)
		close(p.done)
	}
}

// groupSpan starts the span of one group's transaction, its statements' parent. A group
// carries many requests' messages, so the span links to every traced request's span; its
// parent is the first sampled of them (or the first), so that a request alone in its group
// — the usual case under light load — shows its commit and statements as its children.
// A group of untraced requests gets no span: the group commit starts no traces of its own.
func (c *committer) groupSpan(ctx context.Context, group []*pending) (context.Context, trace.Span) {
	if c.cfg.Tracer == nil {
		return ctx, trace.SpanFromContext(ctx)
	}
	links := make([]trace.Link, 0, len(group))
	var parent trace.SpanContext
	for _, p := range group {
		sc := p.m.origin
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
	return c.cfg.Tracer.Start(trace.ContextWithSpanContext(ctx, parent), "routing.group_commit",
		trace.WithLinks(links...), trace.WithAttributes(attribute.Int("routing.group.messages", len(group))))
}

// traceParent is sc as a W3C traceparent header value, or "" when sc is not valid.
func traceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}
