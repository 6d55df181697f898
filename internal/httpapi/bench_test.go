package httpapi_test

import (
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// BenchmarkAPI measures whole requests over loopback HTTP against each database: the
// token check, the route, the store and the JSON. GET /healthz is the baseline measured
// in the same run: the same server and client with no token and no database.
func BenchmarkAPI(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			e := newEnv(b, dialect)
			e.checkAPI = false // measure the service, not the contract check
			acct := e.newAccount("Bench", usaCanContract(1_000_000))
			tok := e.tenantToken(acct)
			var sub string
			for i := range 50 {
				sub = e.newSubaccount(tok, fmt.Sprintf("Shop %03d", i), []any{cfg([]string{"USA", "CAN"}, "VISA")})
			}
			run := func(name, method, path string, body func() any, want int) {
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						var bd any
						if body != nil {
							bd = body()
						}
						if r := e.do(method, path, tok, bd); r.Status != want {
							b.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
						}
					}
				})
			}
			b.Run("healthz-baseline", func(b *testing.B) {
				for b.Loop() {
					if r := e.do("GET", "/healthz", "", nil); r.Status != http.StatusOK {
						b.Fatal(r.Status)
					}
				}
			})
			run("get-subaccount", "GET", "/v1/subaccounts/"+sub, nil, 200)
			run("list-25", "GET", "/v1/subaccounts?limit=25", nil, 200)
			run("list-by-entitlement", "GET", "/v1/subaccounts?country=CAN&network=VISA&limit=25", nil, 200)
			var n atomic.Int64
			run("create-subaccount", "POST", "/v1/subaccounts", func() any {
				return map[string]any{"name": fmt.Sprintf("New %d", n.Add(1)), "configurations": []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")}}
			}, 201)
			run("explain", "GET", "/v1/subaccounts/"+sub+"/entitlements?country=CAN&network=VISA", nil, 200)
		})
	}
}

// BenchmarkIngest measures POST /v1/transactions from 32 concurrent clients, the shape
// the group commit is built for, and the same work one message per request with no
// concurrency.
func BenchmarkIngest(b *testing.B) {
	for _, dialect := range storetest.Dialects(b) {
		b.Run(dialect, func(b *testing.B) {
			e := newEnv(b, dialect)
			e.checkAPI = false
			e.logs = nil
			acct := e.newAccount("Bench", usaCanContract(10))
			tok := e.tenantToken(acct)
			sub := e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA")})
			card := e.enrol(tok, sub, visaPAN, "USA")
			b.Run("serial", func(b *testing.B) {
				for b.Loop() {
					if r := e.do("POST", "/v1/transactions", tok, message(card, "auth")); r.Status != http.StatusCreated {
						b.Fatalf("%d %s", r.Status, r.Body)
					}
				}
			})
			b.Run("parallel-32", func(b *testing.B) {
				b.SetParallelism(32 / max(1, runtime.GOMAXPROCS(0)))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if r := e.do("POST", "/v1/transactions", tok, message(card, "auth")); r.Status != http.StatusCreated {
							b.Errorf("%d %s", r.Status, r.Body)
							return
						}
					}
				})
			})
		})
	}
}
