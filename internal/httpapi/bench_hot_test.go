package httpapi_test

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// benchTenant starts the service for a hot-path benchmark (no contract check, no log
// buffer) with an account that neither charges nor counts a quota, and returns its
// token and one Visa USA subaccount.
func benchTenant(b *testing.B, dialect string) (e *env, tok, sub string) {
	b.Helper()
	e = newEnv(b, dialect)
	e.checkAPI = false
	e.logs = nil
	tok = e.tenantToken(e.newAccount("Bench", usaCanContract(10)))
	return e, tok, e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA")})
}

// BenchmarkEnrol measures POST /v1/subaccounts/{id}/cards from 32 concurrent clients,
// each card a new number, into an account that neither charges for enrolment nor
// counts a quota (the group transaction's path).
func BenchmarkEnrol(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			e, tok, sub := benchTenant(b, dialect)
			var seq atomic.Int64
			b.Run("parallel-32", func(b *testing.B) {
				b.SetParallelism(32 / max(1, runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						body := cardBody(luhnPAN("411111", int(seq.Add(1)), 16), "USA")
						if r := e.do("POST", "/v1/subaccounts/"+sub+"/cards", tok, body); r.Status != http.StatusCreated {
							b.Errorf("%d %s", r.Status, r.Body)
							return
						}
					}
				})
			})
		})
	}
}

// BenchmarkIngestBatch measures POST /v1/transactions/batch with 100 messages from 4
// concurrent clients; ns/op is per request.
func BenchmarkIngestBatch(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			e, tok, sub := benchTenant(b, dialect)
			card := e.enrol(tok, sub, visaPAN, "USA")
			b.Run("batch-100-parallel-4", func(b *testing.B) {
				b.SetParallelism(4 / max(1, runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						msgs := make([]any, 100)
						for i := range msgs {
							msgs[i] = message(card, "auth")
						}
						if r := e.do("POST", "/v1/transactions/batch", tok, map[string]any{"messages": msgs}); r.Status != http.StatusOK {
							b.Errorf("%d %s", r.Status, r.Body)
							return
						}
					}
				})
			})
		})
	}
}
