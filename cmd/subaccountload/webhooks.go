package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// hookReceiver is the local webhook endpoint of the run: it answers 204 at once and keeps
// each event's lag from the event's timestamp (taken in the change's transaction, just
// before its commit) to its receipt.
type hookReceiver struct {
	srv  *http.Server
	url  string
	mu   sync.Mutex
	lags []time.Duration
	ids  map[string]bool
	dups int
	// first and last are the receipt times of the first and the last event.
	first, last time.Time
}

func startReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &hookReceiver{url: "http://" + ln.Addr().String() + "/hook", ids: map[string]bool{}}
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = rc.srv.Serve(ln) }()
	return rc, nil
}

var timestampField = []byte(`"timestamp":"`)

func (rc *hookReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	now := time.Now()
	var lag time.Duration
	if i := bytes.Index(body, timestampField); i >= 0 && len(body) >= i+len(timestampField)+24 {
		if at, err := time.Parse("2006-01-02T15:04:05.000Z", string(body[i+len(timestampField):i+len(timestampField)+24])); err == nil {
			lag = now.Sub(at)
		}
	}
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	if rc.ids[id] {
		rc.dups++
	} else {
		rc.ids[id] = true
		rc.lags = append(rc.lags, lag)
		if rc.first.IsZero() {
			rc.first = now
		}
		rc.last = now
	}
	rc.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (rc *hookReceiver) received() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.lags)
}

func (rc *hookReceiver) close() { _ = rc.srv.Close() }

// webhookResult is the ingest run with one subscribed endpoint and its deliveries, and
// the paced phase that measures the delivery rate.
type webhookResult struct {
	service loadResult
	// ingestEvents are the events of the ingest run, ingestLags their commit-to-receipt
	// times, sorted.
	ingestEvents int
	ingestLags   []time.Duration
	// events of the paced phase were received once each (dups more than once, over the
	// whole run) over window, the time from the first receipt to the last; lags are their
	// commit-to-receipt times, sorted.
	events, dups int
	window       time.Duration
	lags         []time.Duration
}

func (w webhookResult) deliveryRate() float64 {
	if w.window <= 0 {
		return 0
	}
	return float64(w.events) / w.window.Seconds()
}

// runWebhooks repeats the single-message ingest with one endpoint subscribed to
// transaction.routed, and follows the deliveries to a local receiver until every routed
// message's event has arrived.
func (b *bench) runWebhooks(ctx context.Context, res *results) error {
	rc, err := startReceiver()
	if err != nil {
		return err
	}
	defer rc.close()
	var hook struct {
		ID string `json:"id"`
	}
	err = b.api.call(ctx, http.MethodPost, "/v1/webhook-endpoints", b.ingest.token,
		map[string]any{"url": rc.url, "eventTypes": []string{"transaction.routed"}}, &hook, http.StatusCreated)
	if err != nil {
		return fmt.Errorf("create the endpoint: %w", err)
	}
	defer func() {
		_ = b.api.call(context.WithoutCancel(ctx), http.MethodDelete, "/v1/webhook-endpoints/"+hook.ID, b.ingest.token, nil, nil, http.StatusNoContent)
	}()
	b.logf("single-message ingest with one webhook endpoint (transaction.routed), %d connections", ingestWorkers)
	svc, err := b.load(ctx, "single-message ingest with a webhook endpoint", "webhook-ingest.pprof", ingestWorkers, b.singleMessage("hooked"))
	if err != nil {
		return err
	}
	svc.itemsPerReq = 1
	want := int(svc.allOK)
	deadline := time.Now().Add(2 * time.Minute)
	for rc.received() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d events delivered after 2 minutes", rc.received(), want)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(50 * time.Millisecond)
	}
	out := webhookResult{service: svc}
	out.ingestEvents, out.ingestLags = rc.take()
	b.logf("  service: %.0f messages/s, p99 %s; every event delivered, commit-to-receipt p50 %s, p99 %s",
		svc.rate(), fmtDur(svc.p(99)), fmtDur(percentile(out.ingestLags, 50)), fmtDur(percentile(out.ingestLags, 99)))
	if err := b.settle(ctx); err != nil {
		return err
	}
	if err := b.pacedDeliveries(ctx, rc, &out); err != nil {
		return err
	}
	res.webhooks = out
	return b.settle(ctx)
}

// pacedRate is the event rate the paced phase offers: above the 2,000 events/s the
// deliveries must sustain.
const pacedRate = 2500

// pacedDeliveries offers pacedRate routed messages a second (batches of 100, each sent
// on time by its own goroutine) for the run's duration, and measures the rate the
// receiver got their events at and their commit-to-receipt times.
func (b *bench) pacedDeliveries(ctx context.Context, rc *hookReceiver, out *webhookResult) error {
	b.logf("webhook delivery: %d events/s offered through batch ingest for %s", pacedRate, b.o.duration)
	const per = 100
	tick := time.Second / (pacedRate / per)
	rng := rand.New(rand.NewPCG(7, 11))
	var sent, routed atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	capture := startProfiles(ctx, []*server{b.srv}, time.Now(), profileSeconds(b.o.duration))
	end := time.Now().Add(b.o.duration)
	for next := time.Now(); next.Before(end); next = next.Add(tick) {
		time.Sleep(time.Until(next))
		msgs := make([]message, per)
		for i := range msgs {
			msgs[i] = b.newMessage(rng, "paced")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body, err := b.post(ctx, "/v1/transactions/batch", map[string]any{"messages": msgs}, true)
			if err != nil || status != http.StatusOK {
				firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d: %v", status, err))
				return
			}
			sent.Add(per)
			routed.Add(int64(bytes.Count(body, []byte(`"status":201`))))
		}()
	}
	wg.Wait()
	b.addProfile(capture, fmt.Sprintf("webhook delivery, %d events/s offered", pacedRate), "webhook-delivery.pprof")
	if e := firstErr.Load(); e != nil {
		return fmt.Errorf("paced batch: %s", e)
	}
	want := int(routed.Load())
	deadline := time.Now().Add(2 * time.Minute)
	for rc.received() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d paced events delivered after 2 minutes", rc.received(), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rc.mu.Lock()
	out.events, out.dups, out.window = len(rc.lags), rc.dups, rc.last.Sub(rc.first)
	rc.mu.Unlock()
	_, out.lags = rc.take()
	if out.events == 0 {
		return errors.New("no paced event delivered")
	}
	b.logf("  %d events delivered at %.0f/s, commit-to-receipt p50 %s, p99 %s",
		out.events, out.deliveryRate(), fmtDur(percentile(out.lags, 50)), fmtDur(percentile(out.lags, 99)))
	return nil
}

// take returns what the receiver got since the last take (sorted lags) and starts
// afresh.
func (rc *hookReceiver) take() (int, []time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	lags := slices.Clone(rc.lags)
	slices.Sort(lags)
	rc.lags, rc.first, rc.last = rc.lags[:0], time.Time{}, time.Time{}
	return len(lags), lags
}
