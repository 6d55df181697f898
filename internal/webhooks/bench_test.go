package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/webhooks"
)

// BenchmarkWebhooks measures what events cost and how fast they go out, against each
// database: single-message ingest from 32 callers with no endpoint (the baseline of the
// same run), with one endpoint subscribed to transaction.routed whose deliveries a
// worker sends to a local receiver meanwhile, and with that endpoint but no worker (the
// outbox writes alone); then a worker draining a backlog of events (events/s).
func BenchmarkWebhooks(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, dialect)
			ring := keystest.Ring(b)
			if _, err := keys.CheckFingerprintKeys(ctx, db, ring); err != nil {
				b.Fatal(err)
			}
			var received atomic.Int64
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				received.Add(1)
				w.WriteHeader(http.StatusNoContent)
			}))
			b.Cleanup(rc.Close)
			svc := app.New(db, app.Config{Keys: ring, WebhookAllowPrivateNetworks: true, Delivery: &webhooks.WorkerConfig{}})
			b.Cleanup(svc.Close)
			h := &hooks{t: b, db: db, ring: ring, svc: svc}
			ingest := func(b *testing.B, p subaccounts.Principal, card subaccounts.Card) {
				b.SetParallelism(16)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						_, err := svc.Routing.IngestTransaction(ctx, p, routing.MessageInput{
							NetworkTransactionID: ptr(fmt.Sprintf("bench-%d", ntid.Add(1))), Type: ptr("auth"), Amount: ptr(int64(100)),
							Currency: ptr("USD"), Datetime: ptr("2026-11-20T10:00:00Z"), CardID: ptr(card.ID.String()),
							Merchant: &routing.MerchantInput{Name: ptr("Diner"), MCC: ptr("5812"), CountryCode: ptr("USA")},
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			setup := func(name string) (subaccounts.Principal, subaccounts.Card) {
				p, sub := h.newAccount(name)
				return p, h.enrol(p, sub, luhn(int(ntid.Add(1))))
			}
			plainP, plainCard := setup("Plain")
			hookedP, hookedCard := setup("Hooked")
			url := rc.URL
			types := []string{"transaction.routed"}
			if _, _, err := svc.Webhooks.Create(ctx, hookedP, webhooks.EndpointInput{URL: &url, EventTypes: &types}); err != nil {
				b.Fatal(err)
			}
			b.Run("ingest-parallel-32-no-endpoint", func(b *testing.B) { ingest(b, plainP, plainCard) })
			b.Run("ingest-parallel-32-one-endpoint", func(b *testing.B) {
				start := received.Load()
				ingest(b, hookedP, hookedCard)
				b.StopTimer()
				want := start + int64(b.N)
				for deadline := time.Now().Add(time.Minute); received.Load() < want && time.Now().Before(deadline); {
					time.Sleep(5 * time.Millisecond)
				}
			})
			// The same with the worker stopped: what writing the events costs the ingest
			// alone, without the deliveries competing for the same cores.
			svc.Delivery.Stop(ctx)
			b.Run("ingest-parallel-32-one-endpoint-outbox-only", func(b *testing.B) { ingest(b, hookedP, hookedCard) })
			b.Run("deliver-backlog", func(b *testing.B) {
				// A backlog of b.N events, then a fresh worker drains it.
				change := func(i int) subaccounts.Change {
					t := subaccounts.Transaction{ID: hookedCard.ID, AccountID: hookedP.AccountID, SubaccountID: hookedCard.SubaccountID, Type: "auth"}
					_ = i
					return subaccounts.Change{Action: "transaction.route", ResourceType: "transaction", After: t, Unaudited: true}
				}
				rec := app.NewRecorder(db, events.NewSubscriptions(db, 0), events.Config{})
				for done := 0; done < b.N; {
					n := min(500, b.N-done)
					cs := make([]subaccounts.Change, n)
					for i := range cs {
						cs[i] = change(done + i)
					}
					if err := db.Transact(ctx, func(ctx context.Context) error { return rec.Record(ctx, hookedP.AccountID, cs...) }); err != nil {
						b.Fatal(err)
					}
					done += n
				}
				start := received.Load()
				w := svc.Webhooks.NewWorker(webhooks.WorkerConfig{ID: "bench"})
				b.ResetTimer()
				began := time.Now()
				w.Start()
				for received.Load() < start+int64(b.N) {
					time.Sleep(time.Millisecond)
				}
				b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "events/s")
				b.StopTimer()
				w.Stop(ctx)
			})
		})
	}
}

// luhn is a 16-digit VISA number, distinct for each n, with its check digit.
func luhn(n int) string {
	body := fmt.Sprintf("4%014d", n)
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-i)%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + fmt.Sprint((10-sum%10)%10)
}
