package httpapi_test

import (
	"fmt"
	"net/http"
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
