package events_test

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// benchEvents is how many events each round of BenchmarkStreamPublish drains.
const benchEvents = 20_000

// BenchmarkStreamPublish measures how fast the publisher drains a full outbox into the
// local NATS, per database: each round writes benchEvents pending events (untimed) and
// times from their commit until the last batch that published them committed its mark.
func BenchmarkStreamPublish(b *testing.B) {
	url := natsURL(b)
	for _, d := range storetest.Dialects(b) {
		b.Run(d, func(b *testing.B) {
			db := storetest.Open(b, d)
			svc := app.New(db, app.Config{})
			b.Cleanup(svc.Close)
			a := newAccount(b, svc)
			s1, s2 := uuid.New(), uuid.New()
			ts := newTestStream(b, url)
			var published atomic.Int64
			done := make(chan struct{}, 1)
			target := atomic.Int64{}
			cfg := ts.config(url, slog.New(slog.NewTextHandler(io.Discard, nil)))
			cfg.Observe = func(n int, _ time.Duration) {
				if published.Add(int64(n)) >= target.Load() {
					select {
					case done <- struct{}{}:
					default:
					}
				}
			}
			pub := events.NewStream(db, cfg)
			pub.Start()
			b.Cleanup(func() { pub.Stop(context.Background()) })

			var elapsed time.Duration
			start := time.Now().UTC()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				target.Store(int64((i + 1) * benchEvents))
				seedEvents(b, db, a.ID, []*uuid.UUID{&s1, &s2, nil}, benchEvents, start.Add(time.Duration(i)*time.Hour))
				b.StartTimer()
				t0 := time.Now()
				pub.Wake()
				select {
				case <-done:
				case <-time.After(2 * time.Minute):
					b.Fatalf("published %d of %d events in 2 minutes", published.Load(), target.Load())
				}
				elapsed += time.Since(t0)
			}
			b.ReportMetric(float64(b.N*benchEvents)/elapsed.Seconds(), "events/s")
			if n := ts.msgCount(b); n != uint64(b.N*benchEvents) {
				b.Fatalf("stream holds %d messages, want %d", n, b.N*benchEvents)
			}
		})
	}
}
