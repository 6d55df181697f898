package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func TestTransactionRouting(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		a := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")})
		b := e.newSubaccount(tok, "B", []any{cfg([]string{"USA"}, "VISA")})
		card := e.enrol(tok, a, visaPAN, "USA")

		// By card id: routed into the card's bucket with its provenance.
		msg := message(card, "auth")
		tx := e.expect(e.do("POST", "/v1/transactions", tok, msg), 201).json(t)
		subA := e.expect(e.do("GET", "/v1/subaccounts/"+a, tok, nil), 200).json(t)
		want := map[string]any{
			"accountId": acct, "subaccountId": a, "cardId": card, "type": "auth", "amount": float64(1250),
			"currency": "USD", "datetime": "2026-11-20T10:15:30.123Z", "policyStatus": "in-policy",
			"configVersion": subA["configVersion"], "authCode": "A1B2C3", "networkTransactionId": msg["networkTransactionId"],
		}
		for k, v := range want {
			if tx[k] != v {
				t.Errorf("%s = %v, want %v", k, tx[k], v)
			}
		}
		if fmt.Sprint(tx["merchant"]) != "map[city:Austin countryCode:USA mcc:5812 name:Joe's Diner]" {
			t.Errorf("merchant %v", tx["merchant"])
		}
		// A retry returns the stored one with 200, never a second copy.
		dup := e.expect(e.do("POST", "/v1/transactions", tok, msg), 200).json(t)
		if dup["id"] != tx["id"] || dup["routedAt"] != tx["routedAt"] {
			t.Errorf("duplicate %v, first %v", dup, tx)
		}

		// By card number: matched through the fingerprint.
		byPAN := e.expect(e.do("POST", "/v1/transactions", tok, message(visaPAN, "clearing")), 201).json(t)
		if byPAN["cardId"] != card || byPAN["subaccountId"] != a {
			t.Errorf("by PAN %v", byPAN)
		}
		if strings.Contains(fmt.Sprint(byPAN), visaPAN) {
			t.Error("response echoes the PAN")
		}

		// Same network id, other types: one lifecycle.
		clearing := message(card, "clearing")
		clearing["networkTransactionId"] = msg["networkTransactionId"]
		clearing["datetime"] = "2026-11-21T08:00:00Z"
		cl := e.expect(e.do("POST", "/v1/transactions", tok, clearing), 201).json(t)
		refund := message(card, "refund")
		refund["networkTransactionId"] = msg["networkTransactionId"]
		refund["datetime"] = "2026-11-22T09:00:00.5Z"
		refund["amount"] = 250
		rf := e.expect(e.do("POST", "/v1/transactions", tok, refund), 201).json(t)
		got := e.expect(e.do("GET", "/v1/transactions/"+cl["id"].(string), tok, nil), 200).json(t)
		var life []string
		for _, l := range got["lifecycle"].([]any) {
			life = append(life, l.(map[string]any)["type"].(string))
		}
		if !slices.Equal(life, []string{"auth", "clearing", "refund"}) {
			t.Errorf("lifecycle %v", life)
		}
		if got["lifecycle"].([]any)[2].(map[string]any)["id"] != rf["id"] {
			t.Errorf("lifecycle does not link the refund: %v", got["lifecycle"])
		}

		// Move: later transactions land in the new bucket, earlier ones stay.
		e.expect(e.do("POST", "/v1/cards/"+card+"/move", tok, map[string]any{"subaccountId": b}), 200)
		after := e.expect(e.do("POST", "/v1/transactions", tok, message(card, "auth")), 201).json(t)
		if after["subaccountId"] != b {
			t.Errorf("after the move routed to %v, want %s", after["subaccountId"], b)
		}
		if old := e.expect(e.do("GET", "/v1/transactions/"+tx["id"].(string), tok, nil), 200).json(t); old["subaccountId"] != a {
			t.Errorf("earlier transaction moved to %v", old["subaccountId"])
		}
		countIn := func(sub string) int {
			return len(e.expect(e.do("GET", "/v1/subaccounts/"+sub+"/transactions?limit=100", tok, nil), 200).json(t)["items"].([]any))
		}
		if na, nb := countIn(a), countIn(b); na != 4 || nb != 1 {
			t.Errorf("A has %d, B has %d transactions; want 4 and 1", na, nb)
		}

		// Out of policy: recorded and flagged, never dropped.
		mc := e.enrol(tok, a, mcPAN, "USA")
		e.expect(e.do("PATCH", "/v1/subaccounts/"+a, tok, map[string]any{"configurations": []any{cfg([]string{"USA"}, "VISA")}}), 200)
		oop := e.expect(e.do("POST", "/v1/transactions", tok, message(mc, "auth")), 201).json(t)
		subA2 := e.expect(e.do("GET", "/v1/subaccounts/"+a, tok, nil), 200).json(t)
		if oop["policyStatus"] != "out-of-policy" || oop["subaccountId"] != a || oop["configVersion"] != subA2["configVersion"] {
			t.Errorf("out-of-policy transaction %v (config version now %v)", oop, subA2["configVersion"])
		}
		e.expect(e.do("GET", "/v1/subaccounts/"+uuid.NewString()+"/transactions", tok, nil), 404)
		e.expect(e.do("GET", "/v1/transactions/"+uuid.NewString(), tok, nil), 404)
	})
}

func TestUnroutedQueue(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})

		// Unknown PAN: kept, answered 202 with its reason, never lost.
		m1 := message(visaPAN, "auth")
		u1 := e.expect(e.do("POST", "/v1/transactions", tok, m1), 202).json(t)
		if u1["reason"] != "card-unknown" || u1["status"] != "unrouted" {
			t.Errorf("unrouted %v", u1)
		}
		// A duplicate of a queued message answers with the queued one.
		if again := e.expect(e.do("POST", "/v1/transactions", tok, m1), 202).json(t); again["id"] != u1["id"] {
			t.Errorf("duplicate of a queued message %v", again)
		}
		// Unknown card id, and a removed card.
		ghost := uuid.NewString()
		u2 := e.expect(e.do("POST", "/v1/transactions", tok, message(ghost, "auth")), 202).json(t)
		if u2["cardId"] != ghost {
			t.Errorf("unrouted by id %v", u2)
		}
		removed := e.enrol(tok, sub, visaPAN2, "USA")
		e.expect(e.do("DELETE", "/v1/cards/"+removed, tok, nil), 200)
		u3 := e.expect(e.do("POST", "/v1/transactions", tok, message(removed, "auth")), 202).json(t)
		if u3["reason"] != "card-removed" {
			t.Errorf("removed card: %v", u3)
		}
		queue := e.expect(e.do("GET", "/v1/transactions/unrouted", tok, nil), 200).json(t)["items"].([]any)
		if len(queue) != 3 {
			t.Fatalf("queue has %d, want 3", len(queue))
		}
		if routed := e.expect(e.do("GET", "/v1/transactions", tok, nil), 200).json(t)["items"].([]any); len(routed) != 0 {
			t.Errorf("unrouted messages listed as routed: %v", routed)
		}
		e.expect(e.do("GET", "/v1/transactions/"+u1["id"].(string), tok, nil), 404)

		// Retry before the card exists: still queued.
		if r := e.expect(e.do("POST", "/v1/transactions/unrouted/"+u1["id"].(string)+"/retry", tok, nil), 202).json(t); r["reason"] != "card-unknown" {
			t.Errorf("early retry %v", r)
		}
		// Enrol the card, retry: routed with the same id, once.
		card := e.enrol(tok, sub, visaPAN, "USA")
		r := e.expect(e.do("POST", "/v1/transactions/unrouted/"+u1["id"].(string)+"/retry", tok, nil), 201).json(t)
		if r["id"] != u1["id"] || r["cardId"] != card || r["subaccountId"] != sub {
			t.Errorf("retried %v", r)
		}
		e.expect(e.do("POST", "/v1/transactions/unrouted/"+u1["id"].(string)+"/retry", tok, nil), 404)
		if dup := e.expect(e.do("POST", "/v1/transactions", tok, m1), 200).json(t); dup["id"] != u1["id"] {
			t.Errorf("resent after routing: %v", dup)
		}
		// The removed card stays removed: retrying keeps it queued with its reason.
		if r := e.expect(e.do("POST", "/v1/transactions/unrouted/"+u3["id"].(string)+"/retry", tok, nil), 202).json(t); r["reason"] != "card-removed" {
			t.Errorf("retry of removed %v", r)
		}
		queue = e.expect(e.do("GET", "/v1/transactions/unrouted", tok, nil), 200).json(t)["items"].([]any)
		if len(queue) != 2 {
			t.Errorf("queue has %d after one was routed, want 2", len(queue))
		}
		e.expect(e.do("POST", "/v1/transactions/unrouted/"+uuid.NewString()+"/retry", tok, nil), 404)

		// Confined clients see neither the feed nor the queue.
		id, secret := e.newClient(acct, subaccounts.TenantScopes, sub)
		conf := e.token(id, secret, "")
		e.expect(e.do("GET", "/v1/transactions/unrouted", conf, nil), 403)
		e.expect(e.do("POST", "/v1/transactions", conf, message(card, "auth")), 403)
		if items := e.expect(e.do("GET", "/v1/transactions", conf, nil), 200).json(t)["items"].([]any); len(items) != 1 {
			t.Errorf("confined client sees %d transactions of its subaccount, want 1", len(items))
		}
	})
}

func TestTransactionValidation(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})
		card := e.enrol(tok, sub, visaPAN, "USA")
		with := func(mod func(m map[string]any)) map[string]any {
			m := message(card, "auth")
			mod(m)
			return m
		}
		tests := []struct {
			name    string
			body    map[string]any
			pointer string
		}{
			{"no network id", with(func(m map[string]any) { delete(m, "networkTransactionId") }), "/networkTransactionId"},
			{"network id too long", with(func(m map[string]any) { m["networkTransactionId"] = strings.Repeat("x", 65) }), "/networkTransactionId"},
			{"network id not ASCII", with(func(m map[string]any) { m["networkTransactionId"] = "tx-é" }), "/networkTransactionId"},
			{"unknown type", with(func(m map[string]any) { m["type"] = "capture" }), "/type"},
			{"no card", with(func(m map[string]any) { delete(m, "cardId") }), "/cardId"},
			{"both card forms", with(func(m map[string]any) { m["cardNumber"] = visaPAN }), "/cardNumber"},
			{"bad card id", with(func(m map[string]any) { m["cardId"] = "123" }), "/cardId"},
			{"bad card number", with(func(m map[string]any) { delete(m, "cardId"); m["cardNumber"] = "4111111111111112" }), "/cardNumber"},
			{"negative amount", with(func(m map[string]any) { m["amount"] = -1 }), "/amount"},
			{"fractional amount", with(func(m map[string]any) { m["amount"] = 12.5 }), "/amount"},
			{"amount as string", with(func(m map[string]any) { m["amount"] = "12" }), "/amount"},
			{"unknown currency", with(func(m map[string]any) { m["currency"] = "XYZ" }), "/currency"},
			{"lower-case currency", with(func(m map[string]any) { m["currency"] = "usd" }), "/currency"},
			{"datetime not RFC 3339", with(func(m map[string]any) { m["datetime"] = "2026-11-20 10:15" }), "/datetime"},
			{"no merchant", with(func(m map[string]any) { delete(m, "merchant") }), "/merchant"},
			{"mcc three digits", with(func(m map[string]any) { m["merchant"].(map[string]any)["mcc"] = "581" }), "/merchant/mcc"},
			{"merchant country alpha-2", with(func(m map[string]any) { m["merchant"].(map[string]any)["countryCode"] = "US" }), "/merchant/countryCode"},
			{"merchant unknown field", with(func(m map[string]any) { m["merchant"].(map[string]any)["zip"] = "1" }), "/merchant/zip"},
			{"auth code with symbols", with(func(m map[string]any) { m["authCode"] = "A-1" }), "/authCode"},
			{"cvv in message", with(func(m map[string]any) { m["cvv"] = "123" }), "/cvv"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.at(t)
				p := e.expect(e.do("POST", "/v1/transactions", tok, tt.body), 400).problem(t)
				if !slices.Contains(p.pointers(), tt.pointer) {
					t.Errorf("pointers %v, want %s", p.pointers(), tt.pointer)
				}
			})
		}
		if items := e.expect(e.do("GET", "/v1/transactions", tok, nil), 200).json(t)["items"].([]any); len(items) != 0 {
			t.Errorf("refused messages were stored: %v", items)
		}
		for _, q := range []string{"type=capture", "cardId=x", "from=yesterday", "from=2026-11-22T00:00:00Z&to=2026-11-21T00:00:00Z", "subaccountId=1"} {
			e.expect(e.do("GET", "/v1/transactions?"+q, tok, nil), 400)
		}
	})
}

func TestTransactionListing(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})
		c1 := e.enrol(tok, sub, visaPAN, "USA")
		c2 := e.enrol(tok, sub, visaPAN2, "USA")
		times := []string{"2026-11-01T00:00:00Z", "2026-11-01T00:00:00.5Z", "2026-11-01T00:00:01Z", "2026-11-02T12:00:00.25Z", "2026-11-03T00:00:00Z"}
		var ids []string
		for i, ts := range times {
			m := message(c1, "auth")
			if i%2 == 1 {
				m = message(c2, "clearing")
			}
			m["datetime"] = ts
			ids = append(ids, e.expect(e.do("POST", "/v1/transactions", tok, m), 201).json(t)["id"].(string))
		}
		list := func(q string) []string {
			var out []string
			for _, it := range e.expect(e.do("GET", "/v1/transactions?"+q, tok, nil), 200).json(t)["items"].([]any) {
				out = append(out, it.(map[string]any)["id"].(string))
			}
			return out
		}
		cases := map[string][]string{
			"":                            ids,
			"cardId=" + c2:                {ids[1], ids[3]},
			"type=auth":                   {ids[0], ids[2], ids[4]},
			"from=2026-11-01T00:00:00.5Z": ids[1:],
			"to=2026-11-01T00:00:01Z":     ids[:2],
			"from=2026-11-01T00:00:00.001Z&to=2026-11-02T12:00:00.25Z":   ids[1:3],
			"from=2026-11-01T01:00:00%2B01:00&to=2026-11-01T00:00:00.6Z": ids[:2],
		}
		for q, want := range cases {
			if got := list(q); !slices.Equal(got, want) {
				t.Errorf("%q: %v, want %v", q, got, want)
			}
		}

		// Pages stay stable while new messages arrive: nothing is skipped or repeated.
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			q := "/v1/transactions?limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			r := e.expect(e.do("GET", q, tok, nil), 200).json(t)
			for _, it := range r["items"].([]any) {
				seen = append(seen, it.(map[string]any)["id"].(string))
			}
			if page == 0 {
				// Arrives between pages.
				ids = append(ids, e.expect(e.do("POST", "/v1/transactions", tok, message(c1, "auth")), 201).json(t)["id"].(string))
			}
			next, _ := r["nextCursor"].(string)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(seen, ids) {
			t.Errorf("paged %v, want %v", seen, ids)
		}
	})
}

// TestExactlyOnceUnderConcurrentDuplicates: 50 concurrent copies of one message store one
// transaction; one answer is 201 and the other 49 are 200 with the same id.
func TestExactlyOnceUnderConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})
		card := e.enrol(tok, sub, visaPAN, "USA")
		for _, form := range []string{card, visaPAN} {
			msg := message(form, "auth")
			const n = 50
			var wg sync.WaitGroup
			statuses := make([]int, n)
			ids := make([]string, n)
			errs := make([]error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					r, err := e.send("POST", "/v1/transactions", tok, msg)
					statuses[i], errs[i] = r.Status, err
					if err == nil && r.Status < 300 {
						var m map[string]any
						if errs[i] = json.Unmarshal(r.Body, &m); errs[i] == nil {
							ids[i], _ = m["id"].(string)
						}
					}
				})
			}
			close(start)
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			created := 0
			for i, s := range statuses {
				switch s {
				case http.StatusCreated:
					created++
				case http.StatusOK:
				default:
					t.Errorf("answer %d: %d", i, s)
				}
				if ids[i] != ids[0] {
					t.Errorf("answer %d has id %s, answer 0 %s", i, ids[i], ids[0])
				}
			}
			if created != 1 {
				t.Errorf("%d answers were 201, want exactly 1", created)
			}
		}
		items := e.expect(e.do("GET", "/v1/transactions?limit=100", tok, nil), 200).json(t)["items"].([]any)
		if len(items) != 2 {
			t.Errorf("%d transactions stored, want 2", len(items))
		}
	})
}

func TestTransactionBatch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})
		card := e.enrol(tok, sub, visaPAN, "USA")
		stored := message(card, "auth")
		e.expect(e.do("POST", "/v1/transactions", tok, stored), 201)
		bad := message(card, "auth")
		bad["currency"] = "EURO"
		fresh := message(card, "clearing")
		msgs := []any{
			fresh,                      // 0 routed
			stored,                     // 1 duplicate of a stored one
			message(visaPAN3, "auth"),  // 2 unknown card → unrouted
			bad,                        // 3 invalid
			fresh,                      // 4 repeats item 0
			message(visaPAN, "refund"), // 5 routed by PAN
		}
		r := e.expect(e.do("POST", "/v1/transactions/batch", tok, map[string]any{"messages": msgs}), 200)
		var res struct {
			Results []struct {
				Index       int            `json:"index"`
				Status      int            `json:"status"`
				Transaction map[string]any `json:"transaction"`
				Unrouted    map[string]any `json:"unrouted"`
				Problem     map[string]any `json:"problem"`
			} `json:"results"`
			Summary struct{ Routed, Duplicates, Unrouted, Rejected int } `json:"summary"`
		}
		r.decode(t, &res)
		want := []int{201, 200, 202, 400, 200, 201}
		for i, w := range want {
			if res.Results[i].Status != w {
				t.Errorf("item %d: %d, want %d", i, res.Results[i].Status, w)
			}
		}
		if res.Results[4].Transaction["id"] != res.Results[0].Transaction["id"] {
			t.Errorf("repeat inside the batch got another id")
		}
		if res.Summary.Routed != 2 || res.Summary.Duplicates != 2 || res.Summary.Unrouted != 1 || res.Summary.Rejected != 1 {
			t.Errorf("summary %+v", res.Summary)
		}
		if ptr := res.Results[3].Problem["errors"].([]any)[0].(map[string]any)["pointer"]; ptr != "/messages/3/currency" {
			t.Errorf("pointer %v", ptr)
		}
		items := e.expect(e.do("GET", "/v1/transactions?limit=100", tok, nil), 200).json(t)["items"].([]any)
		if len(items) != 3 {
			t.Errorf("%d routed transactions, want 3", len(items))
		}
		e.expect(e.do("POST", "/v1/transactions/batch", tok, map[string]any{"messages": []any{}}), 400)
		many := make([]any, routing.MaxMessageBatch+1)
		for i := range many {
			many[i] = message(card, "auth")
		}
		e.expect(e.do("POST", "/v1/transactions/batch", tok, map[string]any{"messages": many}), 400)
		full := e.expect(e.do("POST", "/v1/transactions/batch", tok, map[string]any{"messages": many[:routing.MaxMessageBatch]}), 200)
		var fr struct{ Summary struct{ Routed int } }
		full.decode(t, &fr)
		if fr.Summary.Routed != routing.MaxMessageBatch {
			t.Errorf("full batch routed %d", fr.Summary.Routed)
		}
	})
}
