package httpapi_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestLedgerConcurrentLimits sends more concurrent transfers and enrolments than the
// credit, the balances and the quota allow: whatever the interleaving, exactly the
// affordable number succeed, nothing is overdrawn and the journal adds up.
func TestLedgerConcurrentLimits(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", pricedContract("EUR", 100, 0))
		tok := e.tenantToken(acct)
		e.setCreditLimit(acct, 1000)
		e.topUp(acct, 3000)
		own := e.ownSubaccount(tok, "Own", nil)
		capped := e.ownSubaccount(tok, "Capped", map[string]any{"maxCards": 5})
		e.moveMoney(tok, "balance", acct, capped, 1000)

		// run sends n requests at once and counts their statuses.
		run := func(n int, req func(i int) (response, error)) string {
			statuses := make([]int, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					r, err := req(i)
					statuses[i], errs[i] = r.Status, err
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			counts := map[int]int{}
			for _, s := range statuses {
				counts[s]++
			}
			return fmt.Sprint(counts)
		}

		// 1000 of credit: 10 of 15 credit transfers of 100.
		got := run(15, func(int) (response, error) { return e.sendTransfer(tok, "credit", acct, own, 100) })
		if got != "map[201:10 422:5]" {
			t.Errorf("credit transfers: %s", got)
		}
		// The primary holds 2000 and no unallocated credit: 20 of 30 balance transfers.
		got = run(30, func(int) (response, error) { return e.sendTransfer(tok, "balance", acct, own, 100) })
		if got != "map[201:20 422:10]" {
			t.Errorf("balance transfers: %s", got)
		}
		if got := e.account(acct).money(); got != "balance 0, limit 1000, allocated 1000, available 0, over false" {
			t.Errorf("primary: %s", got)
		}
		// Own holds 2000 and 1000 of credit: 30 of 40 enrolments of 100.
		got = run(40, func(i int) (response, error) {
			return e.send("POST", "/v1/subaccounts/"+own+"/cards", tok, cardBody(nextPAN("VISA"), "USA"))
		})
		if got != "map[201:30 402:10]" {
			t.Errorf("enrolments into own: %s", got)
		}
		if got := e.subaccount(tok, own).money(); got != "balance -1000, limit 1000, over false" {
			t.Errorf("own: %s", got)
		}
		// Capped could pay for 10 but holds at most 5.
		got = run(15, func(i int) (response, error) {
			return e.send("POST", "/v1/subaccounts/"+capped+"/cards", tok, cardBody(nextPAN("MASTERCARD"), "CAN"))
		})
		if got != "map[201:5 409:10]" {
			t.Errorf("enrolments into capped: %s", got)
		}
		if got := e.subaccount(tok, capped).money(); got != "balance 500, limit 0, over false" {
			t.Errorf("capped: %s", got)
		}
		if n := len(e.expect(e.do("GET", "/v1/cards?status=active&limit=100&subaccountId="+capped, tok, nil), 200).json(t)["items"].([]any)); n != 5 {
			t.Errorf("capped holds %d cards", n)
		}
		e.reconciled(acct)
	})
}
