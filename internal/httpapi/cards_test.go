package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestEnrolmentDecisionTable covers every reason an enrolment is refused, and that a
// refused enrolment keeps nothing.
func TestEnrolmentDecisionTable(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		// USA on VISA only.
		sub := e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA")})
		suspended := e.newSubaccount(tok, "Frozen", []any{cfg([]string{"USA"}, "VISA")})
		e.expect(e.do("PATCH", "/v1/subaccounts/"+suspended, tok, map[string]any{"suspended": true}), 200)
		existing := e.enrol(tok, sub, visaPAN2, "USA")
		past := time.Now().AddDate(0, -1, 0)

		with := func(mod func(m map[string]any)) map[string]any {
			m := cardBody(visaPAN, "USA")
			mod(m)
			return m
		}
		tests := []struct {
			name    string
			sub     string
			body    any
			status  int
			typ     string
			pointer string
		}{
			{"missing number", sub, with(func(m map[string]any) { delete(m, "number") }), 400, "validation", "/number"},
			{"number with letters", sub, with(func(m map[string]any) { m["number"] = "4111x11111111111" }), 400, "validation", "/number"},
			{"number with spaces", sub, with(func(m map[string]any) { m["number"] = "4111 1111 1111 1111" }), 400, "validation", "/number"},
			{"number too short", sub, with(func(m map[string]any) { m["number"] = luhnPAN("4", 1, 12) }), 400, "validation", "/number"},
			{"number too long", sub, with(func(m map[string]any) { m["number"] = luhnPAN("4", 1, 20) }), 400, "validation", "/number"},
			{"Luhn fails", sub, with(func(m map[string]any) { m["number"] = "4111111111111112" }), 400, "validation", "/number"},
			{"not VISA or MASTERCARD", sub, with(func(m map[string]any) { m["number"] = "378282246310005" }), 400, "validation", "/number"},
			{"number as JSON number", sub, with(func(m map[string]any) { m["number"] = 4111111111111111 }), 400, "validation", "/number"},
			{"month 13", sub, with(func(m map[string]any) { m["expMonth"] = 13 }), 400, "validation", "/expMonth"},
			{"month missing", sub, with(func(m map[string]any) { delete(m, "expMonth") }), 400, "validation", "/expMonth"},
			{"two-digit year", sub, with(func(m map[string]any) { m["expYear"] = 29 }), 400, "validation", "/expYear"},
			{"expired", sub, with(func(m map[string]any) { m["expMonth"], m["expYear"] = int(past.Month()), past.Year() }), 400, "validation", "/expYear"},
			{"country lower case", sub, with(func(m map[string]any) { m["countryCode"] = "usa" }), 400, "validation", "/countryCode"},
			{"country alpha-2", sub, with(func(m map[string]any) { m["countryCode"] = "US" }), 400, "validation", "/countryCode"},
			{"country missing", sub, with(func(m map[string]any) { delete(m, "countryCode") }), 400, "validation", "/countryCode"},
			{"terms refused", sub, with(func(m map[string]any) { m["termsOfUse"] = false }), 400, "validation", "/termsOfUse"},
			{"terms missing", sub, with(func(m map[string]any) { delete(m, "termsOfUse") }), 400, "validation", "/termsOfUse"},
			{"cvv sent", sub, with(func(m map[string]any) { m["cvv"] = "123" }), 400, "validation", "/cvv"},
			{"CVC2 sent", sub, with(func(m map[string]any) { m["CVC2"] = "123" }), 400, "validation", "/CVC2"},
			{"security code sent", sub, with(func(m map[string]any) { m["securityCode"] = "123" }), 400, "validation", "/securityCode"},
			{"track data sent", sub, with(func(m map[string]any) { m["track2"] = ";4111111111111111=2912?" }), 400, "validation", "/track2"},
			{"pin sent", sub, with(func(m map[string]any) { m["pin"] = "1234" }), 400, "validation", "/pin"},
			{"pin block sent", sub, with(func(m map[string]any) { m["pinBlock"] = "0412AC89ABCDEF67" }), 400, "validation", "/pinBlock"},
			{"bad metadata", sub, with(func(m map[string]any) { m["metadata"] = map[string]string{"": "x"} }), 400, "validation", "/metadata/"},
			{"country outside configuration", sub, cardBody(visaPAN, "CAN"), 422, "policy-violation", ""},
			{"network outside configuration", sub, cardBody(mcPAN, "USA"), 422, "policy-violation", ""},
			{"suspended subaccount", suspended, cardBody(visaPAN, "USA"), 409, "subaccount-suspended", ""},
			{"already enrolled", sub, cardBody(visaPAN2, "USA"), 409, "card-exists", ""},
			{"unknown subaccount", uuid.NewString(), cardBody(visaPAN, "USA"), 404, "not-found", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.at(t)
				p := e.expect(e.do("POST", "/v1/subaccounts/"+tt.sub+"/cards", tok, tt.body), tt.status).problem(t)
				if p.Type != "/problems/"+tt.typ {
					t.Fatalf("type %q, want %s: %+v", p.Type, tt.typ, p)
				}
				if tt.pointer != "" && !slices.Contains(p.pointers(), tt.pointer) {
					t.Errorf("pointers %v, want %s", p.pointers(), tt.pointer)
				}
			})
		}
		t.Run("policy violation names the pair and what is permitted", func(t *testing.T) {
			e := e.at(t)
			m := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards", tok, cardBody(mcPAN, "USA")), 422).json(t)
			if fmt.Sprint(m["pair"]) != "map[country:USA network:MASTERCARD]" {
				t.Errorf("pair %v", m["pair"])
			}
			if fmt.Sprint(m["permitted"]) != "[map[countries:[USA] networks:[VISA]]]" {
				t.Errorf("permitted %v", m["permitted"])
			}
		})
		t.Run("duplicate names the existing card", func(t *testing.T) {
			e := e.at(t)
			m := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards", tok, cardBody(visaPAN2, "USA")), 409).json(t)
			if m["cardId"] != existing {
				t.Errorf("cardId %v, want %s", m["cardId"], existing)
			}
		})
		list := e.expect(e.do("GET", "/v1/cards?limit=100", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != existing {
			t.Errorf("refused enrolments kept something: %v", list)
		}
	})
}

func TestCardLifecycle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		a := e.newSubaccount(tok, "A", []any{cfg([]string{"USA", "CAN"}, "VISA", "MASTERCARD")})
		b := e.newSubaccount(tok, "B", []any{cfg([]string{"USA"}, "VISA")})

		r := e.expect(e.do("POST", "/v1/subaccounts/"+a+"/cards", tok, map[string]any{
			"number": mcPAN, "expMonth": 3, "expYear": nextYear(), "countryCode": "CAN", "termsOfUse": true,
			"metadata": map[string]string{"holder": "ops"},
		}), 201)
		card := r.json(t)
		id := card["id"].(string)
		if r.Header.Get("Location") != "/v1/cards/"+id {
			t.Errorf("Location %q", r.Header.Get("Location"))
		}
		want := map[string]any{
			"accountId": acct, "subaccountId": a, "network": "MASTERCARD", "countryCode": "CAN",
			"firstNumbers": "555555", "lastNumbers": "4444", "expMonth": float64(3), "expYear": float64(nextYear()),
			"status": "active", "policyStatus": "in-policy",
		}
		for k, v := range want {
			if card[k] != v {
				t.Errorf("%s = %v, want %v", k, card[k], v)
			}
		}
		for _, k := range []string{"number", "fingerprint", "fingerprintKeyVersion"} {
			if _, ok := card[k]; ok {
				t.Errorf("card exposes %s", k)
			}
		}
		got := e.expect(e.do("GET", "/v1/cards/"+id, tok, nil), 200).json(t)
		if fmt.Sprint(got) != fmt.Sprint(card) {
			t.Errorf("GET %v\nPOST %v", got, card)
		}

		// Move: refused where the destination does not permit the pair, allowed where it does.
		p := e.expect(e.do("POST", "/v1/cards/"+id+"/move", tok, map[string]any{"subaccountId": b}), 422).problem(t)
		if p.Type != "/problems/policy-violation" {
			t.Errorf("move outside configuration: %+v", p)
		}
		e.expect(e.do("POST", "/v1/cards/"+id+"/move", tok, map[string]any{"subaccountId": uuid.NewString()}), 404)
		e.expect(e.do("POST", "/v1/cards/"+id+"/move", tok, map[string]any{"subaccountId": "nope"}), 400)
		e.expect(e.do("POST", "/v1/cards/"+id+"/move", tok, map[string]any{}), 400)
		visa := e.enrol(tok, a, visaPAN, "USA")
		moved := e.expect(e.do("POST", "/v1/cards/"+visa+"/move", tok, map[string]any{"subaccountId": b}), 200).json(t)
		if moved["subaccountId"] != b || moved["policyStatus"] != "in-policy" {
			t.Errorf("moved %v", moved)
		}
		same := e.expect(e.do("POST", "/v1/cards/"+visa+"/move", tok, map[string]any{"subaccountId": b}), 200).json(t)
		if same["updatedAt"] != moved["updatedAt"] {
			t.Errorf("a move to where it is changed the card: %v", same)
		}
		// A suspended destination refuses moves.
		c := e.newSubaccount(tok, "C", []any{cfg([]string{"USA"}, "VISA")})
		e.expect(e.do("PATCH", "/v1/subaccounts/"+c, tok, map[string]any{"suspended": true}), 200)
		if p := e.expect(e.do("POST", "/v1/cards/"+visa+"/move", tok, map[string]any{"subaccountId": c}), 409).problem(t); p.Type != "/problems/subaccount-suspended" {
			t.Errorf("move into suspended: %+v", p)
		}

		// Filters.
		cases := map[string][]string{
			"subaccountId=" + a:          {id},
			"subaccountId=" + b:          {visa},
			"network=VISA":               {visa},
			"countryCode=CAN":            {id},
			"status=active":              {id, visa},
			"policyStatus=out-of-policy": {},
		}
		for q, ids := range cases {
			items := e.expect(e.do("GET", "/v1/cards?"+q, tok, nil), 200).json(t)["items"].([]any)
			var got []string
			for _, it := range items {
				got = append(got, it.(map[string]any)["id"].(string))
			}
			slices.Sort(got)
			slices.Sort(ids)
			if !slices.Equal(got, ids) {
				t.Errorf("%s: %v, want %v", q, got, ids)
			}
		}
		for _, q := range []string{"network=AMEX", "countryCode=us", "status=gone", "policyStatus=maybe", "subaccountId=x", "limit=0"} {
			e.expect(e.do("GET", "/v1/cards?"+q, tok, nil), 400)
		}

		// A subaccount with active cards cannot be deleted.
		if p := e.expect(e.do("DELETE", "/v1/subaccounts/"+b, tok, nil), 409).problem(t); !strings.Contains(p.Detail, "1 active card") {
			t.Errorf("delete with cards: %+v", p)
		}

		// Remove: history stays, the card shows removed, a second remove answers the same.
		removed := e.expect(e.do("DELETE", "/v1/cards/"+visa, tok, nil), 200).json(t)
		if removed["status"] != "removed" {
			t.Errorf("removed %v", removed)
		}
		again := e.expect(e.do("DELETE", "/v1/cards/"+visa, tok, nil), 200).json(t)
		if fmt.Sprint(again) != fmt.Sprint(removed) {
			t.Errorf("second remove %v", again)
		}
		if p := e.expect(e.do("POST", "/v1/cards/"+visa+"/move", tok, map[string]any{"subaccountId": a}), 409).problem(t); p.Type != "/problems/conflict" {
			t.Errorf("moving a removed card: %+v", p)
		}
		e.expect(e.do("DELETE", "/v1/subaccounts/"+b, tok, nil), 204)
		// The same PAN may be enrolled again once removed; it is a new card.
		again2 := e.enrol(tok, a, visaPAN, "USA")
		if again2 == visa {
			t.Error("re-enrolment reused the removed card's id")
		}
		e.expect(e.do("GET", "/v1/cards/"+uuid.NewString(), tok, nil), 404)
		e.expect(e.do("GET", "/v1/cards/not-a-uuid", tok, nil), 400)
	})
}

func TestCardBatch(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA")})
		before := e.enrol(tok, sub, visaPAN2, "USA")

		bad := cardBody(visaPAN3, "USA")
		bad["expMonth"] = 0
		items := []any{
			cardBody(visaPAN, "USA"),             // 0 enrolled
			cardBody(mcPAN, "USA"),               // 1 outside configuration
			cardBody(visaPAN2, "USA"),            // 2 enrolled before
			cardBody(visaPAN, "USA"),             // 3 repeats item 0
			bad,                                  // 4 invalid
			cardBody(luhnPAN("4", 7, 16), "USA"), // 5 enrolled
		}
		r := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": items}), 200)
		var res struct {
			Results []struct {
				Index   int            `json:"index"`
				Status  int            `json:"status"`
				Card    map[string]any `json:"card"`
				Problem map[string]any `json:"problem"`
			} `json:"results"`
			Summary struct{ Enrolled, Failed int } `json:"summary"`
		}
		r.decode(t, &res)
		wantStatus := []int{201, 422, 409, 409, 400, 201}
		for i, w := range wantStatus {
			if res.Results[i].Index != i || res.Results[i].Status != w {
				t.Errorf("item %d: %d, want %d (%v)", i, res.Results[i].Status, w, res.Results[i].Problem)
			}
		}
		if res.Results[2].Problem["cardId"] != before {
			t.Errorf("item 2 names %v, want %s", res.Results[2].Problem["cardId"], before)
		}
		if first := res.Results[0].Card["id"]; res.Results[3].Problem["cardId"] != first {
			t.Errorf("item 3 names %v, want item 0's card %v", res.Results[3].Problem["cardId"], first)
		}
		if ptr := res.Results[4].Problem["errors"].([]any)[0].(map[string]any)["pointer"]; ptr != "/cards/4/expMonth" {
			t.Errorf("item 4 pointer %v", ptr)
		}
		if res.Summary.Enrolled != 2 || res.Summary.Failed != 4 {
			t.Errorf("summary %+v", res.Summary)
		}
		list := e.expect(e.do("GET", "/v1/cards?limit=100", tok, nil), 200).json(t)["items"].([]any)
		if len(list) != 3 {
			t.Errorf("%d cards after the batch, want 3", len(list))
		}

		// Envelope errors refuse the whole batch.
		e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": []any{}}), 400)
		many := make([]any, cards.MaxCardBatch+1)
		for i := range many {
			many[i] = cardBody(luhnPAN("4", 1000+i, 16), "USA")
		}
		e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": many}), 400)
		e.expect(e.do("POST", "/v1/subaccounts/"+uuid.NewString()+"/cards/batch", tok, map[string]any{"cards": items[:1]}), 404)
		e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{"suspended": true}), 200)
		if p := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": items[5:]}), 409).problem(t); p.Type != "/problems/subaccount-suspended" {
			t.Errorf("batch into suspended: %+v", p)
		}
		// A full batch of 500 goes through in one request.
		e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{"suspended": false}), 200)
		full := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards/batch", tok, map[string]any{"cards": many[:cards.MaxCardBatch]}), 200)
		var fr struct {
			Summary struct{ Enrolled, Failed int }
		}
		full.decode(t, &fr)
		if fr.Summary.Enrolled != cards.MaxCardBatch {
			t.Errorf("full batch %+v", fr.Summary)
		}
	})
}

// TestConfinedCards: a client confined to one subaccount enrols, lists and moves only there.
func TestConfinedCards(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		mine := e.newSubaccount(tok, "Mine", []any{cfg([]string{"USA"}, "VISA")})
		other := e.newSubaccount(tok, "Other", []any{cfg([]string{"USA"}, "VISA")})
		id, secret := e.newClient(acct, subaccounts.TenantScopes, mine)
		conf := e.token(id, secret, "")

		own := e.enrol(conf, mine, visaPAN, "USA")
		theirs := e.enrol(tok, other, visaPAN2, "USA")
		e.expect(e.do("POST", "/v1/subaccounts/"+other+"/cards", conf, cardBody(mcPAN, "USA")), 404)
		e.expect(e.do("GET", "/v1/cards/"+theirs, conf, nil), 404)
		e.expect(e.do("DELETE", "/v1/cards/"+theirs, conf, nil), 404)
		e.expect(e.do("POST", "/v1/cards/"+theirs+"/move", conf, map[string]any{"subaccountId": mine}), 404)
		e.expect(e.do("POST", "/v1/cards/"+own+"/move", conf, map[string]any{"subaccountId": other}), 404)
		for _, q := range []string{"", "?subaccountId=" + other} {
			body := string(e.expect(e.do("GET", "/v1/cards"+q, conf, nil), 200).Body)
			if strings.Contains(body, theirs) {
				t.Errorf("confined list %q shows another subaccount's card", q)
			}
		}
		if items := e.expect(e.do("GET", "/v1/cards", conf, nil), 200).json(t)["items"].([]any); len(items) != 1 {
			t.Errorf("confined list has %d cards, want 1", len(items))
		}
		// Its own card is untouched by the refused move.
		if c := e.expect(e.do("GET", "/v1/cards/"+own, tok, nil), 200).json(t); c["subaccountId"] != mine {
			t.Errorf("refused move changed the card: %v", c)
		}
	})
}
