package httpapi_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestLedgerQuotas: maxSubaccounts on the account, maxCards on a subaccount, for single
// enrolments, batches and moves.
func TestLedgerQuotas(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(3))
		tok := e.tenantToken(acct)
		full := e.newSubaccount(tok, "Full", everywhere)
		roomy := e.newSubaccount(tok, "Roomy", everywhere)
		third := e.newSubaccount(tok, "Third", everywhere)
		p := e.expectProblem(e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "Fourth"}), 403, "provisioning", "")
		if !strings.Contains(p.Detail, "Maximum number of subaccounts reached") {
			t.Errorf("detail %q", p.Detail)
		}
		if n := len(e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)["items"].([]any)); n != 3 {
			t.Errorf("%d subaccounts", n)
		}
		e.expect(e.do("DELETE", "/v1/subaccounts/"+third, tok, nil), 204)
		e.newSubaccount(tok, "Fourth", nil)
		e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract", e.opToken, usaCanContract(10)), 200)

		// maxCards 2 on Full.
		if s := patchSub(e, tok, full, map[string]any{"maxCards": 2}); s.MaxCards != 2 {
			t.Errorf("maxCards %d", s.MaxCards)
		}
		first := e.enrol(tok, full, nextPAN("VISA"), "USA")
		e.enrol(tok, full, nextPAN("VISA"), "USA")
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+full+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 409, "quota-exceeded", "max-cards")
		other := e.enrol(tok, roomy, nextPAN("MASTERCARD"), "CAN")
		e.expectProblem(e.do("POST", "/v1/cards/"+other+"/move", tok, map[string]any{"subaccountId": full}), 409, "quota-exceeded", "max-cards")
		if c := e.expect(e.do("GET", "/v1/cards/"+other, tok, nil), 200).json(t); c["subaccountId"] != roomy {
			t.Errorf("refused move moved the card: %v", c)
		}
		// Removing a card makes room.
		e.expect(e.do("DELETE", "/v1/cards/"+first, tok, nil), 200)
		e.expect(e.do("POST", "/v1/cards/"+other+"/move", tok, map[string]any{"subaccountId": full}), 200)
		// Lowering the quota below the count keeps the cards and refuses new ones.
		e.expect(e.do("PATCH", "/v1/subaccounts/"+full, tok, map[string]any{"maxCards": 1}), 200)
		if cards := e.expect(e.do("GET", "/v1/cards?status=active&subaccountId="+full, tok, nil), 200).json(t)["items"].([]any); len(cards) != 2 {
			t.Errorf("%d active cards after lowering the quota, want 2", len(cards))
		}
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+full+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 409, "quota-exceeded", "max-cards")
		// 0 is no quota.
		e.expect(e.do("PATCH", "/v1/subaccounts/"+full, tok, map[string]any{"maxCards": 0}), 200)
		e.enrol(tok, full, nextPAN("VISA"), "USA")
		e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+full, tok, map[string]any{"maxCards": -1}), 400, "validation", "")

		t.Run("batch", func(t *testing.T) {
			e := e.at(t)
			sub := e.newSubaccount(tok, "Batch", everywhere)
			e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{"maxCards": 3}), 200)
			e.enrol(tok, sub, nextPAN("VISA"), "USA")
			bad := cardBody(nextPAN("VISA"), "USA")
			bad["expMonth"] = 0
			items := []any{cardBody(nextPAN("VISA"), "USA"), bad, cardBody(nextPAN("VISA"), "USA"), cardBody(nextPAN("VISA"), "USA"), cardBody(nextPAN("VISA"), "USA")}
			var res cardBatchDoc
			e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": items}), 200).decode(t, &res)
			if res.statuses() != "201 400 201 409 409" || res.Summary.Enrolled != 2 || res.Summary.Failed != 3 {
				t.Errorf("batch %s %+v", res.statuses(), res.Summary)
			}
			for _, r := range res.Results[3:] {
				if r.Problem["type"] != "/problems/quota-exceeded" || r.Problem["reason"] != "max-cards" {
					t.Errorf("item %d: %v", r.Index, r.Problem)
				}
			}
			if cards := e.expect(e.do("GET", "/v1/cards?subaccountId="+sub, tok, nil), 200).json(t)["items"].([]any); len(cards) != 3 {
				t.Errorf("%d cards, want 3", len(cards))
			}
		})

		t.Run("batch item already enrolled takes no room", func(t *testing.T) {
			e := e.at(t)
			// One card of a quota of 2: a batch naming an enrolled card and a new one gets
			// card-exists for the first and enrols the second, as two single requests would.
			sub := e.newSubaccount(tok, "Batch 2", everywhere)
			e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{"maxCards": 2}), 200)
			pan := nextPAN("VISA")
			existing := e.enrol(tok, sub, pan, "USA")
			var res cardBatchDoc
			e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": []any{cardBody(pan, "USA"), cardBody(nextPAN("VISA"), "USA")}}), 200).decode(t, &res)
			if res.statuses() != "409 201" || res.Results[0].Problem["type"] != "/problems/card-exists" || res.Results[0].Problem["cardId"] != existing {
				t.Errorf("batch %s: %+v", res.statuses(), res.Results)
			}
		})
	})
}

// TestLedgerDeleteSubaccount: a subaccount holding cards, balance or credit is deleted only
// with cascade, which removes its cards and returns its money and credit to the primary,
// keeping its history.
func TestLedgerDeleteSubaccount(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		e.setCreditLimit(acct, 1000)
		e.topUp(acct, 1000)

		withCard := e.newSubaccount(tok, "With a card", everywhere)
		e.enrol(tok, withCard, nextPAN("VISA"), "USA")
		withBalance := e.ownSubaccount(tok, "With balance", nil)
		e.moveMoney(tok, "balance", acct, withBalance, 300)
		withCredit := e.ownSubaccount(tok, "With credit", nil)
		e.moveMoney(tok, "credit", acct, withCredit, 200)
		for _, sub := range []string{withCard, withBalance, withCredit} {
			e.expectProblem(e.do("DELETE", "/v1/subaccounts/"+sub, tok, nil), 409, "conflict", "subaccount-not-empty")
			e.expectProblem(e.do("DELETE", "/v1/subaccounts/"+sub+"?cascade=false", tok, nil), 409, "conflict", "subaccount-not-empty")
			e.expect(e.do("GET", "/v1/subaccounts/"+sub, tok, nil), 200)
		}
		e.expectProblem(e.do("DELETE", "/v1/subaccounts/"+withCard+"?cascade=yes", tok, nil), 400, "validation", "")
		if got := e.account(acct).money(); got != "balance 700, limit 1000, allocated 200, available 800, over false" {
			t.Fatalf("primary before the cascade: %s", got)
		}

		// The cascade: two active cards and a removed one, a transaction, balance and credit.
		z := e.ownSubaccount(tok, "Z", nil)
		e.moveMoney(tok, "credit", acct, z, 200)
		e.moveMoney(tok, "balance", acct, z, 300)
		c1 := e.enrol(tok, z, nextPAN("VISA"), "USA")
		c2 := e.enrol(tok, z, nextPAN("MASTERCARD"), "CAN")
		c3 := e.enrol(tok, z, nextPAN("VISA"), "CAN")
		e.expect(e.do("DELETE", "/v1/cards/"+c3, tok, nil), 200)
		txn := e.expect(e.do("POST", "/v1/transactions", tok, message(c1, "auth")), 201).json(t)["id"].(string)
		if got := e.account(acct).money(); got != "balance 400, limit 1000, allocated 400, available 600, over false" {
			t.Fatalf("primary before deleting Z: %s", got)
		}
		e.expect(e.do("DELETE", "/v1/subaccounts/"+z+"?cascade=true", tok, nil), 204)

		if got := e.account(acct).money(); got != "balance 700, limit 1000, allocated 200, available 800, over false" {
			t.Errorf("primary after deleting Z: %s", got)
		}
		e.expect(e.do("GET", "/v1/subaccounts/"+z, tok, nil), 404)
		e.expect(e.do("GET", "/v1/subaccounts/"+z+"/usage", tok, nil), 404)
		for _, path := range []string{"/v1/subaccounts?limit=100", "/v1/usage?limit=100"} {
			if body := string(e.expect(e.do("GET", path, tok, nil), 200).Body); strings.Contains(body, z) {
				t.Errorf("%s still shows Z", path)
			}
		}
		for _, c := range []string{c1, c2, c3} {
			if card := e.expect(e.do("GET", "/v1/cards/"+c, tok, nil), 200).json(t); card["status"] != "removed" || card["subaccountId"] != z {
				t.Errorf("card after the cascade: %v", card)
			}
		}
		// Its history stays.
		if items := e.expect(e.do("GET", "/v1/transactions?subaccountId="+z, tok, nil), 200).json(t)["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != txn {
			t.Errorf("Z's transactions %v", items)
		}
		e.expect(e.do("GET", "/v1/transactions/"+txn, tok, nil), 200)
		bal := e.transfers(tok, "balance", "subaccountId="+z)
		if amounts(bal) != "300 300" || bal[1].From != z || bal[1].To != acct || bal[1].Reference != "subaccount deleted" {
			t.Errorf("Z's balance transfers %+v", bal)
		}
		cred := e.transfers(tok, "credit", "subaccountId="+z)
		if amounts(cred) != "200 200" || cred[1].From != z || cred[1].To != acct || cred[1].Reference != "subaccount deleted" {
			t.Errorf("Z's credit transfers %+v", cred)
		}
		if got := actionNames(e.auditList(tok, "?resourceType=subaccount&resourceId="+z+"&limit=100")); got != "subaccount.create card.remove-all subaccount.delete" {
			t.Errorf("Z's audit events %q", got)
		}
		// Messages for its cards now wait in the unrouted queue.
		if u := e.expect(e.do("POST", "/v1/transactions", tok, message(c2, "auth")), 202).json(t); u["reason"] != "card-removed" {
			t.Errorf("message for a card of a deleted subaccount: %v", u)
		}
		// Empty subaccounts go with or without cascade.
		for _, q := range []string{"", "?cascade=true"} {
			empty := e.ownSubaccount(tok, "Empty"+q, nil)
			e.expect(e.do("DELETE", "/v1/subaccounts/"+empty+q, tok, nil), 204)
		}
		e.reconciled(acct)

		t.Run("debts", func(t *testing.T) {
			e := e.at(t)
			acct := e.newAccount("Debts", pricedContract("EUR", 100, 50))
			tok := e.tenantToken(acct)
			e.setCreditLimit(acct, 100)
			// D uses all of its credit: the primary takes over the debt with the credit back.
			d := e.ownSubaccount(tok, "D", nil)
			e.moveMoney(tok, "credit", acct, d, 100)
			e.enrol(tok, d, nextPAN("VISA"), "USA")
			e.expect(e.do("DELETE", "/v1/subaccounts/"+d+"?cascade=true", tok, nil), 204)
			if got := e.account(acct).money(); got != "balance -100, limit 100, allocated 0, available 100, over false" {
				t.Errorf("primary after taking over D's debt: %s", got)
			}
			// F is over its limit through a fee: the primary at its floor cannot take that.
			e.topUp(acct, 100)
			f := e.ownSubaccount(tok, "F", nil)
			e.moveMoney(tok, "balance", acct, f, 100)
			card := e.enrol(tok, f, nextPAN("VISA"), "USA")
			e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201)
			if got := e.subaccount(tok, f).money(); got != "balance -50, limit 0, over true" {
				t.Fatalf("F: %s", got)
			}
			e.expectProblem(e.do("DELETE", "/v1/subaccounts/"+f+"?cascade=true", tok, nil), 409, "conflict", "primary-cannot-absorb")
			if got := e.subaccount(tok, f).money(); got != "balance -50, limit 0, over true" {
				t.Errorf("F after the refused cascade: %s", got)
			}
			if c := e.expect(e.do("GET", "/v1/cards/"+card, tok, nil), 200).json(t); c["status"] != "active" {
				t.Errorf("F's card after the refused cascade: %v", c)
			}
			if got := e.account(acct).money(); got != "balance -100, limit 100, allocated 0, available 100, over false" {
				t.Errorf("primary after the refused cascade: %s", got)
			}
			e.topUp(acct, 50)
			e.expect(e.do("DELETE", "/v1/subaccounts/"+f+"?cascade=true", tok, nil), 204)
			if got := e.account(acct).money(); got != "balance -100, limit 100, allocated 0, available 100, over false" {
				t.Errorf("primary after taking over F's debt: %s", got)
			}
			// G is over its limit, and fees already took the primary over its own: the
			// cascade would push the primary further below its floor, so it is refused too.
			e.topUp(acct, 250)
			g := e.ownSubaccount(tok, "G", nil)
			e.moveMoney(tok, "balance", acct, g, 150)
			gCard := e.enrol(tok, g, nextPAN("VISA"), "USA")
			for range 2 {
				e.expect(e.do("POST", "/v1/transactions", tok, message(gCard, "auth")), 201)
			}
			shared := e.newSubaccount(tok, "Shared", everywhere)
			sCard := e.enrol(tok, shared, nextPAN("VISA"), "USA")
			e.expect(e.do("POST", "/v1/transactions", tok, message(sCard, "auth")), 201)
			if got := e.subaccount(tok, g).money(); got != "balance -50, limit 0, over true" {
				t.Fatalf("G: %s", got)
			}
			if got := e.account(acct).money(); got != "balance -150, limit 100, allocated 0, available 100, over true" {
				t.Fatalf("primary over its limit: %s", got)
			}
			e.expectProblem(e.do("DELETE", "/v1/subaccounts/"+g+"?cascade=true", tok, nil), 409, "conflict", "primary-cannot-absorb")
			e.topUp(acct, 150)
			e.expect(e.do("DELETE", "/v1/subaccounts/"+g+"?cascade=true", tok, nil), 204)
			if got := e.account(acct).money(); got != "balance -50, limit 100, allocated 0, available 100, over false" {
				t.Errorf("primary after taking over G's debt: %s", got)
			}
			e.reconciled(acct)
		})
	})
}

// actionNames lists the audit events' actions without their sequence numbers.
func actionNames(l auditListDoc) string {
	out := make([]string, len(l.Items))
	for i, it := range l.Items {
		out[i] = it.Action
	}
	return strings.Join(out, " ")
}

var etagPattern = regexp.MustCompile(`^"[0-9]+"$`)

// etagOf returns a response's ETag, failing t unless it is a strong tag of digits.
func etagOf(t *testing.T, r response) string {
	t.Helper()
	tag := r.Header.Get("ETag")
	if !etagPattern.MatchString(tag) {
		t.Fatalf("ETag %q", tag)
	}
	return tag
}

// TestLedgerETags: ETags on reads and writes of accounts and subaccounts, and If-Match on
// their writes.
func TestLedgerETags(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		ifMatch := func(tag string) map[string]string { return map[string]string{"If-Match": tag} }

		created := e.expect(e.do("POST", "/v1/accounts", e.opToken, map[string]any{"name": "Acme", "contract": usaCanContract(10)}), 201)
		acct := created.json(t)["id"].(string)
		v1 := etagOf(t, created)
		if got := etagOf(t, e.expect(e.do("GET", "/v1/accounts/"+acct, e.opToken, nil), 200)); got != v1 {
			t.Errorf("GET after POST: %s, want %s", got, v1)
		}
		tok := e.tenantToken(acct)
		if got := etagOf(t, e.expect(e.do("GET", "/v1/account", tok, nil), 200)); got != v1 {
			t.Errorf("GET /v1/account: %s, want %s", got, v1)
		}

		t.Run("account", func(t *testing.T) {
			e := e.at(t)
			path := "/v1/accounts/" + acct
			cur := etagOf(t, e.expect(e.do("GET", path, e.opToken, nil), 200))
			v2 := etagOf(t, e.expect(e.doHeaders("PATCH", path, e.opToken, map[string]any{"name": "Acme 2"}, ifMatch(cur)), 200))
			if v2 == cur {
				t.Errorf("PATCH kept the ETag %s", v2)
			}
			if got := etagOf(t, e.expect(e.do("GET", path, e.opToken, nil), 200)); got != v2 {
				t.Errorf("GET after PATCH: %s, want %s", got, v2)
			}
			for _, stale := range []string{cur, "W/" + v2, `"999"`, "abc", `"999", ` + cur} {
				e.expectProblem(e.doHeaders("PATCH", path, e.opToken, map[string]any{"name": "Lost", "creditLimit": 5}, ifMatch(stale)), 412, "precondition-failed", "")
			}
			a := e.account(acct)
			if a.Name != "Acme 2" || a.CreditLimit != 0 {
				t.Errorf("stale writes changed the account: %+v", a)
			}
			v3 := etagOf(t, e.expect(e.doHeaders("PATCH", path, e.opToken, map[string]any{"creditLimit": 100}, ifMatch(`"999", `+v2)), 200))
			v4 := etagOf(t, e.expect(e.doHeaders("PATCH", path, e.opToken, map[string]any{"name": "Acme 3"}, ifMatch("*")), 200))
			if v3 == v2 || v4 == v3 {
				t.Errorf("ETags %s → %s → %s", v2, v3, v4)
			}
			// Money moving is not a change of what PATCH and PUT govern: the ETag stays, so a
			// settings change is not lost to the account's traffic.
			e.topUp(acct, 10)
			if got := etagOf(t, e.expect(e.do("GET", path, e.opToken, nil), 200)); got != v4 {
				t.Errorf("a top-up changed the ETag: %s, want %s", got, v4)
			}
			v4b := etagOf(t, e.expect(e.doHeaders("PATCH", path, e.opToken, map[string]any{"name": "Acme 3b"}, ifMatch(v4)), 200))
			if a := e.account(acct); a.Name != "Acme 3b" || a.Balance != 10 || a.CreditLimit != 100 {
				t.Errorf("account %+v", a)
			}
			if v4b == v4 {
				t.Errorf("PATCH kept the ETag %s", v4)
			}

			contract := path + "/contract"
			cur = etagOf(t, e.expect(e.do("GET", path, e.opToken, nil), 200))
			e.expectProblem(e.doHeaders("PUT", contract, e.opToken, usaCanContract(5), ifMatch(v4)), 412, "precondition-failed", "")
			if a := e.account(acct); a.Contract.MaxSubaccounts != 10 || a.Contract.Version != 1 {
				t.Errorf("stale contract write changed it: %+v", a.Contract)
			}
			dry := e.expect(e.doHeaders("PUT", contract+"?dryRun=true", e.opToken, usaCanContract(5), ifMatch(cur)), 200)
			if tag := dry.Header.Get("ETag"); tag != "" {
				t.Errorf("a dry run answers ETag %q", tag)
			}
			changed := e.expect(e.doHeaders("PUT", contract, e.opToken, usaCanContract(5), ifMatch(cur)), 200)
			v5 := etagOf(t, changed)
			if v5 == cur || etagOf(t, e.expect(e.do("GET", path, e.opToken, nil), 200)) != v5 {
				t.Errorf("contract change ETag %s (was %s)", v5, cur)
			}
			if a := e.account(acct); a.Contract.MaxSubaccounts != 5 || a.Contract.Version != 2 {
				t.Errorf("contract %+v", a.Contract)
			}
			etagOf(t, e.expect(e.doHeaders("PUT", contract, e.opToken, usaCanContract(6), ifMatch("*")), 200))
		})

		t.Run("subaccount", func(t *testing.T) {
			e := e.at(t)
			r := e.expect(e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "Shop", "usePrimaryAccountBalance": false}), 201)
			sub := r.json(t)["id"].(string)
			path := "/v1/subaccounts/" + sub
			cur := etagOf(t, r)
			if got := etagOf(t, e.expect(e.do("GET", path, tok, nil), 200)); got != cur {
				t.Errorf("GET after POST: %s, want %s", got, cur)
			}
			next := etagOf(t, e.expect(e.doHeaders("PATCH", path, tok, map[string]any{"name": "Shop 2"}, ifMatch(cur)), 200))
			if next == cur || etagOf(t, e.expect(e.do("GET", path, tok, nil), 200)) != next {
				t.Errorf("PATCH ETag %s (was %s)", next, cur)
			}
			for _, stale := range []string{cur, "W/" + next, `"0"`} {
				e.expectProblem(e.doHeaders("PATCH", path, tok, map[string]any{"name": "Lost", "maxCards": 9}, ifMatch(stale)), 412, "precondition-failed", "")
			}
			if s := e.subaccount(tok, sub); s.Name != "Shop 2" || s.MaxCards != 0 {
				t.Errorf("stale writes changed the subaccount: %+v", s)
			}
			dry := e.expect(e.doHeaders("PATCH", path+"?dryRun=true", tok, map[string]any{"name": "Dry"}, ifMatch(next)), 200)
			if tag := dry.Header.Get("ETag"); tag != "" {
				t.Errorf("a dry run answers ETag %q", tag)
			}
			if got := etagOf(t, e.expect(e.do("GET", path, tok, nil), 200)); got != next {
				t.Errorf("a dry run changed the ETag: %s, want %s", got, next)
			}
			// A transfer moves money, not settings: the ETag stays, and a PATCH naming it
			// still succeeds (a busy subaccount can be suspended under If-Match).
			e.topUp(acct, 100)
			e.moveMoney(tok, "balance", acct, sub, 10)
			if got := etagOf(t, e.expect(e.do("GET", path, tok, nil), 200)); got != next {
				t.Errorf("a transfer changed the ETag: %s, want %s", got, next)
			}
			e.expect(e.doHeaders("PATCH", path, tok, map[string]any{"name": "Shop 3"}, ifMatch(next)), 200)
			e.expectProblem(e.doHeaders("PATCH", path, tok, map[string]any{"name": "Lost"}, ifMatch(next)), 412, "precondition-failed", "")
			e.expect(e.doHeaders("PATCH", path, tok, map[string]any{"name": "Shop 4"}, ifMatch("*")), 200)
			if s := e.subaccount(tok, sub); s.Name != "Shop 4" || s.money() != "balance 10, limit 0, over false" {
				t.Errorf("subaccount %+v", s)
			}
		})
	})
}

// TestLedgerCurrency: the contract currency defaults to EUR and may change only until
// money or credit has moved.
func TestLedgerCurrency(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		path := "/v1/accounts/" + acct + "/contract"
		if a := e.account(acct); a.Contract.Currency != "EUR" || a.Contract.Pricing.CardEnrolment != 0 || a.Contract.Pricing.Transaction != 0 {
			t.Errorf("default contract %+v", a.Contract)
		}
		// Subaccounts and free cards move no money: the currency may still change.
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "Shop", everywhere)
		e.enrol(tok, sub, nextPAN("VISA"), "USA")
		c := usaCanContract(10)
		c["currency"] = "USD"
		c["pricing"] = map[string]any{"cardEnrolment": 7}
		e.expect(e.do("PUT", path, e.opToken, c), 200)
		a := e.account(acct)
		if a.Contract.Currency != "USD" || a.Contract.Pricing.CardEnrolment != 7 || a.Contract.Pricing.Transaction != 0 {
			t.Errorf("contract %+v", a.Contract)
		}
		// Left out, currency and pricing stay as they are.
		e.expect(e.do("PUT", path, e.opToken, usaCanContract(10)), 200)
		if a := e.account(acct); a.Contract.Currency != "USD" || a.Contract.Pricing.CardEnrolment != 7 {
			t.Errorf("contract %+v", a.Contract)
		}
		for _, bad := range []string{"usd", "ABC", "US", "EURO"} {
			c := usaCanContract(10)
			c["currency"] = bad
			p := e.expectProblem(e.do("PUT", path, e.opToken, c), 400, "validation", "")
			if got := p.pointers(); len(got) != 1 || got[0] != "/currency" {
				t.Errorf("%s: pointers %v", bad, got)
			}
		}

		top := e.expect(e.do("POST", "/v1/accounts/"+acct+"/top-ups", e.opToken, map[string]any{"amount": 500, "reference": "first"}), 201).json(t)
		if top["currency"] != "USD" {
			t.Errorf("top-up %v", top)
		}
		if u := e.usage(tok, sub, ""); u.Currency != "USD" {
			t.Errorf("usage currency %q", u.Currency)
		}
		before := e.account(acct).Contract
		for _, q := range []string{"", "?dryRun=true"} {
			c := usaCanContract(10)
			c["currency"] = "GBP"
			e.expectProblem(e.do("PUT", path+q, e.opToken, c), 409, "conflict", "currency-in-use")
		}
		if a := e.account(acct); a.Contract != before {
			t.Errorf("refused currency change changed the contract: %+v", a.Contract)
		}
		// The same currency, with new prices, is fine.
		c = usaCanContract(10)
		c["currency"] = "USD"
		c["pricing"] = map[string]any{"cardEnrolment": 9, "transaction": 2}
		e.expect(e.do("PUT", path, e.opToken, c), 200)
		if a := e.account(acct); a.Contract.Currency != "USD" || a.Contract.Pricing.CardEnrolment != 9 || a.Contract.Pricing.Transaction != 2 {
			t.Errorf("contract %+v", a.Contract)
		}

		t.Run("a credit limit is money moved", func(t *testing.T) {
			e := e.at(t)
			acct := e.newAccount("Credit only", usaCanContract(10))
			e.setCreditLimit(acct, 100)
			c := usaCanContract(10)
			c["currency"] = "CHF"
			e.expectProblem(e.do("PUT", "/v1/accounts/"+acct+"/contract", e.opToken, c), 409, "conflict", "currency-in-use")
		})
		t.Run("created with a currency and prices", func(t *testing.T) {
			e := e.at(t)
			p := e.expectProblem(e.do("POST", "/v1/accounts", e.opToken, map[string]any{"name": "Bad", "contract": pricedContract("eur", -1, 0)}), 400, "validation", "")
			if got := strings.Join(p.pointers(), " "); got != "/contract/currency /contract/pricing/cardEnrolment" {
				t.Errorf("pointers %s", got)
			}
			acct := e.newAccount("Yen", pricedContract("JPY", 0, 3))
			if a := e.account(acct); a.Contract.Currency != "JPY" || a.Contract.Pricing.Transaction != 3 {
				t.Errorf("contract %+v", a.Contract)
			}
		})
	})
}
