package httpapi_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestConcurrentCreatesRespectTheContract sends more concurrent creates than the contract
// allows, some of them outside it, while the contract is narrowed under them: the
// contract's maximum and pairs hold whatever the interleaving.
func TestConcurrentCreatesRespectTheContract(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(5))
		tok := e.tenantToken(acct)
		const n = 20
		codes := make([]int, n)
		errs := make([]error, n+1)
		var cascade response
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				r, err := e.send("POST", "/v1/subaccounts", tok, map[string]any{
					"name": fmt.Sprintf("Shop %d", i), "configurations": []any{cfg([]string{"CAN"}, "MASTERCARD")},
				})
				codes[i], errs[i] = r.Status, err
			})
		}
		wg.Go(func() {
			// Drop CAN on MASTERCARD half-way, cascading into whatever already exists.
			narrower := map[string]any{"configurations": []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")}, "maxSubaccounts": 5}
			cascade, errs[n] = e.send("PUT", "/v1/accounts/"+acct+"/contract?mode=cascade", e.opToken, narrower)
		})
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if cascade.Status != 200 {
			t.Fatalf("cascading contract change: status %d, want 200; body %s", cascade.Status, cascade.Body)
		}

		created := 0
		for _, c := range codes {
			switch c {
			case 201:
				created++
			case 403, 422: // maximum reached, or outside the narrowed contract
			default:
				t.Errorf("unexpected status %d", c)
			}
		}
		list := e.expect(e.do("GET", "/v1/subaccounts?limit=100", tok, nil), 200).json(t)
		items := list["items"].([]any)
		if len(items) != created || created > 5 {
			t.Fatalf("%d created, %d listed, contract allows 5", created, len(items))
		}
		// Nothing may permit CAN on MASTERCARD any more.
		outside := e.expect(e.do("GET", "/v1/subaccounts?country=CAN&network=MASTERCARD", tok, nil), 200).json(t)
		if n := len(outside["items"].([]any)); n != 0 {
			t.Errorf("%d subaccounts permit a pair the contract no longer has", n)
		}
	})
}
