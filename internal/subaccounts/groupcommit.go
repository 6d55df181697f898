package subaccounts

import (
	"context"
	"errors"
	"sync"
	"time"
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

	observe func(n int)
}

// DefaultGroupCommit is at most 256 messages or 2 ms per group, four groups in flight.
var DefaultGroupCommit = GroupCommit{MaxBatch: 256, MaxWait: 2 * time.Millisecond, Writers: 4}

// ErrClosed is returned for messages submitted after the service was closed.
var ErrClosed = errors.New("service is shutting down")

type pending struct {
	m    *message
	done chan struct{}
	err  error
}

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
	c.wg.Add(cfg.Writers)
	for range cfg.Writers {
		go c.writer()
	}
	return c
}

// submit queues m and waits until the transaction holding it has committed (or failed).
func (c *committer) submit(ctx context.Context, m *message) (IngestOutcome, error) {
	p := &pending{m: m, done: make(chan struct{})}
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
	// Once queued, the message is written whether or not the caller still waits, so the
	// answer to a retry is always the stored message.
	select {
	case <-p.done:
		return p.m.out, p.err
	case <-ctx.Done():
		return IngestOutcome{}, ctx.Err()
	}
}

// close stops taking messages, writes what is queued and waits for the writers.
func (c *committer) close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		close(c.stop)
	})
	c.wg.Wait()
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
				group = append(group, p)
			default:
				// Nothing more waiting: write now rather than hold the group open.
				break gather
			}
			select {
			case <-timer.C:
				break gather
			default:
			}
		}
		timer.Stop()
		c.write(group)
	}
}

// drain writes whatever is still queued at shutdown.
func (c *committer) drain() {
	for {
		group := make([]*pending, 0, c.cfg.MaxBatch)
	fill:
		for len(group) < c.cfg.MaxBatch {
			select {
			case p := <-c.queue:
				group = append(group, p)
			default:
				break fill
			}
		}
		if len(group) == 0 {
			return
		}
		c.write(group)
	}
}

// write commits one group. If the group's transaction fails, each message is tried again
// in its own transaction, so one message that breaks a write cannot fail the others.
func (c *committer) write(group []*pending) {
	if c.cfg.observe != nil {
		c.cfg.observe(len(group))
	}
	msgs := make([]*message, len(group))
	for i, p := range group {
		msgs[i] = p.m
	}
	// The group outlives any one request: it is written under a context of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.svc.store.Transact(ctx, func(tx Tx) error { return c.svc.ingest(ctx, tx, msgs) })
	if err == nil || len(group) == 1 {
		for _, p := range group {
			p.err = err
			close(p.done)
		}
		return
	}
	for _, p := range group {
		one := []*message{p.m}
		p.err = c.svc.store.Transact(ctx, func(tx Tx) error { return c.svc.ingest(ctx, tx, one) })
		close(p.done)
	}
}
