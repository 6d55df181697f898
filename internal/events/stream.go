package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// StreamStore is what the stream publisher needs of the database: the outbox's
// stream-pending events, read and marked in one transaction under a lock only one
// replica holds at a time.
type StreamStore interface {
	// Transact runs fn in one transaction that store calls made with fn's ctx join.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// TryLockStream takes the publisher's lock for the rest of the transaction, or
	// reports that another replica holds it.
	TryLockStream(ctx context.Context) (bool, error)
	// StreamPendingEvents returns up to limit events still to be published, oldest first.
	StreamPendingEvents(ctx context.Context, limit int) ([]subaccounts.Event, error)
	// MarkEventsStreamed records that the stream acknowledged events.
	MarkEventsStreamed(ctx context.Context, events []subaccounts.Event) error
}

// Defaults of the stream publisher.
const (
	// DefaultStreamName is the JetStream stream the events go to.
	DefaultStreamName = "SUBACCOUNT_EVENTS"
	// DefaultSubjectPrefix leads every event's subject:
	// <prefix>.<accountId>.<subaccountId or "account">.<type>.
	DefaultSubjectPrefix = "subaccounts.events"
	// DefaultDuplicateWindow is how long JetStream remembers a Nats-Msg-Id: a
	// republish after a crash within it is stored once.
	DefaultDuplicateWindow = 2 * time.Minute
	// DefaultStreamMaxAge is how long the stream keeps a message, like the outbox's
	// own retention (WEBHOOK_RETENTION's default).
	DefaultStreamMaxAge = 30 * 24 * time.Hour
	// accountToken stands for the subaccount in the subject of an account-level event.
	accountToken = "account"
)

// StreamConfig tunes a Stream; zero fields take the defaults.
type StreamConfig struct {
	// URL is the NATS server (EVENTS_NATS_URL).
	URL string
	// Name is the JetStream stream (default SUBACCOUNT_EVENTS); Subject the prefix of
	// its subjects (default subaccounts.events). Tests use their own of each.
	Name, Subject string
	// DuplicateWindow and MaxAge configure a stream the publisher creates; a stream
	// that exists is left as its operator configured it.
	DuplicateWindow, MaxAge time.Duration
	// Batch is how many events one transaction publishes (default 500).
	Batch int
	// Poll is how often the publisher looks for events when it has nothing to do
	// (default 200 ms).
	Poll time.Duration
	// AckTimeout bounds the wait for a batch's acknowledgements (default 5 s);
	// ConnectTimeout one connection attempt (default 2 s).
	AckTimeout, ConnectTimeout time.Duration
	// MaxBackoff caps the wait between attempts while NATS or the database is
	// unavailable (default 5 s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
	// Observe, when set, learns every committed batch: how many events it published
	// and how long its oldest event waited in the outbox.
	Observe func(published int, lag time.Duration)
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Name == "" {
		c.Name = DefaultStreamName
	}
	if c.Subject == "" {
		c.Subject = DefaultSubjectPrefix
	}
	c.Subject = strings.TrimSuffix(c.Subject, ".")
	if c.DuplicateWindow <= 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.MaxAge <= 0 {
		c.MaxAge = DefaultStreamMaxAge
	}
	if c.Batch <= 0 {
		c.Batch = 500
	}
	if c.Poll <= 0 {
		c.Poll = 200 * time.Millisecond
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = 5 * time.Second
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 2 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Stream publishes the outbox's stream-pending events to NATS JetStream. Every replica
// runs one; the stream lock lets one publish at a time, so events reach the stream in
// the order they were written. An event is marked published only in the transaction
// that saw JetStream acknowledge it, and carries its id as Nats-Msg-Id, so one
// published again after a crash between the two is stored once.
type Stream struct {
	store StreamStore
	cfg   StreamConfig
	wake  chan struct{}

	// stop ends the loop; done closes when it has. work is the context a batch runs
	// in: cancelled only when a Stop gives up waiting for it.
	stop       context.CancelFunc
	done       chan struct{}
	work       context.Context
	cancelWork context.CancelFunc
	stopOnce   sync.Once

	// Owned by the loop's goroutine (and by Stop once the loop ended).
	nc *nats.Conn
	js jetstream.JetStream
	// ready is set once the JetStream stream is known to exist.
	ready bool
	// down is when the current outage began; zero while publishing works.
	down time.Time
}

// NewStream returns a publisher of store's stream-pending events; Start it. It does
// not connect yet: a NATS that is down at boot only delays publishing.
func NewStream(store StreamStore, cfg StreamConfig) *Stream {
	work, cancel := context.WithCancel(context.Background())
	return &Stream{
		store: store, cfg: cfg.withDefaults(), wake: make(chan struct{}, 1),
		done: make(chan struct{}), work: work, cancelWork: cancel,
	}
}

// Start runs the publisher until Stop.
func (s *Stream) Start() {
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	go func() {
		defer close(s.done)
		s.loop(ctx)
	}()
}

// Wake makes the publisher look for pending events now (a change just committed some).
func (s *Stream) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Stop ends the publisher within ctx: it starts no new batch, lets the one running
// commit until ctx's deadline and rolls it back then (its events are published again,
// and deduplicated, by the next publisher), and closes the connection.
func (s *Stream) Stop(ctx context.Context) {
	s.stopOnce.Do(func() {
		if s.stop == nil {
			return
		}
		s.stop()
		select {
		case <-s.done:
		case <-ctx.Done():
			s.cancelWork()
			<-s.done
		}
		s.cancelWork()
		if s.nc != nil {
			s.nc.Close()
		}
	})
}

// loop publishes batch after batch while they come full, and otherwise waits for the
// poll interval, a Wake, or (after a failure) a backoff that doubles up to MaxBackoff.
func (s *Stream) loop(stop context.Context) {
	var backoff time.Duration
	for stop.Err() == nil {
		full, err := s.step(s.work)
		wait := s.cfg.Poll
		switch {
		case err != nil && stop.Err() == nil:
			s.failing(err)
			backoff = min(max(2*backoff, 50*time.Millisecond), s.cfg.MaxBackoff)
			wait = backoff
		case err == nil:
			s.recovered()
			backoff = 0
			if full {
				continue
			}
		}
		s.sleep(stop, wait)
	}
}

func (s *Stream) sleep(stop context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop.Done():
	case <-t.C:
	case <-s.wake:
	}
}

// failing logs the first failure of an outage at WARN and the rest at DEBUG, so a NATS
// that is away for an hour leaves one warning, not thousands.
func (s *Stream) failing(err error) {
	if s.down.IsZero() {
		s.down = time.Now()
		s.cfg.Logger.Warn("events stream: publishing paused; events stay in the outbox and are retried", "err", err)
		return
	}
	s.cfg.Logger.Debug("events stream: retry failed", "err", err)
}

func (s *Stream) recovered() {
	if s.down.IsZero() {
		return
	}
	s.cfg.Logger.Info("events stream: publishing again", "paused", time.Since(s.down).Round(time.Millisecond).String())
	s.down = time.Time{}
}

// errDisconnected stops a batch before its transaction while NATS is away: nothing could
// be published, and on SQLite the transaction would hold the write lock for nothing.
var errDisconnected = errors.New("events stream: not connected to NATS")

// step publishes one batch; full reports that more may be waiting.
func (s *Stream) step(ctx context.Context) (full bool, err error) {
	if err := s.connect(ctx); err != nil {
		return false, err
	}
	if !s.nc.IsConnected() {
		return false, errDisconnected
	}
	var published []subaccounts.Event
	var pubErr error
	err = s.store.Transact(ctx, func(ctx context.Context) error {
		var err error
		published, full, pubErr, err = s.publishPending(ctx)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("events stream: %w", err)
	}
	s.observe(published)
	return full && pubErr == nil, pubErr
}

// publishPending publishes the pending events in the transaction ctx carries and marks
// the acknowledged ones. It commits what JetStream acknowledged even when some events
// failed (pubErr), and rolls back (err) when none was.
func (s *Stream) publishPending(ctx context.Context) (marked []subaccounts.Event, full bool, pubErr, err error) {
	ok, err := s.store.TryLockStream(ctx)
	if err != nil || !ok {
		// Another replica publishes; this one waits for the next poll.
		return nil, false, nil, wrap("lock", err)
	}
	evs, err := s.store.StreamPendingEvents(ctx, s.cfg.Batch)
	if err != nil || len(evs) == 0 {
		return nil, false, nil, wrap("read pending events", err)
	}
	acked, pubErr := s.publish(ctx, evs)
	if len(acked) == 0 {
		return nil, false, nil, pubErr
	}
	if err := s.store.MarkEventsStreamed(ctx, acked); err != nil {
		return nil, false, nil, wrap("mark events published", err)
	}
	return acked, len(evs) == s.cfg.Batch, pubErr, nil
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// publish sends evs asynchronously, in order, and returns those JetStream acknowledged
// within AckTimeout, with the first failure if any was not.
func (s *Stream) publish(ctx context.Context, evs []subaccounts.Event) ([]subaccounts.Event, error) {
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	var sendErr error
	for _, ev := range evs {
		f, err := s.js.PublishMsgAsync(s.message(ev), jetstream.WithMsgID(ev.ID.String()))
		if err != nil {
			sendErr = fmt.Errorf("publish event %s: %w", ev.ID, err)
			break
		}
		futures = append(futures, f)
	}
	acked, ackErr := s.await(ctx, evs, futures)
	return acked, errors.Join(ackErr, sendErr)
}

// await collects the acknowledgements of futures (those of evs' first events).
func (s *Stream) await(ctx context.Context, evs []subaccounts.Event, futures []jetstream.PubAckFuture) ([]subaccounts.Event, error) {
	timeout := time.NewTimer(s.cfg.AckTimeout)
	defer timeout.Stop()
	acked := make([]subaccounts.Event, 0, len(futures))
	var first error
	for i, f := range futures {
		select {
		case <-f.Ok():
			acked = append(acked, evs[i])
		case err := <-f.Err():
			if first == nil {
				first = fmt.Errorf("publish event %s: %w", evs[i].ID, err)
			}
		case <-timeout.C:
			return acked, errors.Join(first, fmt.Errorf("publish: %d events unacknowledged after %s", len(futures)-i, s.cfg.AckTimeout))
		case <-ctx.Done():
			return acked, errors.Join(first, ctx.Err())
		}
	}
	return acked, first
}

// message is ev on the wire: its payload unchanged, on its subject.
func (s *Stream) message(ev subaccounts.Event) *nats.Msg {
	return &nats.Msg{Subject: s.subject(ev), Data: ev.Payload, Header: nats.Header{}}
}

// subject is <prefix>.<accountId>.<subaccountId or "account">.<type>: a consumer of one
// subaccount filters on <prefix>.<accountId>.<subaccountId>.>. The catalogue's types
// all hold one dot (card.enrolled), so every subject has the same number of tokens.
func (s *Stream) subject(ev subaccounts.Event) string {
	sub := accountToken
	if ev.SubaccountID != nil {
		sub = ev.SubaccountID.String()
	}
	return s.cfg.Subject + "." + ev.AccountID.String() + "." + sub + "." + ev.Type
}

func (s *Stream) observe(published []subaccounts.Event) {
	if s.cfg.Observe == nil || len(published) == 0 {
		return
	}
	s.cfg.Observe(len(published), time.Since(published[0].CreatedAt))
}

// connect opens the connection once (it reconnects by itself for ever after) and makes
// sure the JetStream stream exists.
func (s *Stream) connect(ctx context.Context) error {
	if s.nc == nil {
		nc, err := nats.Connect(s.cfg.URL,
			nats.Name("subaccountd events stream"),
			// A NATS that is down at boot is retried in the background like a lost one.
			nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1),
			nats.ReconnectWait(time.Second), nats.Timeout(s.cfg.ConnectTimeout),
			// The outbox is the buffer: a publish while disconnected fails at once
			// instead of waiting in the client's memory to be sent out of turn later.
			nats.ReconnectBufSize(-1),
		)
		if err != nil {
			return fmt.Errorf("events stream: connect: %w", err)
		}
		js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(s.cfg.AckTimeout))
		if err != nil {
			nc.Close()
			return fmt.Errorf("events stream: jetstream: %w", err)
		}
		s.nc, s.js = nc, js
	}
	if s.ready || !s.nc.IsConnected() {
		return nil
	}
	if err := s.ensureStream(ctx); err != nil {
		return err
	}
	s.ready = true
	return nil
}

// ensureStream creates the stream when it is absent. One that exists is left alone (an
// operator may have tuned its limits or replicas), with a warning if its duplicate
// window is shorter than the publisher relies on.
func (s *Stream) ensureStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AckTimeout)
	defer cancel()
	st, err := s.js.Stream(ctx, s.cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		_, err = s.js.CreateStream(ctx, jetstream.StreamConfig{
			Name: s.cfg.Name, Subjects: []string{s.cfg.Subject + ".>"}, Storage: jetstream.FileStorage,
			Duplicates: s.cfg.DuplicateWindow, MaxAge: s.cfg.MaxAge,
			Description: "Subaccount events, published from the outbox",
		})
		return wrap("events stream: create stream "+s.cfg.Name, err)
	}
	if err != nil {
		return fmt.Errorf("events stream: look up stream %s: %w", s.cfg.Name, err)
	}
	if d := st.CachedInfo().Config.Duplicates; d < s.cfg.DuplicateWindow {
		s.cfg.Logger.Warn("events stream: the stream's duplicate window is short; a republish after a crash may be stored twice",
			"stream", s.cfg.Name, "window", d.String(), "want", s.cfg.DuplicateWindow.String())
	}
	return nil
}
