package httpapi_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestLedgerPartnerStory follows a partner through a month: the operator prices the
// contract, grants credit and records a top-up; the partner gives two subaccounts their
// own balances, hands one of them credit, is charged for enrolments and messages, takes
// the rest back at month end, and suspends and reactivates a subaccount.
func TestLedgerPartnerStory(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		created := e.expect(e.do("POST", "/v1/accounts", e.opToken, map[string]any{"name": "Partner", "contract": pricedContract("EUR", 100, 5)}), 201)
		var a accountDoc
		created.decode(t, &a)
		acct := a.ID
		if a.Contract.Currency != "EUR" || a.Contract.Pricing.CardEnrolment != 100 || a.Contract.Pricing.Transaction != 5 {
			t.Errorf("contract %+v", a.Contract)
		}
		if a.money() != "balance 0, limit 0, allocated 0, available 0, over false" {
			t.Errorf("new account: %s", a.money())
		}

		e.setCreditLimit(acct, 6000)
		top := e.expect(e.do("POST", "/v1/accounts/"+acct+"/top-ups", e.opToken, map[string]any{"amount": 10000, "reference": "wire 2026-11"}), 201).json(t)
		if top["balance"] != float64(10000) || top["currency"] != "EUR" || top["accountId"] != acct || top["reference"] != "wire 2026-11" {
			t.Errorf("top-up %v", top)
		}
		if got := e.account(acct).money(); got != "balance 10000, limit 6000, allocated 0, available 6000, over false" {
			t.Errorf("after credit limit and top-up: %s", got)
		}

		tok := e.tenantToken(acct)
		subA := e.ownSubaccount(tok, "Shop A", nil)
		subB := e.ownSubaccount(tok, "Shop B", nil)
		if s := e.subaccount(tok, subA); s.UsePrimaryAccountBalance || s.money() != "balance 0, limit 0, over false" || s.AutoTopUp == nil || *s.AutoTopUp != (autoTopUpDoc{}) {
			t.Errorf("new subaccount with its own balance: %+v", s)
		}

		credit := e.moveMoney(tok, "credit", acct, subA, 2000)
		if credit.SubaccountID == nil || *credit.SubaccountID != subA {
			t.Errorf("credit transfer %+v", credit)
		}
		if got := e.account(acct).money(); got != "balance 10000, limit 6000, allocated 2000, available 4000, over false" {
			t.Errorf("after handing out 2000 of credit: %s", got)
		}
		if got := e.subaccount(tok, subA).money(); got != "balance 0, limit 2000, over false" {
			t.Errorf("subaccount A: %s", got)
		}

		e.moveMoney(tok, "balance", acct, subA, 3000)
		e.moveMoney(tok, "balance", acct, subB, 2500)
		cardA := e.enrol(tok, subA, nextPAN("VISA"), "USA")
		cardB := e.enrol(tok, subB, nextPAN("MASTERCARD"), "CAN")
		e.expect(e.do("POST", "/v1/transactions", tok, message(cardA, "auth")), 201)
		if got := e.subaccount(tok, subA).money(); got != "balance 2895, limit 2000, over false" {
			t.Errorf("A after an enrolment (100) and a message (5): %s", got)
		}
		if got := e.subaccount(tok, subB).money(); got != "balance 2400, limit 0, over false" {
			t.Errorf("B after an enrolment: %s", got)
		}
		if got := e.account(acct).money(); got != "balance 4500, limit 6000, allocated 2000, available 4000, over false" {
			t.Errorf("the primary pays nothing for subaccounts with their own balance: %s", got)
		}

		// Month end: what is left in A goes back to the primary.
		e.moveMoney(tok, "balance", subA, acct, 2895)
		if got := e.subaccount(tok, subA).money(); got != "balance 0, limit 2000, over false" {
			t.Errorf("A after month end: %s", got)
		}
		if got := e.account(acct).money(); got != "balance 7395, limit 6000, allocated 2000, available 4000, over false" {
			t.Errorf("primary after month end: %s", got)
		}

		t.Run("suspension", func(t *testing.T) {
			e := e.at(t)
			id, secret := e.newClient(acct, allTenantScopes, subB)
			confined := e.token(id, secret, "")
			e.expect(e.do("PATCH", "/v1/subaccounts/"+subB, tok, map[string]any{"suspended": true}), 200)

			e.expectProblem(e.do("POST", "/v1/subaccounts/"+subB+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 409, "subaccount-suspended", "")
			e.expectProblem(e.do("POST", "/v1/cards/"+cardA+"/move", tok, map[string]any{"subaccountId": subB}), 409, "subaccount-suspended", "")
			// The network has moved the money already: the message is routed, flagged and charged.
			txn := e.expect(e.do("POST", "/v1/transactions", tok, message(cardB, "clearing")), 201).json(t)
			if txn["subaccountSuspended"] != true || txn["subaccountId"] != subB {
				t.Errorf("message for a suspended subaccount's card: %v", txn)
			}
			if got := e.expect(e.do("GET", "/v1/transactions/"+txn["id"].(string), tok, nil), 200).json(t); got["subaccountSuspended"] != true {
				t.Errorf("stored transaction %v", got)
			}
			if got := e.subaccount(tok, subB).money(); got != "balance 2395, limit 0, over false" {
				t.Errorf("B after a message while suspended: %s", got)
			}

			// The confined client reads, but none of its writes go through.
			if s := e.subaccount(confined, subB); !s.Suspended {
				t.Errorf("confined client sees %+v", s)
			}
			e.expect(e.do("GET", "/v1/cards/"+cardB, confined, nil), 200)
			e.expect(e.do("GET", "/v1/subaccounts/"+subB+"/usage", confined, nil), 200)
			e.expect(e.do("GET", "/v1/subaccounts/"+subA+"/usage", confined, nil), 404)
			if rows := e.expect(e.do("GET", "/v1/usage", confined, nil), 200).json(t)["items"].([]any); len(rows) != 1 || rows[0].(map[string]any)["subaccountId"] != subB {
				t.Errorf("confined client's usage rows %v", rows)
			}
			e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+subB, confined, map[string]any{"name": "Renamed"}), 409, "subaccount-suspended", "")
			e.expectProblem(e.do("DELETE", "/v1/cards/"+cardB, confined, nil), 409, "subaccount-suspended", "")
			e.expectProblem(e.do("POST", "/v1/cards/"+cardB+"/move", confined, map[string]any{"subaccountId": subB}), 409, "subaccount-suspended", "")
			e.expectProblem(e.do("POST", "/v1/subaccounts/"+subB+"/cards", confined, cardBody(nextPAN("VISA"), "USA")), 409, "subaccount-suspended", "")
			e.expectProblem(e.do("DELETE", "/v1/subaccounts/"+subB, confined, nil), 409, "subaccount-suspended", "")
			// Reactivating, and moving money, are the account's to decide.
			e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+subB, confined, map[string]any{"suspended": false}), 403, "forbidden", "")
			e.expectProblem(e.transfer(confined, "balance", acct, subB, 1), 403, "forbidden", "")
			e.expectProblem(e.transfer(confined, "credit", acct, subB, 1), 403, "forbidden", "")
			if c := e.expect(e.do("GET", "/v1/cards/"+cardB, tok, nil), 200).json(t); c["status"] != "active" {
				t.Errorf("card after refused writes: %v", c)
			}
			if s := e.subaccount(tok, subB); s.Name != "Shop B" || !s.Suspended || s.money() != "balance 2395, limit 0, over false" {
				t.Errorf("subaccount after refused writes: %+v", s)
			}

			e.expect(e.do("PATCH", "/v1/subaccounts/"+subB, tok, map[string]any{"suspended": false}), 200)
			e.enrol(tok, subB, nextPAN("VISA"), "USA")
			if txn := e.expect(e.do("POST", "/v1/transactions", tok, message(cardB, "refund")), 201).json(t); txn["subaccountSuspended"] != false {
				t.Errorf("message after reactivation: %v", txn)
			}
			e.expect(e.do("PATCH", "/v1/subaccounts/"+subB, confined, map[string]any{"name": "Shop B2"}), 200)
			if got := e.subaccount(tok, subB).money(); got != "balance 2290, limit 0, over false" {
				t.Errorf("B after reactivation, an enrolment and a message: %s", got)
			}
			// A confined client lists only its own subaccount's transfers.
			for _, tr := range e.transfers(confined, "balance", "limit=100") {
				if tr.SubaccountID == nil || *tr.SubaccountID != subB {
					t.Errorf("confined client sees %+v", tr)
				}
			}
			if got := e.transfers(confined, "balance", "subaccountId="+subA); len(got) != 0 {
				t.Errorf("confined client lists A's transfers: %+v", got)
			}
		})

		t.Run("transfer lists", func(t *testing.T) {
			e := e.at(t)
			credits := e.transfers(tok, "credit", "")
			if len(credits) != 1 || credits[0].ID != credit.ID || credits[0].Amount != 2000 || credits[0].From != acct || credits[0].To != subA {
				t.Errorf("credit transfers %+v", credits)
			}
			all := e.transfers(tok, "balance", "limit=100")
			if got := amounts(all); got != "3000 2500 2895" {
				t.Errorf("balance transfers %s", got)
			}
			if got := amounts(e.transfers(tok, "balance", "limit=1")); got != "3000 2500 2895" {
				t.Errorf("balance transfers one per page: %s", got)
			}
			if got := amounts(e.transfers(tok, "balance", "subaccountId="+subA)); got != "3000 2895" {
				t.Errorf("A's balance transfers %s", got)
			}
			if got := amounts(e.transfers(tok, "balance", "subaccountId="+subB+"&limit=1")); got != "2500" {
				t.Errorf("B's balance transfers %s", got)
			}
			if got := e.transfers(tok, "balance", "subaccountId="+uuid.NewString()); len(got) != 0 {
				t.Errorf("an unknown subaccount's transfers: %+v", got)
			}
			first, last := all[0].CreatedAt, all[len(all)-1].CreatedAt
			lastPlus := must(time.Parse(time.RFC3339Nano, last)).Add(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
			for _, w := range [][2]string{{first, ""}, {"", first}, {last, ""}, {first, lastPlus}, {lastPlus, ""}} {
				var q []string
				var want []transferDoc
				if w[0] != "" {
					q = append(q, "from="+url.QueryEscape(w[0]))
				}
				if w[1] != "" {
					q = append(q, "to="+url.QueryEscape(w[1]))
				}
				for _, tr := range all {
					if (w[0] == "" || tr.CreatedAt >= w[0]) && (w[1] == "" || tr.CreatedAt < w[1]) {
						want = append(want, tr)
					}
				}
				if got := e.transfers(tok, "balance", strings.Join(q, "&")); amounts(got) != amounts(want) {
					t.Errorf("window %v: %s, want %s", q, amounts(got), amounts(want))
				}
			}
			for _, q := range []string{"from=yesterday", "to=2026-13-01T00:00:00Z", "subaccountId=nope", "limit=0", "cursor=nope",
				"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"} {
				e.expect(e.do("GET", "/v1/balance-transfers?"+q, tok, nil), 400)
			}
		})

		t.Run("issue example", func(t *testing.T) {
			e := e.at(t)
			// A credit limit of 60 with 20 handed out leaves 40: 41 is too much.
			small := e.newAccount("Small", usaCanContract(10))
			e.setCreditLimit(small, 60)
			tok := e.tenantToken(small)
			sub := e.ownSubaccount(tok, "Only", nil)
			e.moveMoney(tok, "credit", small, sub, 20)
			if a := e.account(small); a.AvailableCredit != 40 || a.AllocatedCredit != 20 {
				t.Errorf("after 20 of 60: %s", a.money())
			}
			e.expectProblem(e.transfer(tok, "credit", small, sub, 41), 422, "invalid-transfers", "insufficient-available-credit")
			if a := e.account(small); a.money() != "balance 0, limit 60, allocated 20, available 40, over false" {
				t.Errorf("after the refused 41: %s", a.money())
			}
			e.moveMoney(tok, "credit", small, sub, 40)
			if a := e.account(small); a.money() != "balance 0, limit 60, allocated 60, available 0, over false" {
				t.Errorf("after the 40: %s", a.money())
			}
			e.reconciled(small)
		})
		e.reconciled(acct)
	})
}

// amounts lists the transfers' amounts in order.
func amounts(trs []transferDoc) string {
	out := make([]string, len(trs))
	for i, tr := range trs {
		out[i] = fmt.Sprint(tr.Amount)
	}
	return strings.Join(out, " ")
}

// TestLedgerTransferRefusals: every way a transfer is refused, each leaving every balance,
// credit limit and list as it was; then the boundaries that are just allowed.
func TestLedgerTransferRefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", pricedContract("EUR", 250, 0))
		other := e.newAccount("Other", usaCanContract(10))
		e.setCreditLimit(acct, 1000)
		e.topUp(acct, 500)
		tok := e.tenantToken(acct)
		own := e.ownSubaccount(tok, "Own", nil)
		own2 := e.ownSubaccount(tok, "Own 2", nil)
		shared := e.newSubaccount(tok, "Shared", everywhere)
		gone := e.ownSubaccount(tok, "Gone", nil)
		e.expect(e.do("DELETE", "/v1/subaccounts/"+gone, tok, nil), 204)
		otherSub := e.ownSubaccount(e.tenantToken(other), "Theirs", nil)

		// own: credit 300, balance 100, then an enrolment of 250 takes it to -150.
		e.moveMoney(tok, "credit", acct, own, 300)
		e.moveMoney(tok, "balance", acct, own, 100)
		e.enrol(tok, own, nextPAN("VISA"), "USA")
		// own2: 900 of balance, which takes the primary to -500 of its floor -700.
		e.moveMoney(tok, "balance", acct, own2, 900)
		if got := e.account(acct).money(); got != "balance -500, limit 1000, allocated 300, available 700, over false" {
			t.Fatalf("primary before the refusals: %s", got)
		}
		if got := e.subaccount(tok, own).money(); got != "balance -150, limit 300, over false" {
			t.Fatalf("own before the refusals: %s", got)
		}

		snapshot := func() string {
			var b strings.Builder
			fmt.Fprintln(&b, e.account(acct).money())
			for _, s := range []string{own, own2, shared} {
				fmt.Fprintln(&b, e.subaccount(tok, s).money())
			}
			fmt.Fprintln(&b, amounts(e.transfers(tok, "credit", "limit=100")), "|", amounts(e.transfers(tok, "balance", "limit=100")))
			return b.String()
		}
		before := snapshot()

		body := func(from, to string, amount any) map[string]any {
			return map[string]any{"from": from, "to": to, "amount": amount, "reference": "test"}
		}
		without := func(m map[string]any, key string) map[string]any {
			delete(m, key)
			return m
		}
		with := func(m map[string]any, key string, v any) map[string]any {
			m[key] = v
			return m
		}
		tests := []struct {
			name    string
			kind    string
			body    any
			status  int
			typ     string
			reason  string
			pointer string
		}{
			{"credit amount 0", "credit", body(acct, own, 0), 422, "invalid-transfers", "amount-out-of-range", ""},
			{"balance amount 0", "balance", body(acct, own, 0), 422, "invalid-transfers", "amount-out-of-range", ""},
			{"negative amount", "balance", body(acct, own, -5), 422, "invalid-transfers", "amount-out-of-range", ""},
			{"negative credit", "credit", body(own, acct, -5), 422, "invalid-transfers", "amount-out-of-range", ""},
			{"amount above 10^15", "balance", body(acct, own, int64(1_000_000_000_000_001)), 422, "invalid-transfers", "amount-out-of-range", ""},
			{"amount missing", "balance", without(body(acct, own, 1), "amount"), 400, "validation", "", "/amount"},
			{"from missing", "credit", without(body(acct, own, 1), "from"), 400, "validation", "", "/from"},
			{"to missing", "balance", without(body(acct, own, 1), "to"), 400, "validation", "", "/to"},
			{"reference missing", "balance", without(body(acct, own, 1), "reference"), 400, "validation", "", "/reference"},
			{"empty reference", "balance", with(body(acct, own, 1), "reference", ""), 400, "validation", "", "/reference"},
			{"reference like a card number", "credit", with(body(acct, own, 1), "reference", "card 4111111111111111"), 400, "validation", "", "/reference"},
			{"from not a UUID", "balance", body("primary", own, 1), 400, "validation", "", "/from"},
			{"amount as a string", "balance", body(acct, own, "1"), 400, "validation", "", "/amount"},
			{"amount with a fraction", "balance", body(acct, own, 1.5), 400, "validation", "", "/amount"},
			{"unknown member", "balance", with(body(acct, own, 1), "currency", "EUR"), 400, "validation", "", "/currency"},
			{"primary to itself", "balance", body(acct, acct, 1), 422, "invalid-transfers", "same-party", ""},
			{"subaccount to itself", "credit", body(own, own, 1), 422, "invalid-transfers", "same-party", ""},
			{"two subaccounts", "balance", body(own2, own, 1), 422, "invalid-transfers", "primary-not-involved", ""},
			{"two subaccounts of credit", "credit", body(own, own2, 1), 422, "invalid-transfers", "primary-not-involved", ""},
			{"balance to a shared-balance subaccount", "balance", body(acct, shared, 1), 422, "invalid-transfers", "subaccount-uses-primary-balance", ""},
			{"credit to a shared-balance subaccount", "credit", body(acct, shared, 1), 422, "invalid-transfers", "subaccount-uses-primary-balance", ""},
			{"balance from a shared-balance subaccount", "balance", body(shared, acct, 1), 422, "invalid-transfers", "subaccount-uses-primary-balance", ""},
			// own can give at most its balance plus its credit: -150 + 300.
			{"balance beyond the subaccount's balance and credit", "balance", body(own, acct, 151), 422, "invalid-transfers", "insufficient-balance", ""},
			// The primary can give at most -500 - (-700).
			{"balance beyond the primary's balance and credit", "balance", body(acct, own, 201), 422, "invalid-transfers", "insufficient-balance", ""},
			{"credit beyond the available credit", "credit", body(acct, own2, 701), 422, "invalid-transfers", "insufficient-available-credit", ""},
			// 700 is available, but the primary balance of -500 uses 500 of it.
			{"credit the primary uses", "credit", body(acct, own2, 201), 422, "invalid-transfers", "primary-credit-in-use", ""},
			{"more credit back than the limit", "credit", body(own, acct, 301), 422, "invalid-transfers", "insufficient-credit-limit", ""},
			// own's balance of -150 uses 150 of its 300.
			{"credit back that is in use", "credit", body(own, acct, 151), 422, "invalid-transfers", "credit-in-use", ""},
			{"unknown subaccount", "balance", body(acct, uuid.NewString(), 1), 404, "not-found", "", ""},
			{"unknown subaccount giving", "credit", body(uuid.NewString(), acct, 1), 404, "not-found", "", ""},
			{"deleted subaccount", "balance", body(acct, gone, 1), 404, "not-found", "", ""},
			{"another tenant's subaccount", "balance", body(acct, otherSub, 1), 404, "not-found", "", ""},
			{"another tenant's subaccount giving", "credit", body(otherSub, acct, 1), 404, "not-found", "", ""},
			{"another tenant as the primary", "balance", body(other, own, 1), 422, "invalid-transfers", "primary-not-involved", ""},
			{"another tenant's primary as the receiver", "balance", body(acct, other, 1), 404, "not-found", "", ""},
		}
		var unknown problemDoc
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.at(t)
				p := e.expectProblem(e.do("POST", "/v1/"+tt.kind+"-transfers", tok, tt.body), tt.status, tt.typ, tt.reason)
				if tt.pointer != "" && !slices.Contains(p.pointers(), tt.pointer) {
					t.Errorf("pointers %v, want %s", p.pointers(), tt.pointer)
				}
				if tt.status == 404 {
					// Identical to an id that exists nowhere.
					if unknown.Type == "" {
						unknown = e.expect(e.transfer(tok, "balance", acct, uuid.NewString(), 1), 404).problem(t)
					}
					if p.Type != unknown.Type || p.Title != unknown.Title || p.Detail != unknown.Detail {
						t.Errorf("%+v differs from an unknown id's %+v", p, unknown)
					}
				}
			})
		}
		if after := snapshot(); after != before {
			t.Errorf("refused transfers changed something:\nbefore %s\nafter  %s", before, after)
		}
		e.reconciled(acct)

		// The boundaries themselves are allowed.
		e.moveMoney(tok, "credit", own, acct, 150)
		if got := e.subaccount(tok, own).money(); got != "balance -150, limit 150, over false" {
			t.Errorf("own after giving back the credit it does not use: %s", got)
		}
		e.moveMoney(tok, "credit", acct, own2, 350)
		if got := e.account(acct).money(); got != "balance -500, limit 1000, allocated 500, available 500, over false" {
			t.Errorf("primary after handing out all it does not use: %s", got)
		}
		e.moveMoney(tok, "balance", own2, acct, 900+350)
		if got := e.subaccount(tok, own2).money(); got != "balance -350, limit 350, over false" {
			t.Errorf("own2 after giving its balance and credit: %s", got)
		}
		e.moveMoney(tok, "balance", acct, own, 750)
		if got := e.account(acct).money(); got != "balance 0, limit 1000, allocated 500, available 500, over false" {
			t.Errorf("primary at the end: %s", got)
		}
		e.reconciled(acct)
	})
}

// TestLedgerCreditLimitAndTopUps: the operator's side of the money: a credit limit cannot
// take back credit that is handed out or used, and top-ups are positive.
func TestLedgerCreditLimitAndTopUps(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		path := "/v1/accounts/" + acct
		e.setCreditLimit(acct, 1000)
		own := e.ownSubaccount(tok, "Own", nil)
		own2 := e.ownSubaccount(tok, "Own 2", nil)
		e.moveMoney(tok, "credit", acct, own, 400)
		e.moveMoney(tok, "balance", acct, own2, 300) // the primary uses 300 of its 600
		want := "balance -300, limit 1000, allocated 400, available 600, over false"
		if got := e.account(acct).money(); got != want {
			t.Fatalf("before: %s", got)
		}
		for _, tt := range []struct {
			limit  int64
			reason string
		}{{399, "credit-allocated"}, {0, "credit-allocated"}, {699, "credit-in-use"}, {400, "credit-in-use"}} {
			e.expectProblem(e.do("PATCH", path, e.opToken, map[string]any{"creditLimit": tt.limit}), 409, "conflict", tt.reason)
		}
		for _, bad := range []any{-1, int64(1_000_000_000_000_001), "100", 1.5} {
			p := e.expectProblem(e.do("PATCH", path, e.opToken, map[string]any{"creditLimit": bad, "name": "Lost"}), 400, "validation", "")
			if !slices.Contains(p.pointers(), "/creditLimit") {
				t.Errorf("%v: pointers %v", bad, p.pointers())
			}
		}
		if a := e.account(acct); a.money() != want || a.Name != "Acme" {
			t.Errorf("refused limits changed the account: %s %s", a.Name, a.money())
		}
		// The boundary: exactly what is handed out plus what the primary uses.
		e.setCreditLimit(acct, 700)
		if got := e.account(acct).money(); got != "balance -300, limit 700, allocated 400, available 300, over false" {
			t.Errorf("at the boundary: %s", got)
		}
		e.setCreditLimit(acct, 700) // unchanged: fine
		e.reconciled(acct)

		top := "/v1/accounts/" + acct + "/top-ups"
		for _, tt := range []struct {
			body    map[string]any
			status  int
			reason  string
			pointer string
		}{
			{map[string]any{"amount": 0, "reference": "x"}, 422, "amount-out-of-range", ""},
			{map[string]any{"amount": -10, "reference": "x"}, 422, "amount-out-of-range", ""},
			{map[string]any{"amount": int64(1_000_000_000_000_001), "reference": "x"}, 422, "amount-out-of-range", ""},
			{map[string]any{"reference": "x"}, 400, "", "/amount"},
			{map[string]any{"amount": 10}, 400, "", "/reference"},
			{map[string]any{"amount": 10, "reference": "x", "currency": "EUR"}, 400, "", "/currency"},
		} {
			typ := "invalid-transfers"
			if tt.status == 400 {
				typ = "validation"
			}
			p := e.expectProblem(e.do("POST", top, e.opToken, tt.body), tt.status, typ, tt.reason)
			if tt.pointer != "" && !slices.Contains(p.pointers(), tt.pointer) {
				t.Errorf("%v: pointers %v", tt.body, p.pointers())
			}
		}
		e.expectProblem(e.do("POST", "/v1/accounts/"+uuid.NewString()+"/top-ups", e.opToken, map[string]any{"amount": 10, "reference": "x"}), 404, "not-found", "")
		if got := e.account(acct).Balance; got != -300 {
			t.Errorf("refused top-ups changed the balance: %d", got)
		}
		// No balance beyond 10^15.
		e.topUp(acct, 1_000_000_000_000_000)
		e.expectProblem(e.do("POST", top, e.opToken, map[string]any{"amount": 301, "reference": "x"}), 422, "invalid-transfers", "amount-out-of-range")
		e.topUp(acct, 300)
		if got := e.account(acct).Balance; got != 1_000_000_000_000_000 {
			t.Errorf("balance %d", got)
		}
		e.reconciled(acct)
	})
}

// TestLedgerIdempotentMoney: a transfer or top-up sent again with its Idempotency-Key
// moves the money once.
func TestLedgerIdempotentMoney(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		e.setCreditLimit(acct, 1000)
		own := e.ownSubaccount(tok, "Own", nil)
		body := func(amount int) map[string]any {
			return map[string]any{"from": acct, "to": own, "amount": amount, "reference": "once"}
		}
		for _, kind := range []string{"credit", "balance"} {
			first := e.expect(e.doHeaders("POST", "/v1/"+kind+"-transfers", tok, body(100), withKey("k-"+kind)), 201)
			again := e.expect(e.doHeaders("POST", "/v1/"+kind+"-transfers", tok, body(100), withKey("k-"+kind)), 201)
			if !replayed(again) || replayed(first) || string(again.Body) != string(first.Body) {
				t.Errorf("%s: first %s, again (replayed %v) %s", kind, first.Body, replayed(again), again.Body)
			}
			e.expectProblem(e.doHeaders("POST", "/v1/"+kind+"-transfers", tok, body(101), withKey("k-"+kind)), 422, "idempotency-key-reused", "")
		}
		r1 := e.expect(e.doHeaders("POST", "/v1/accounts/"+acct+"/top-ups", e.opToken, map[string]any{"amount": 500, "reference": "once"}, withKey("top")), 201)
		r2 := e.expect(e.doHeaders("POST", "/v1/accounts/"+acct+"/top-ups", e.opToken, map[string]any{"amount": 500, "reference": "once"}, withKey("top")), 201)
		if !replayed(r2) || string(r1.Body) != string(r2.Body) {
			t.Errorf("top-up replay %s / %s", r1.Body, r2.Body)
		}
		// A refused transfer keeps no key: the same key goes through once it can.
		e.expectProblem(e.doHeaders("POST", "/v1/balance-transfers", tok, map[string]any{"from": own, "to": acct, "amount": 10_000, "reference": "too much"}, withKey("later")), 422, "invalid-transfers", "insufficient-balance")
		e.expect(e.doHeaders("POST", "/v1/balance-transfers", tok, map[string]any{"from": own, "to": acct, "amount": 10, "reference": "right"}, withKey("later")), 201)
		if got := e.account(acct).money(); got != "balance 410, limit 1000, allocated 100, available 900, over false" {
			t.Errorf("primary: %s", got)
		}
		if got := e.subaccount(tok, own).money(); got != "balance 90, limit 100, over false" {
			t.Errorf("own: %s", got)
		}
		if got := amounts(e.transfers(tok, "credit", "")) + " | " + amounts(e.transfers(tok, "balance", "")); got != "100 | 100 10" {
			t.Errorf("transfers %s", got)
		}
		e.reconciled(acct)
	})
}
