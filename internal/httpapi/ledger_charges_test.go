package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
)

// usageDoc is one subaccount's usage.
type usageDoc struct {
	SubaccountID string `json:"subaccountId"`
	Name         string `json:"name"`
	From         string `json:"from"`
	To           string `json:"to"`
	Currency     string `json:"currency"`
	Enrolments   int64  `json:"enrolments"`
	ActiveCards  int64  `json:"activeCards"`
	Transactions struct {
		Count      int64 `json:"count"`
		ByCurrency []struct {
			Currency string `json:"currency"`
			Count    int64  `json:"count"`
			Volume   int64  `json:"volume"`
		} `json:"byCurrency"`
	} `json:"transactions"`
	Charges struct {
		CardEnrolments int64 `json:"cardEnrolments"`
		Transactions   int64 `json:"transactions"`
	} `json:"charges"`
	TotalUsage    int64 `json:"totalUsage"`
	PaidByPrimary bool  `json:"paidByPrimary"`
}

func (e *env) usage(token, sub, query string) usageDoc {
	e.t.Helper()
	var u usageDoc
	e.expect(e.do("GET", "/v1/subaccounts/"+sub+"/usage"+query, token, nil), 200).decode(e.t, &u)
	return u
}

// charges summarises a usage row's charges.
func (u usageDoc) charges() string {
	return fmt.Sprintf("enrolments %d, transactions %d, total %d", u.Charges.CardEnrolments, u.Charges.Transactions, u.TotalUsage)
}

// TestLedgerCharges: enrolments are charged to the payer and refused when it cannot pay,
// keeping nothing; transaction fees are always charged and may put the payer over its
// limit, which blocks enrolments until money comes back.
func TestLedgerCharges(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", pricedContract("EUR", 100, 30))
		tok := e.tenantToken(acct)
		e.topUp(acct, 250)
		shared := e.newSubaccount(tok, "Shared", everywhere)
		own := e.ownSubaccount(tok, "Own", nil)
		if s := e.subaccount(tok, shared); !s.UsePrimaryAccountBalance || s.Balance != nil || s.CreditLimit != nil || s.AutoTopUp != nil || s.OverLimit {
			t.Errorf("a shared-balance subaccount shows %+v", s)
		}

		// Shared: the primary pays.
		c1 := e.enrol(tok, shared, nextPAN("VISA"), "USA")
		if got := e.account(acct).money(); got != "balance 150, limit 0, allocated 0, available 0, over false" {
			t.Errorf("primary after an enrolment on the shared balance: %s", got)
		}
		// Own balance: the subaccount pays.
		e.moveMoney(tok, "balance", acct, own, 150)
		c2 := e.enrol(tok, own, nextPAN("MASTERCARD"), "CAN")
		if got := e.subaccount(tok, own).money(); got != "balance 50, limit 0, over false" {
			t.Errorf("own after its enrolment: %s", got)
		}
		if got := e.account(acct).money(); got != "balance 0, limit 0, allocated 0, available 0, over false" {
			t.Errorf("primary pays nothing for own's enrolment: %s", got)
		}
		if u := e.usage(tok, shared, ""); u.charges() != "enrolments 100, transactions 0, total 100" || !u.PaidByPrimary || u.Currency != "EUR" {
			t.Errorf("shared usage %+v", u)
		}
		if u := e.usage(tok, own, ""); u.charges() != "enrolments 100, transactions 0, total 100" || u.PaidByPrimary {
			t.Errorf("own usage %+v", u)
		}

		snapshot := func() string {
			var b strings.Builder
			fmt.Fprintln(&b, e.account(acct).money())
			fmt.Fprintln(&b, e.subaccount(tok, own).money())
			fmt.Fprintln(&b, e.usage(tok, own, "").charges(), "|", e.usage(tok, shared, "").charges())
			fmt.Fprintln(&b, len(e.expect(e.do("GET", "/v1/cards?limit=100", tok, nil), 200).json(t)["items"].([]any)))
			fmt.Fprintln(&b, len(e.expect(e.do("GET", "/v1/audit-events?limit=100", tok, nil), 200).json(t)["items"].([]any)))
			return b.String()
		}
		before := snapshot()
		single := e.expectProblem(e.do("POST", "/v1/subaccounts/"+own+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "insufficient-credit")
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+shared+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "insufficient-credit")
		var batch cardBatchDoc
		e.expect(e.do("POST", "/v1/subaccounts/"+own+"/cards/batch", tok, map[string]any{"cards": []any{cardBody(nextPAN("VISA"), "USA")}}), 200).decode(t, &batch)
		if batch.statuses() != "402" || batch.Results[0].Problem["type"] != "/problems/insufficient-credit" || batch.Results[0].Problem["reason"] != "insufficient-credit" {
			t.Errorf("batch item the payer cannot afford: %+v", batch)
		}
		// The item answers as the single-card route would: about the subaccount's own balance.
		if got := batch.Results[0].Problem["detail"]; got != single.Detail {
			t.Errorf("batch item detail %q, the single route's %q", got, single.Detail)
		}
		if after := snapshot(); after != before {
			t.Errorf("refused enrolments changed something:\nbefore %s\nafter  %s", before, after)
		}
		e.reconciled(acct)

		// With credit the primary may go down to its floor, and no further.
		e.setCreditLimit(acct, 100)
		e.enrol(tok, shared, nextPAN("VISA"), "USA")
		if got := e.account(acct).money(); got != "balance -100, limit 100, allocated 0, available 100, over false" {
			t.Errorf("primary at its floor: %s", got)
		}
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+shared+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "insufficient-credit")

		// Transaction fees are never refused: own goes from 50 to -10, over its limit of 0.
		e.expect(e.do("POST", "/v1/transactions", tok, message(c2, "auth")), 201)
		m := message(c2, "clearing")
		e.expect(e.do("POST", "/v1/transactions", tok, m), 201)
		if s := e.subaccount(tok, own); s.money() != "balance -10, limit 0, over true" {
			t.Errorf("own after two fees: %s", s.money())
		}
		// A duplicate is not charged again, nor is an unrouted message.
		e.expect(e.do("POST", "/v1/transactions", tok, m), 200)
		e.expect(e.do("POST", "/v1/transactions", tok, message(nextPAN("VISA"), "auth")), 202)
		if s := e.subaccount(tok, own); s.money() != "balance -10, limit 0, over true" {
			t.Errorf("own after a duplicate and an unrouted message: %s", s.money())
		}
		if u := e.usage(tok, own, ""); u.charges() != "enrolments 100, transactions 60, total 160" {
			t.Errorf("own usage %s", u.charges())
		}
		if a := e.account(acct); a.OverLimit {
			t.Errorf("the primary is not over its limit: %s", a.money())
		}
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+own+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "over-limit")
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+own+"/cards/batch", tok, map[string]any{"cards": []any{cardBody(nextPAN("VISA"), "USA")}}), 402, "insufficient-credit", "over-limit")

		// Money back, but not enough: still over the limit.
		e.topUp(acct, 1000)
		e.moveMoney(tok, "balance", acct, own, 5)
		if s := e.subaccount(tok, own); s.money() != "balance -5, limit 0, over true" {
			t.Errorf("own after 5: %s", s.money())
		}
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+own+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "over-limit")
		e.moveMoney(tok, "balance", acct, own, 205)
		if s := e.subaccount(tok, own); s.money() != "balance 200, limit 0, over false" {
			t.Errorf("own after 205 more: %s", s.money())
		}
		e.enrol(tok, own, nextPAN("VISA"), "USA")
		if got := e.account(acct).money(); got != "balance 690, limit 100, allocated 0, available 100, over false" {
			t.Errorf("primary: %s", got)
		}

		// The primary over its limit: a dear message on the shared balance.
		e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract", e.opToken, pricedContract("EUR", 100, 1000)), 200)
		txn := e.expect(e.do("POST", "/v1/transactions", tok, message(c1, "auth")), 201).json(t)
		if txn["subaccountId"] != shared {
			t.Errorf("routed to %v", txn["subaccountId"])
		}
		if got := e.account(acct).money(); got != "balance -310, limit 100, allocated 0, available 100, over true" {
			t.Errorf("primary after a fee of 1000: %s", got)
		}
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+shared+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "over-limit")
		// A subaccount with its own balance is not held back by the primary's.
		e.enrol(tok, own, nextPAN("VISA"), "USA")
		if s := e.subaccount(tok, own); s.money() != "balance 0, limit 0, over false" {
			t.Errorf("own after its enrolment: %s", s.money())
		}
		e.topUp(acct, 210)
		if got := e.account(acct).money(); got != "balance -100, limit 100, allocated 0, available 100, over false" {
			t.Errorf("primary back at its floor: %s", got)
		}
		e.expectProblem(e.do("POST", "/v1/subaccounts/"+shared+"/cards", tok, cardBody(nextPAN("VISA"), "USA")), 402, "insufficient-credit", "insufficient-credit")
		e.topUp(acct, 100)
		e.enrol(tok, shared, nextPAN("VISA"), "USA")
		if u := e.usage(tok, shared, ""); u.charges() != "enrolments 300, transactions 1000, total 1300" || u.ActiveCards != 3 || u.Enrolments != 3 {
			t.Errorf("shared usage %+v", u)
		}
		e.reconciled(acct)

		t.Run("a queued message is charged when it is routed", func(t *testing.T) {
			e := e.at(t)
			acct := e.newAccount("Retry", pricedContract("EUR", 0, 25))
			tok := e.tenantToken(acct)
			e.topUp(acct, 100)
			sub := e.ownSubaccount(tok, "Own", nil)
			e.moveMoney(tok, "balance", acct, sub, 100)
			pan := nextPAN("VISA")
			queued := e.expect(e.do("POST", "/v1/transactions", tok, message(pan, "auth")), 202).json(t)["id"].(string)
			e.expect(e.do("POST", "/v1/transactions/unrouted/"+queued+"/retry", tok, nil), 202)
			if got := e.subaccount(tok, sub).money(); got != "balance 100, limit 0, over false" {
				t.Errorf("a queued message was charged: %s", got)
			}
			e.enrol(tok, sub, pan, "USA")
			e.expect(e.do("POST", "/v1/transactions/unrouted/"+queued+"/retry", tok, nil), 201)
			if got := e.subaccount(tok, sub).money(); got != "balance 75, limit 0, over false" {
				t.Errorf("after routing the queued message: %s", got)
			}
			if u := e.usage(tok, sub, ""); u.charges() != "enrolments 0, transactions 25, total 25" {
				t.Errorf("usage %s", u.charges())
			}
			e.reconciled(acct)
		})

		t.Run("batch stops at what the payer can afford", func(t *testing.T) {
			e := e.at(t)
			acct := e.newAccount("Batch", pricedContract("EUR", 100, 0))
			tok := e.tenantToken(acct)
			e.topUp(acct, 250)
			sub := e.ownSubaccount(tok, "Own", nil)
			e.moveMoney(tok, "balance", acct, sub, 250)
			cards := []any{cardBody(nextPAN("VISA"), "USA"), cardBody(nextPAN("VISA"), "USA"), cardBody(nextPAN("VISA"), "USA"), cardBody(nextPAN("VISA"), "USA")}
			var res cardBatchDoc
			e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": cards}), 200).decode(t, &res)
			if res.statuses() != "201 201 402 402" || res.Summary.Enrolled != 2 || res.Summary.Failed != 2 {
				t.Errorf("batch %s %+v", res.statuses(), res.Summary)
			}
			for _, r := range res.Results[2:] {
				if r.Problem["type"] != "/problems/insufficient-credit" || r.Problem["reason"] != "insufficient-credit" ||
					r.Problem["detail"] != "The charge of 100 would take the subaccount balance of 50 below its credit limit of 0." {
					t.Errorf("item %d: %v", r.Index, r.Problem)
				}
			}
			if s := e.subaccount(tok, sub); s.money() != "balance 50, limit 0, over false" {
				t.Errorf("after the batch: %s", s.money())
			}
			// Money for one more card: an item naming an enrolled card costs nothing and
			// leaves it to the next item.
			e.topUp(acct, 50)
			e.moveMoney(tok, "balance", acct, sub, 50)
			again := []any{cards[0], cardBody(nextPAN("VISA"), "USA")}
			var res2 cardBatchDoc
			e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": again}), 200).decode(t, &res2)
			if res2.statuses() != "409 201" || res2.Results[0].Problem["type"] != "/problems/card-exists" {
				t.Errorf("batch %s %+v", res2.statuses(), res2.Results)
			}
			if s := e.subaccount(tok, sub); s.money() != "balance 0, limit 0, over false" {
				t.Errorf("after the second batch: %s", s.money())
			}
			e.reconciled(acct)

			// With auto top-up a batch takes what single enrolments would: the first card's
			// charge leaves 0, below the threshold, the primary tops up 100, and the second
			// card is paid from that.
			e.topUp(acct, 200)
			topped := e.ownSubaccount(tok, "Topped", map[string]any{"autoTopUp": map[string]any{"threshold": 50, "amount": 100}})
			e.moveMoney(tok, "balance", acct, topped, 100)
			two := []any{cardBody(nextPAN("VISA"), "USA"), cardBody(nextPAN("VISA"), "USA")}
			var res3 cardBatchDoc
			e.expect(e.do("POST", "/v1/subaccounts/"+topped+"/cards/batch", tok, map[string]any{"cards": two}), 200).decode(t, &res3)
			if res3.statuses() != "201 201" {
				t.Errorf("batch with auto top-up %s %+v", res3.statuses(), res3.Results)
			}
			if s := e.subaccount(tok, topped); s.money() != "balance 0, limit 0, over false" {
				t.Errorf("after the auto-topped batch: %s", s.money())
			}
			e.reconciled(acct)
		})
	})
}

// cardBatchDoc is the outcome of a card batch.
type cardBatchDoc struct {
	Results []struct {
		Index   int            `json:"index"`
		Status  int            `json:"status"`
		Card    map[string]any `json:"card"`
		Problem map[string]any `json:"problem"`
	} `json:"results"`
	Summary struct{ Enrolled, Failed int } `json:"summary"`
}

func (b cardBatchDoc) statuses() string {
	out := make([]string, len(b.Results))
	for i, r := range b.Results {
		out[i] = fmt.Sprint(r.Status)
	}
	return strings.Join(out, " ")
}

// TestLedgerAutoTopUp: a charge leaving a subaccount below its threshold moves the top-up
// amount from the primary when the primary can afford it; amount 0 turns it off; a
// shared-balance subaccount cannot have one.
func TestLedgerAutoTopUp(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", pricedContract("EUR", 100, 40))
		tok := e.tenantToken(acct)
		e.topUp(acct, 1000)
		own := e.ownSubaccount(tok, "Own", map[string]any{"autoTopUp": map[string]any{"threshold": 50, "amount": 200}})
		sink := e.ownSubaccount(tok, "Sink", nil)
		if s := e.subaccount(tok, own); s.AutoTopUp == nil || *s.AutoTopUp != (autoTopUpDoc{Threshold: 50, Amount: 200}) {
			t.Errorf("auto top-up %+v", s.AutoTopUp)
		}
		// A transfer alone triggers nothing, even below the threshold.
		e.moveMoney(tok, "balance", acct, own, 20)
		e.moveMoney(tok, "balance", acct, own, 100)
		card := e.enrol(tok, own, nextPAN("VISA"), "USA") // 120 → 20, below 50: +200
		if got := e.subaccount(tok, own).money(); got != "balance 220, limit 0, over false" {
			t.Errorf("own after the enrolment and its top-up: %s", got)
		}
		if got := e.account(acct).money(); got != "balance 680, limit 0, allocated 0, available 0, over false" {
			t.Errorf("primary after the top-up: %s", got)
		}
		trs := e.transfers(tok, "balance", "subaccountId="+own)
		if amounts(trs) != "20 100 200" {
			t.Fatalf("own's balance transfers %s", amounts(trs))
		}
		if auto := trs[2]; auto.Reference != "auto top-up" || auto.From != acct || auto.To != own || auto.SubaccountID == nil || *auto.SubaccountID != own {
			t.Errorf("auto top-up %+v", auto)
		}
		for _, tr := range trs[:2] {
			if tr.Reference == "auto top-up" {
				t.Errorf("a manual transfer is marked %q", tr.Reference)
			}
		}

		// Fees trigger it too: 220 → 180 → 140 → 100 → 60 → 20 (+200).
		for range 5 {
			e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201)
		}
		if got := e.subaccount(tok, own).money(); got != "balance 220, limit 0, over false" {
			t.Errorf("own after five fees: %s", got)
		}
		if got := amounts(e.transfers(tok, "balance", "subaccountId="+own)); got != "20 100 200 200" {
			t.Errorf("own's balance transfers %s", got)
		}

		// The primary cannot afford it: nothing moves.
		e.moveMoney(tok, "balance", acct, sink, 330) // primary 480 → 150
		e.enrol(tok, own, nextPAN("VISA"), "USA")    // 220 → 120
		e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201)
		e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201) // 120 → 80 → 40: 150 - 200 < 0
		if got := e.subaccount(tok, own).money(); got != "balance 40, limit 0, over false" {
			t.Errorf("own when the primary cannot pay: %s", got)
		}
		if got := e.account(acct).money(); got != "balance 150, limit 0, allocated 0, available 0, over false" {
			t.Errorf("primary when it cannot pay: %s", got)
		}
		// With credit it can: the top-up may use the primary's credit down to its floor.
		e.setCreditLimit(acct, 100)
		e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201) // 40 → 0: +200, primary -50
		if got := e.subaccount(tok, own).money(); got != "balance 200, limit 0, over false" {
			t.Errorf("own when the primary pays on credit: %s", got)
		}
		if got := e.account(acct).money(); got != "balance -50, limit 100, allocated 0, available 100, over false" {
			t.Errorf("primary paying on credit: %s", got)
		}

		// Amount 0 turns it off.
		if s := patchSub(e, tok, own, map[string]any{"autoTopUp": map[string]any{"threshold": 50, "amount": 0}}); s.AutoTopUp == nil || *s.AutoTopUp != (autoTopUpDoc{Threshold: 50}) {
			t.Errorf("auto top-up turned off: %+v", s.AutoTopUp)
		}
		e.topUp(acct, 1000)
		for range 4 {
			e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201)
		}
		if got := e.subaccount(tok, own).money(); got != "balance 40, limit 0, over false" {
			t.Errorf("own with auto top-up off: %s", got)
		}
		if got := amounts(e.transfers(tok, "balance", "subaccountId="+own)); got != "20 100 200 200 200" {
			t.Errorf("own's balance transfers %s", got)
		}
		e.reconciled(acct)

		t.Run("needs a balance of its own", func(t *testing.T) {
			e := e.at(t)
			shared := e.newSubaccount(tok, "Shared", everywhere)
			e.expectProblem(e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "Shared 2", "autoTopUp": map[string]any{"threshold": 0, "amount": 100}}), 409, "conflict", "uses-primary-balance")
			e.expectProblem(e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "Shared 2", "usePrimaryAccountBalance": true, "autoTopUp": map[string]any{"threshold": 0, "amount": 100}}), 409, "conflict", "uses-primary-balance")
			e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+shared, tok, map[string]any{"autoTopUp": map[string]any{"threshold": 10, "amount": 5}}), 409, "conflict", "uses-primary-balance")
			if s := e.subaccount(tok, shared); s.AutoTopUp != nil || !s.UsePrimaryAccountBalance {
				t.Errorf("shared after refusals: %+v", s)
			}
			// Off is no top-up at all, so it is accepted.
			e.expect(e.do("PATCH", "/v1/subaccounts/"+shared, tok, map[string]any{"autoTopUp": map[string]any{"threshold": 10, "amount": 0}}), 200)
			// Both in one request: the own balance first, then the top-up on it.
			if s := patchSub(e, tok, shared, map[string]any{"usePrimaryAccountBalance": false, "autoTopUp": map[string]any{"threshold": 10, "amount": 5}}); s.AutoTopUp == nil || s.AutoTopUp.Amount != 5 || s.Balance == nil {
				t.Errorf("own balance with auto top-up: %+v", s)
			}
			for _, tt := range []struct {
				body    map[string]any
				pointer string
			}{
				{map[string]any{"threshold": 10}, "/autoTopUp/amount"},
				{map[string]any{"amount": 10}, "/autoTopUp/threshold"},
				{map[string]any{"threshold": 10, "amount": -1}, "/autoTopUp/amount"},
				{map[string]any{"threshold": 10, "amount": 1, "currency": "EUR"}, "/autoTopUp/currency"},
			} {
				p := e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+own, tok, map[string]any{"autoTopUp": tt.body}), 400, "validation", "")
				if got := p.pointers(); len(got) != 1 || got[0] != tt.pointer {
					t.Errorf("%v: pointers %v, want %s", tt.body, got, tt.pointer)
				}
			}
		})

		t.Run("confined clients cannot change cost controls", func(t *testing.T) {
			e := e.at(t)
			id, secret := e.newClient(acct, allTenantScopes, own)
			confined := e.token(id, secret, "")
			for _, body := range []map[string]any{
				{"autoTopUp": map[string]any{"threshold": 1, "amount": 1}},
				{"maxCards": 3},
				{"usePrimaryAccountBalance": true},
				{"suspended": true},
			} {
				e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+own, confined, body), 403, "forbidden", "")
			}
			if s := e.subaccount(tok, own); s.AutoTopUp == nil || *s.AutoTopUp != (autoTopUpDoc{Threshold: 50}) || s.MaxCards != 0 || s.UsePrimaryAccountBalance || s.Suspended {
				t.Errorf("after refused changes: %+v", s)
			}
		})
	})
}

// patchSub patches a subaccount and returns it.
func patchSub(e *env, token, id string, body map[string]any) subDoc {
	e.t.Helper()
	var s subDoc
	e.expect(e.do("PATCH", "/v1/subaccounts/"+id, token, body), 200).decode(e.t, &s)
	return s
}

// TestLedgerBackToSharedBalance: a subaccount goes back to the primary balance only once
// it holds no balance and no credit.
func TestLedgerBackToSharedBalance(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", pricedContract("EUR", 100, 0))
		tok := e.tenantToken(acct)
		e.setCreditLimit(acct, 500)
		e.topUp(acct, 1000)
		own := e.ownSubaccount(tok, "Own", map[string]any{"autoTopUp": map[string]any{"threshold": 10, "amount": 20}})
		e.moveMoney(tok, "credit", acct, own, 100)
		e.moveMoney(tok, "balance", acct, own, 50)

		back := map[string]any{"usePrimaryAccountBalance": true}
		e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+own, tok, back), 409, "conflict", "balance-not-zero")
		e.moveMoney(tok, "balance", own, acct, 50)
		e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+own, tok, back), 409, "conflict", "balance-not-zero")
		if s := e.subaccount(tok, own); s.UsePrimaryAccountBalance || s.money() != "balance 0, limit 100, over false" {
			t.Errorf("after refusals: %+v", s)
		}
		e.moveMoney(tok, "credit", own, acct, 100)
		s := patchSub(e, tok, own, back)
		if !s.UsePrimaryAccountBalance || s.Balance != nil || s.CreditLimit != nil || s.AutoTopUp != nil || s.OverLimit {
			t.Errorf("back on the shared balance: %+v", s)
		}
		// Its charges go to the primary now.
		e.enrol(tok, own, nextPAN("VISA"), "USA")
		if got := e.account(acct).money(); got != "balance 900, limit 500, allocated 0, available 500, over false" {
			t.Errorf("primary pays for the shared subaccount: %s", got)
		}
		// Its own balance again starts empty, auto top-up off.
		s = patchSub(e, tok, own, map[string]any{"usePrimaryAccountBalance": false})
		if s.money() != "balance 0, limit 0, over false" || s.AutoTopUp == nil || *s.AutoTopUp != (autoTopUpDoc{}) {
			t.Errorf("own balance again: %+v", s)
		}

		// A debt counts too: credit 100, an enrolment of 100 takes the balance to -100.
		e.moveMoney(tok, "credit", acct, own, 100)
		e.enrol(tok, own, nextPAN("VISA"), "USA")
		e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+own, tok, back), 409, "conflict", "balance-not-zero")
		e.moveMoney(tok, "balance", acct, own, 100)
		e.expectProblem(e.do("PATCH", "/v1/subaccounts/"+own, tok, back), 409, "conflict", "balance-not-zero")
		e.moveMoney(tok, "credit", own, acct, 100)
		e.expect(e.do("PATCH", "/v1/subaccounts/"+own, tok, back), 200)
		if got := e.account(acct).money(); got != "balance 800, limit 500, allocated 0, available 500, over false" {
			t.Errorf("primary at the end: %s", got)
		}
		e.reconciled(acct)
	})
}
