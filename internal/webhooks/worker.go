package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Defaults of the delivery workers.
const (
	// DefaultInFlight bounds the attempts one replica makes at once, DefaultPerEndpoint
	// those to one endpoint, so a slow or dead endpoint holds at most that many.
	DefaultInFlight    = 256
	DefaultPerEndpoint = 64
	// DefaultRetention is how long deliveries and events are kept (WEBHOOK_RETENTION).
	DefaultRetention = 30 * 24 * time.Hour
	// DisableAfter is how long an endpoint may fail every delivery before it is disabled.
	DisableAfter = 5 * 24 * time.Hour
	// maxResponseBody is how much of an answer's body an attempt keeps.
	maxResponseBody = 1024
	// maxRetryAfter caps the wait a 429 or 503 asks for.
	maxRetryAfter = 24 * time.Hour
)

// WorkerConfig tunes a Worker; zero fields take the defaults.
type WorkerConfig struct {
	// ID names this replica's claims; empty means a random one.
	ID string
	// Schedule is the wait before each retry (WEBHOOK_RETRY_SCHEDULE).
	Schedule []time.Duration
	// Jitter spreads each wait by up to this fraction either way (default 0.1).
	Jitter float64
	// InFlight and PerEndpoint bound the attempts made at once.
	InFlight, PerEndpoint int
	// Poll is how often the worker looks for due deliveries when it has nothing to do.
	Poll time.Duration
	// Timeout bounds one attempt (default 15 s); Lease is how long a claim holds
	// (default four timeouts), after which another replica may send it again.
	Timeout, Lease time.Duration
	// Retention is how long deliveries and events are kept.
	Retention time.Duration
	// Client sends the attempts; nil means the Guard's client.
	Client *http.Client
	Logger *slog.Logger
	// Observe learns every attempt's outcome and the lag from the event to it.
	Observe func(outcome string, lag time.Duration)
	// Tracer, when set, starts a client span per attempt, a child of the span that made
	// the event; nil traces nothing (the stored traceparent is still passed on).
	Tracer trace.Tracer
}

func (c WorkerConfig) withDefaults(guard Guard) WorkerConfig {
	if c.ID == "" {
		c.ID = "worker-" + uuid.NewString()
	}
	if c.Schedule == nil {
		c.Schedule = events.DefaultSchedule
	}
	if c.Jitter == 0 {
		c.Jitter = 0.1
	}
	if c.InFlight <= 0 {
		c.InFlight = DefaultInFlight
	}
	if c.PerEndpoint <= 0 {
		c.PerEndpoint = DefaultPerEndpoint
	}
	if c.Poll <= 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = deliveryTimeout
	}
	if c.Lease <= 0 {
		c.Lease = 4 * c.Timeout
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.Client == nil {
		c.Client = guard.Client()
	}
	client := *c.Client
	client.Timeout = c.Timeout
	c.Client = &client
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// ParseSchedule reads a comma-separated list of durations ("5s,5m,30m").
func ParseSchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule: %q is not a positive duration", part)
		}
		out = append(out, d)
	}
	return out, nil
}

// result is an attempt made, waiting to be recorded.
type result struct {
	work    subaccounts.DeliveryWork
	attempt subaccounts.Attempt
	// retryAfter is the wait a 429 or 503 asked for.
	retryAfter time.Duration
	// cancelled is an attempt shutdown cut short: not recorded, its claim released.
	cancelled bool
}

// Worker delivers the outbox's due deliveries. Every replica runs one: a delivery is
// claimed by one worker at a time (SKIP LOCKED and a lease), sent, and its attempt
// recorded; a worker that dies leaves its leases to run out.
type Worker struct {
	store Store
	rec   subaccounts.Recorder
	ring  *keys.Ring
	cfg   WorkerConfig
	// changed learns of endpoints the worker disabled.
	changed func(accountID uuid.UUID)

	mu       sync.Mutex
	inFlight int
	// claimed says the worker ever claimed a delivery (and has claims to release);
	// backlog that the last claim left due deliveries behind.
	claimed, backlog bool
	// freed counts the slots freed since the last claim.
	freed    int
	busy     map[uuid.UUID]int
	wake     chan struct{}
	sends    sync.WaitGroup
	results  chan result
	recorded chan struct{}
	// stop ends the loop; done closes when it has; sendCtx is cancelled when a stop
	// gives up on attempts still running.
	stop       context.CancelFunc
	done       chan struct{}
	sendCtx    context.Context
	cancelSend context.CancelFunc
	stopOnce   sync.Once
}

// NewWorker returns a worker over the service's store, recorder and keys; Start it.
func (s *Service) NewWorker(cfg WorkerConfig) *Worker {
	ctx, cancel := context.WithCancel(context.Background())
	cfg = cfg.withDefaults(s.guard)
	return &Worker{
		store: s.store, rec: s.rec, ring: s.ring, cfg: cfg, changed: s.changed,
		busy: map[uuid.UUID]int{}, wake: make(chan struct{}, 1), results: make(chan result, cfg.InFlight),
		recorded: make(chan struct{}), done: make(chan struct{}), sendCtx: ctx, cancelSend: cancel,
	}
}

// Start runs the worker until Stop.
func (w *Worker) Start() {
	ctx, stop := context.WithCancel(context.Background())
	w.stop = stop
	go func() {
		defer close(w.recorded)
		w.record(w.results)
	}()
	go func() {
		defer close(w.done)
		w.loop(ctx)
	}()
}

// Wake makes the worker look for due deliveries now (a change just committed some).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) loop(ctx context.Context) {
	tick := time.NewTicker(w.cfg.Poll)
	defer tick.Stop()
	purge := time.NewTicker(time.Hour)
	defer purge.Stop()
	w.purge(ctx)
	for ctx.Err() == nil {
		w.dispatch(ctx, w.results)
		select {
		case <-ctx.Done():
		case <-tick.C:
		case <-w.wake:
		case <-purge.C:
			w.purge(ctx)
		}
	}
}

// Stop ends the worker within ctx: it claims nothing more, gives the attempts running
// until shortly before ctx's deadline, cancels those still running then (unrecorded),
// and releases every claim it holds for the next replica in the time left. A database
// that does not answer costs no more than ctx: the claims it could not release run out
// with their leases.
func (w *Worker) Stop(ctx context.Context) {
	w.stopOnce.Do(func() {
		if w.stop == nil {
			return
		}
		w.stop()
		<-w.done
		sendCtx, cancel := context.WithCancel(ctx)
		if deadline, ok := ctx.Deadline(); ok {
			reserve := min(500*time.Millisecond, time.Until(deadline)/4)
			sendCtx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		}
		defer cancel()
		sent := make(chan struct{})
		go func() { w.sends.Wait(); close(sent) }()
		select {
		case <-sent:
		case <-sendCtx.Done():
			w.cancelSend()
			<-sent
		}
		close(w.results)
		select {
		case <-w.recorded:
		case <-ctx.Done():
		}
		w.release(ctx)
		w.cancelSend()
	})
}

// release ends the leases this worker holds, if it ever claimed anything, in at most
// releaseTimeout: a database that does not answer must not hold the shutdown.
func (w *Worker) release(ctx context.Context) {
	w.mu.Lock()
	claimed := w.claimed
	w.mu.Unlock()
	if !claimed {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := w.store.ReleaseDeliveries(ctx, w.cfg.ID); err != nil {
		w.cfg.Logger.Warn("webhooks: release claims; they are sent again once their leases run out", "err", err)
	}
}

// releaseTimeout bounds the release of a stopping worker's claims.
const releaseTimeout = 500 * time.Millisecond

// dispatch claims what the free slots allow and starts sending it.
func (w *Worker) dispatch(ctx context.Context, results chan<- result) {
	w.mu.Lock()
	free := w.cfg.InFlight - w.inFlight
	w.mu.Unlock()
	if free <= 0 {
		return
	}
	works, more, err := w.claim(ctx, free)
	w.mu.Lock()
	w.backlog, w.freed = more, 0
	w.mu.Unlock()
	if err != nil {
		if ctx.Err() == nil {
			w.cfg.Logger.Warn("webhooks: claim due deliveries", "err", err)
		}
		return
	}
	for _, work := range works {
		w.sends.Add(1)
		go func() {
			defer w.sends.Done()
			results <- w.send(work)
			w.free(work.Endpoint.ID)
		}()
	}
}

// claim takes up to free due deliveries, no more per endpoint than its free slots; more
// reports that it left due deliveries behind (a full page, or endpoints in full).
func (w *Worker) claim(ctx context.Context, free int) (chosen []subaccounts.DeliveryWork, more bool, err error) {
	err = w.store.Transact(ctx, func(ctx context.Context) error {
		chosen = chosen[:0]
		now := time.Now()
		caps := subaccounts.DueCaps{Take: free, PerEndpoint: w.cfg.PerEndpoint, Busy: w.busyEndpoints()}
		due, left, err := w.store.ClaimableDeliveries(ctx, now, caps)
		if err != nil {
			return err
		}
		// The store may return more than the caps allow (SQLite reads a page): take what
		// each endpoint's free slots allow.
		taken := map[uuid.UUID]int{}
		for _, d := range due {
			ep := d.Endpoint.ID
			if len(chosen) < free && taken[ep] < caps.Free(ep) {
				taken[ep]++
				chosen = append(chosen, d)
			}
		}
		more = left || len(chosen) < len(due)
		ds := make([]subaccounts.Delivery, len(chosen))
		for i, c := range chosen {
			ds[i] = c.Delivery
		}
		claimed, err := w.store.ClaimDeliveries(ctx, ds, w.cfg.ID, now.Add(w.cfg.Lease))
		if err != nil {
			return err
		}
		for i := range chosen {
			chosen[i].Delivery = claimed[i]
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	w.mu.Lock()
	for _, c := range chosen {
		w.inFlight++
		w.busy[c.Endpoint.ID]++
		w.claimed = true
	}
	w.mu.Unlock()
	return chosen, more, nil
}

// free gives back the slot of an attempt handed to the recorder: its delivery stays
// leased until the record, so no worker claims it meanwhile.
// Freed slots wake the worker only when due deliveries were left behind for want of
// slots, and only claimBatch of them at a time; otherwise the next poll claims what
// became due meanwhile, many per claim.
func (w *Worker) free(endpointID uuid.UUID) {
	w.mu.Lock()
	w.inFlight--
	if w.busy[endpointID]--; w.busy[endpointID] <= 0 {
		delete(w.busy, endpointID)
	}
	w.freed++
	wake := w.backlog && (w.freed >= claimBatch || w.inFlight == 0)
	w.mu.Unlock()
	if wake {
		w.Wake()
	}
}

// claimBatch is how many slots must have freed before a backlogged worker claims again:
// a claim per freed slot would read a page of due deliveries to take one.
const claimBatch = 16

// busyEndpoints are the endpoints with attempts in flight, and how many.
func (w *Worker) busyEndpoints() map[uuid.UUID]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.busy)
}

// send makes one attempt of work.
func (w *Worker) send(work subaccounts.DeliveryWork) result {
	d, ev := work.Delivery, work.Event
	at := time.Now()
	out := result{work: work, attempt: subaccounts.Attempt{N: d.Attempts + 1, At: at}}
	secrets, err := w.secrets(work.Endpoint, at)
	if err != nil {
		out.attempt.Error = "signing secret unavailable"
		w.cfg.Logger.Error("webhooks: open secret", "endpoint", work.Endpoint.ID, "err", err)
		return out
	}
	msg := Message{ID: ev.ID.String(), EventType: ev.Type, Body: ev.Payload}
	if ev.SubaccountID != nil {
		msg.SubaccountID = ev.SubaccountID.String()
	}
	req, err := msg.Request(work.Endpoint.URL, at, secrets...)
	if err != nil {
		out.attempt.Error = "request: " + err.Error()
		return out
	}
	ctx, span := w.attemptSpan(work, req)
	defer span.End()
	resp, err := w.cfg.Client.Do(req.WithContext(ctx))
	out.attempt.Latency = time.Since(at)
	if err != nil {
		out.cancelled = w.sendCtx.Err() != nil
		out.attempt.Error = attemptError(err)
		span.SetStatus(codes.Error, out.attempt.Error)
		return out
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	out.attempt.StatusCode = resp.StatusCode
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= 400 {
		span.SetStatus(codes.Error, http.StatusText(resp.StatusCode))
	}
	out.attempt.ResponseBody = safeBody(body)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		out.retryAfter = retryAfter(resp.Header.Get("Retry-After"), at)
	}
	return out
}

// secrets are the endpoint's signing secrets in clear: the current one, and the previous
// one while its overlap lasts.
func (w *Worker) secrets(e subaccounts.WebhookEndpoint, at time.Time) ([]string, error) {
	if w.ring == nil {
		return nil, errors.New("no master key")
	}
	cur, err := OpenSecret(w.ring, e.AccountID, e.ID, e.Secret)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if e.PreviousSecretExpiresAt != nil && at.Before(*e.PreviousSecretExpiresAt) {
		prev, err := OpenSecret(w.ring, e.AccountID, e.ID, e.PreviousSecret)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// attemptError says why an attempt got no answer, without the URL (which the
// endpoint's owner knows) repeated in every record.
func attemptError(err error) string {
	var ue interface{ Timeout() bool }
	switch {
	case errors.As(err, &ue) && ue.Timeout():
		return "timeout: no answer within the attempt's deadline"
	case errors.Is(err, context.Canceled):
		return "cancelled: the replica shut down during the attempt"
	case errors.Is(err, ErrPrivateAddress):
		return "refused: the URL resolves to a private, loopback or link-local address"
	}
	var uerr interface{ Unwrap() error }
	if errors.As(err, &uerr) {
		if inner := uerr.Unwrap(); inner != nil {
			return "connection failed: " + inner.Error()
		}
	}
	return "connection failed: " + err.Error()
}

// safeBody is what an attempt keeps of a response body: valid UTF-8 without NULs, and
// never a card number, whatever the receiver echoed.
func safeBody(b []byte) string {
	s := strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "")
	if pan.ContainsCardNumber(s) {
		return "[withheld: the body held a card number]"
	}
	return s
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && secs > 0 {
		d = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// wait is how long to wait before the retry after attempt n (1-based) failed.
func (w *Worker) wait(n int, asked time.Duration) time.Duration {
	base := w.cfg.Schedule[min(n-1, len(w.cfg.Schedule)-1)]
	jittered := time.Duration(float64(base) * (1 + w.cfg.Jitter*(2*rand.Float64()-1)))
	return max(jittered, asked)
}

// purge deletes what is older than the retention.
func (w *Worker) purge(ctx context.Context) {
	n, err := w.store.PurgeEvents(ctx, time.Now().Add(-w.cfg.Retention))
	if err != nil && ctx.Err() == nil {
		w.cfg.Logger.Warn("webhooks: purge", "err", err)
	} else if n > 0 {
		w.cfg.Logger.Info("webhooks: purged events past retention", "events", n)
	}
}

// attemptSpan starts the client span of one attempt under the trace that made the event
// (its stored traceparent) and puts the attempt's own traceparent on req, so the
// receiver's trace continues the request that made the event. The span records where
// and what was sent, never the URL's path or query (a receiver's URL may carry a token
// of its own) nor the body.
func (w *Worker) attemptSpan(work subaccounts.DeliveryWork, req *http.Request) (context.Context, trace.Span) {
	ctx := w.sendCtx
	if tp := work.Event.TraceParent; tp != "" {
		ctx = traceContext.Extract(ctx, propagation.MapCarrier{"traceparent": tp})
	}
	span := trace.SpanFromContext(ctx)
	if w.cfg.Tracer != nil {
		ctx, span = w.cfg.Tracer.Start(ctx, "webhooks.deliver", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			semconv.HTTPRequestMethodPost,
			semconv.ServerAddress(req.URL.Hostname()),
			attribute.String("webhook.event_type", work.Event.Type),
			attribute.String("webhook.delivery_id", work.Delivery.ID.String()),
			attribute.Int("webhook.attempt", work.Delivery.Attempts+1),
		))
	}
	traceContext.Inject(ctx, propagation.HeaderCarrier(req.Header))
	return ctx, span
}

// traceContext is the W3C trace context propagation deliveries carry.
var traceContext = propagation.TraceContext{}
