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

// webhookResult is the ingest run with one subscribed endpoint and its deliveries.
type webhookResult struct {
	service loadResult
	// events were received once each (dups more than once) over window, the time from
	// the first receipt to the last; lags are their commit-to-receipt times, sorted.
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
	svc, err := b.load(ctx, ingestWorkers, func(ctx context.Context, _ int, rng *rand.Rand) (outcome, error) {
		status, _, err := b.post(ctx, "/v1/transactions", b.newMessage(rng, "hooked"), false)
		o := outcome{status: status}
		if status == http.StatusCreated {
			o.ok = 1
		}
		return o, err
	})
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
	rc.mu.Lock()
	out := webhookResult{service: svc, events: len(rc.lags), dups: rc.dups, window: rc.last.Sub(rc.first), lags: slices.Clone(rc.lags)}
	rc.mu.Unlock()
	slices.Sort(out.lags)
	if out.events == 0 {
		return errors.New("no event delivered")
	}
	b.logf("  service: %.0f messages/s, p99 %s; deliveries: %d events at %.0f/s, commit-to-receipt p50 %s, p99 %s",
		svc.rate(), fmtDur(svc.p(99)), out.events, out.deliveryRate(), fmtDur(percentile(out.lags, 50)), fmtDur(percentile(out.lags, 99)))
	res.webhooks = out
	return b.settle(ctx)
}
