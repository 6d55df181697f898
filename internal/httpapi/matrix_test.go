package httpapi_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// tenantRoute is one tenant route with the scope it needs and a valid body.
type tenantRoute struct {
	method, path string // {sub} is replaced by a subaccount id
	scope        string
	body         any
}

// tenantCases are how the matrices exercise each tenant route (two cases for a route
// whose query changes what it does); the routes themselves come from the router (see
// tenantRoutes), so a route no case covers fails the test.
func tenantCases() []tenantRoute {
	r, w := subaccounts.ScopeSubaccountsRead, subaccounts.ScopeSubaccountsWrite
	cr, cw := subaccounts.ScopeCardsRead, subaccounts.ScopeCardsWrite
	tr, tw := subaccounts.ScopeTransactionsRead, subaccounts.ScopeTransactionsWrite
	lr, lw := subaccounts.ScopeLedgerRead, subaccounts.ScopeLedgerWrite
	hr, hw := subaccounts.ScopeWebhooksRead, subaccounts.ScopeWebhooksWrite
	transfer := map[string]any{"from": "{acct}", "to": "{sub}", "amount": 1, "reference": "matrix"}
	return []tenantRoute{
		{"GET", "/v1/account", r, nil},
		{"POST", "/v1/subaccounts", w, map[string]any{"name": "New one"}},
		{"GET", "/v1/subaccounts", r, nil},
		{"GET", "/v1/subaccounts/{sub}", r, nil},
		{"PATCH", "/v1/subaccounts/{sub}", w, map[string]any{"name": "Renamed"}},
		{"DELETE", "/v1/subaccounts/{sub}", w, nil},
		{"DELETE", "/v1/subaccounts/{sub}?cascade=true", w, nil},
		{"GET", "/v1/subaccounts/{sub}/entitlements?country=USA&network=VISA", r, nil},
		{"POST", "/v1/subaccounts/{sub}/cards", cw, cardBody(mc2PAN, "USA")},
		{"POST", "/v1/subaccounts/{sub}/cards/batch", cw, map[string]any{"cards": []any{cardBody(mc2PAN, "USA")}}},
		{"GET", "/v1/cards", cr, nil},
		{"GET", "/v1/cards/{card}", cr, nil},
		{"DELETE", "/v1/cards/{card}", cw, nil},
		{"POST", "/v1/cards/{card}/move", cw, map[string]any{"subaccountId": "{sub}"}},
		{"POST", "/v1/transactions", tw, message(mc2PAN, "auth")},
		{"POST", "/v1/transactions/batch", tw, map[string]any{"messages": []any{message(mc2PAN, "auth")}}},
		{"GET", "/v1/transactions", tr, nil},
		{"GET", "/v1/transactions/{txn}", tr, nil},
		{"GET", "/v1/subaccounts/{sub}/transactions", tr, nil},
		{"GET", "/v1/transactions/unrouted", tr, nil},
		{"POST", "/v1/transactions/unrouted/{unrouted}/retry", tw, nil},
		{"GET", "/v1/compliance", subaccounts.ScopeComplianceRead, nil},
		{"POST", "/v1/credit-transfers", lw, transfer},
		{"GET", "/v1/credit-transfers", lr, nil},
		{"POST", "/v1/balance-transfers", lw, transfer},
		{"GET", "/v1/balance-transfers", lr, nil},
		{"GET", "/v1/subaccounts/{sub}/usage", lr, nil},
		{"GET", "/v1/usage", lr, nil},
		{"POST", "/v1/webhook-endpoints", hw, map[string]any{"url": "https://hooks.example.com/matrix", "eventTypes": []string{"*"}}},
		{"GET", "/v1/webhook-endpoints", hr, nil},
		{"GET", "/v1/webhook-endpoints/{hook}", hr, nil},
		{"PATCH", "/v1/webhook-endpoints/{hook}", hw, map[string]any{"description": "changed"}},
		{"DELETE", "/v1/webhook-endpoints/{hook}", hw, nil},
		{"POST", "/v1/webhook-endpoints/{hook}/rotate-secret", hw, nil},
		{"POST", "/v1/webhook-endpoints/{hook}/test", hw, nil},
		{"GET", "/v1/webhook-endpoints/{hook}/deliveries", hr, nil},
		{"POST", "/v1/webhook-endpoints/{hook}/deliveries/{delivery}/resend", hw, nil},
		{"POST", "/v1/webhook-endpoints/{hook}/recover", hw, map[string]any{"since": "2020-01-01T00:00:00Z"}},
		{"GET", "/v1/audit-events", subaccounts.ScopeAuditRead, nil},
		{"GET", "/v1/audit-events/verify", subaccounts.ScopeAuditRead, nil},
	}
}

// ids are the resources a route's placeholders stand for.
type ids struct{ acct, sub, card, txn, unrouted, hook, delivery string }

func (i ids) fill(s string) string {
	return strings.NewReplacer("{acct}", i.acct, "{sub}", i.sub, "{card}", i.card, "{txn}", i.txn, "{unrouted}", i.unrouted, "{hook}", i.hook, "{delivery}", i.delivery).Replace(s)
}

// fillBody replaces placeholders in a body's top-level string values.
func (i ids) fillBody(body any) any {
	m, ok := body.(map[string]any)
	if !ok {
		return body
	}
	out := map[string]any{}
	for k, v := range m {
		if s, ok := v.(string); ok {
			v = i.fill(s)
		}
		out[k] = v
	}
	return out
}

// newResources creates a subaccount with a card, a routed transaction and an unrouted one.
func (e *env) newResources(token, name string) ids {
	e.t.Helper()
	var r ids
	r.acct = e.expect(e.do("GET", "/v1/account", token, nil), 200).json(e.t)["id"].(string)
	r.sub = e.newSubaccount(token, name, []any{cfg([]string{"USA"}, "VISA")})
	r.card = e.enrol(token, r.sub, luhnPAN("4", int(msgSeq.Add(1)), 16), "USA")
	r.txn = e.expect(e.do("POST", "/v1/transactions", token, message(r.card, "auth")), 201).json(e.t)["id"].(string)
	r.unrouted = e.expect(e.do("POST", "/v1/transactions", token, message(uuid.NewString(), "auth")), 202).json(e.t)["id"].(string)
	r.hook = e.expect(e.do("POST", "/v1/webhook-endpoints", token, map[string]any{
		"url": "https://hooks.example.com/" + r.sub, "subaccountId": r.sub, "eventTypes": []string{"card.enrolled"},
	}), 201).json(e.t)["id"].(string)
	r.delivery = e.expect(e.do("POST", "/v1/webhook-endpoints/"+r.hook+"/test", token, nil), 202).json(e.t)["id"].(string)
	return r
}

// operatorCases are the accounts:admin routes' cases; {acct} is an account id.
func operatorCases() []tenantRoute {
	a := subaccounts.ScopeAccountsAdmin
	return []tenantRoute{
		{"POST", "/v1/accounts", a, map[string]any{"name": "X", "contract": usaCanContract(1)}},
		{"GET", "/v1/accounts", a, nil},
		{"GET", "/v1/accounts/{acct}", a, nil},
		{"PATCH", "/v1/accounts/{acct}", a, map[string]any{"name": "Y"}},
		{"PUT", "/v1/accounts/{acct}/contract", a, usaCanContract(3)},
		{"POST", "/v1/accounts/{acct}/top-ups", a, map[string]any{"amount": 1, "reference": "matrix"}},
		{"POST", "/v1/accounts/{acct}/clients", a, map[string]any{"name": "c", "scopes": []string{"subaccounts:read"}}},
		{"GET", "/v1/accounts/{acct}/clients", a, nil},
		{"PATCH", "/v1/accounts/{acct}/clients/some-client", a, map[string]any{"rateLimit": 10}},
		{"DELETE", "/v1/accounts/{acct}/clients/some-client", a, nil},
		{"GET", "/v1/accounts/{acct}/compliance", a, nil},
	}
}

// publicRoute is a route outside the bearer-token API and what a request carrying no
// token gets from it.
type publicRoute struct {
	method, path string
	want         int
}

// publicCases are the routes served without a bearer token: probes, the spec, and the
// issuer's discovery, keys and token endpoint (which authenticates clients itself, and
// refuses a request that is not a form before looking for credentials). They are listed
// so that a route mounted outside /v1 is classified too, never skipped by the matrices.
func publicCases() []publicRoute {
	return []publicRoute{
		{"GET", "/healthz", 200},
		{"GET", "/readyz", 200},
		{"GET", "/openapi.yaml", 200},
		{"GET", "/.well-known/openid-configuration", 200},
		{"GET", "/.well-known/oauth-authorization-server", 200},
		{"GET", "/oauth2/jwks.json", 200},
		{"POST", "/oauth2/token", 400},
	}
}

// template turns a case's path into the route template gin lists it under.
func (rt tenantRoute) template() string {
	path, _, _ := strings.Cut(rt.path, "?")
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		param, ok := map[string]string{"{acct}": ":accountId", "{sub}": ":subaccountId", "{card}": ":cardId", "{txn}": ":transactionId", "{unrouted}": ":transactionId", "{hook}": ":webhookEndpointId", "{delivery}": ":deliveryId", "some-client": ":clientId"}[seg]
		if ok {
			segs[i] = param
		}
	}
	return rt.method + " " + strings.Join(segs, "/")
}

// routeCases are the cases of every route the router serves, by kind of route.
type routeCases struct {
	tenant, operator []tenantRoute
	public           []publicRoute
}

// matrixRoutes returns the cases of every route the router serves, split into tenant,
// operator and public routes. A route of the router no case covers fails the test, and
// so does a case for a route the router does not serve: the router, not this file, says
// which routes exist.
func matrixRoutes(t *testing.T, e *env) routeCases {
	t.Helper()
	byRoute := func(cases []tenantRoute) map[string][]tenantRoute {
		m := map[string][]tenantRoute{}
		for _, c := range cases {
			m[c.template()] = append(m[c.template()], c)
		}
		return m
	}
	tc, oc := byRoute(tenantCases()), byRoute(operatorCases())
	pc := map[string]publicRoute{}
	for _, c := range publicCases() {
		pc[c.method+" "+c.path] = c
	}
	var out routeCases
	served := map[string]bool{}
	for _, r := range e.handler.(*gin.Engine).Routes() {
		route := r.Method + " " + r.Path
		served[route] = true
		p, public := pc[route]
		switch {
		case tc[route] != nil:
			out.tenant = append(out.tenant, tc[route]...)
		case oc[route] != nil:
			out.operator = append(out.operator, oc[route]...)
		case public:
			out.public = append(out.public, p)
		default:
			t.Errorf("the router serves %s but no scope matrix case covers it", route)
		}
	}
	routes := slices.Concat(slices.Collect(maps.Keys(tc)), slices.Collect(maps.Keys(oc)), slices.Collect(maps.Keys(pc)))
	for _, route := range routes {
		if !served[route] {
			t.Errorf("a scope matrix case covers %s, which the router does not serve", route)
		}
	}
	return out
}

// tenantRoutes are the cases of every tenant route the router serves.
func tenantRoutes(t *testing.T, e *env) []tenantRoute {
	t.Helper()
	return matrixRoutes(t, e).tenant
}

// operatorRoutes are the cases of every operator route the router serves.
func operatorRoutes(t *testing.T, e *env) []tenantRoute {
	t.Helper()
	return matrixRoutes(t, e).operator
}

// TestScopeMatrix: every route × a token lacking exactly its scope → 403 naming it, and
// nothing changes.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		full := e.tenantToken(acct)
		res := e.newResources(full, "Target")
		sub := res.sub
		tokens := map[string]string{}
		for _, s := range allTenantScopes {
			var others []string
			for _, o := range allTenantScopes {
				if o != s {
					others = append(others, o)
				}
			}
			tokens[s] = e.tenantToken(acct, others...)
		}
		routes := matrixRoutes(t, e)
		for _, rt := range routes.tenant {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				r := e.expect(e.do(rt.method, res.fill(rt.path), tokens[rt.scope], res.fillBody(rt.body)), 403)
				p := r.problem(t)
				if p.Type != "/problems/insufficient-scope" || p.Scope != rt.scope {
					t.Errorf("problem %+v", p)
				}
				want := `Bearer error="insufficient_scope", scope="` + rt.scope + `"`
				if got := r.Header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate %q, want %q", got, want)
				}
			})
		}
		// A tenant token with every tenant scope still lacks accounts:admin.
		for _, rt := range routes.operator {
			t.Run("tenant on "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				path := strings.ReplaceAll(rt.path, "{acct}", acct)
				p := e.expect(e.do(rt.method, path, full, rt.body), 403).problem(t)
				if p.Type != "/problems/insufficient-scope" || p.Scope != rt.scope {
					t.Errorf("problem %+v", p)
				}
			})
		}
		// The operator token has no account claim, so tenant routes refuse it.
		for _, rt := range routes.tenant {
			t.Run("operator on "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				e.expect(e.do(rt.method, res.fill(rt.path), e.opToken, res.fillBody(rt.body)), 401)
			})
		}
		// Public routes answer a request carrying no token themselves: no bearer challenge.
		for _, rt := range routes.public {
			t.Run("no token on "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				r := e.expect(e.do(rt.method, rt.path, "", nil), rt.want)
				if got := r.Header.Get("WWW-Authenticate"); strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate %q on a public route", got)
				}
			})
		}
		s := e.expect(e.do("GET", "/v1/subaccounts/"+sub, full, nil), 200).json(t)
		if s["name"] != "Target" {
			t.Errorf("refused requests changed the subaccount: %v", s)
		}
		list := e.expect(e.do("GET", "/v1/subaccounts", full, nil), 200).json(t)
		if n := len(list["items"].([]any)); n != 1 {
			t.Errorf("%d subaccounts after refused creates, want 1", n)
		}
		cards := e.expect(e.do("GET", "/v1/cards", full, nil), 200).json(t)["items"].([]any)
		if len(cards) != 1 || cards[0].(map[string]any)["status"] != "active" {
			t.Errorf("refused requests changed the cards: %v", cards)
		}
		txns := e.expect(e.do("GET", "/v1/transactions", full, nil), 200).json(t)["items"].([]any)
		queue := e.expect(e.do("GET", "/v1/transactions/unrouted", full, nil), 200).json(t)["items"].([]any)
		if len(txns) != 1 || len(queue) != 1 {
			t.Errorf("refused requests changed the transactions: %d routed, %d unrouted", len(txns), len(queue))
		}
		if c, b := e.transfers(full, "credit", ""), e.transfers(full, "balance", ""); len(c)+len(b) != 0 {
			t.Errorf("refused requests moved money: %+v %+v", c, b)
		}
		if a := e.account(acct); a.money() != "balance 0, limit 0, allocated 0, available 0, over false" {
			t.Errorf("refused requests changed the account: %s", a.money())
		}
	})
}

// TestCrossTenantMatrix: another account's ids are 404 wherever they appear, with the same
// answer as an id that exists nowhere, and nothing of the other account changes.
func TestCrossTenantMatrix(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		a := e.newAccount("Tenant A", usaCanContract(10))
		b := e.newAccount("Tenant B", usaCanContract(10))
		tokA, tokB := e.tenantToken(a), e.tenantToken(b)
		clientB, _ := e.newClient(b, []string{subaccounts.ScopeSubaccountsRead}, "")
		resA := e.newResources(tokA, "A's shop")
		resB := e.newResources(tokB, "B's shop")
		subB := resB.sub
		unknown := ids{acct: uuid.NewString(), sub: uuid.NewString(), card: uuid.NewString(), txn: uuid.NewString(), unrouted: uuid.NewString(), hook: uuid.NewString(), delivery: uuid.NewString()}
		// Both tenants move money, so each has transfers the other must never see.
		var ownA, ownB string
		var moved []string
		for _, side := range []struct {
			acct, tok string
			own       *string
		}{{a, tokA, &ownA}, {b, tokB, &ownB}} {
			e.setCreditLimit(side.acct, 1000)
			e.topUp(side.acct, 1000)
			*side.own = e.ownSubaccount(side.tok, "Own", nil)
			moved = append(moved,
				e.moveMoney(side.tok, "credit", side.acct, *side.own, 100).ID,
				e.moveMoney(side.tok, "balance", side.acct, *side.own, 200).ID)
		}
		movedB := moved[2:]

		for _, rt := range tenantRoutes(t, e) {
			if !strings.Contains(rt.path, "{") {
				continue
			}
			t.Run("path "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				// The body's own ids are A's, so only the path differs.
				body := resA.fillBody(rt.body)
				other := e.expect(e.do(rt.method, resB.fill(rt.path), tokA, body), 404).problem(t)
				none := e.expect(e.do(rt.method, unknown.fill(rt.path), tokA, body), 404).problem(t)
				if other.Type != none.Type || other.Detail != none.Detail || other.Title != none.Title {
					t.Errorf("another tenant's id answers %+v, an unknown id %+v", other, none)
				}
			})
		}
		t.Run("list", func(t *testing.T) {
			e := e.at(t)
			list := e.expect(e.do("GET", "/v1/subaccounts?limit=100", tokA, nil), 200)
			if strings.Contains(string(list.Body), subB) || strings.Contains(string(list.Body), b) {
				t.Errorf("A's list shows B: %s", list.Body)
			}
		})
		t.Run("query cursor", func(t *testing.T) {
			e := e.at(t)
			// A cursor made from B's id only positions A's list; it reveals nothing of B.
			list := e.expect(e.do("GET", "/v1/subaccounts?cursor="+cursorOf(t, subB), tokA, nil), 200)
			if strings.Contains(string(list.Body), subB) {
				t.Errorf("A's list shows B: %s", list.Body)
			}
		})
		t.Run("lists", func(t *testing.T) {
			e := e.at(t)
			for _, path := range []string{"/v1/cards?limit=100", "/v1/cards?subaccountId=" + subB, "/v1/transactions?limit=100",
				"/v1/transactions?subaccountId=" + subB, "/v1/transactions?cardId=" + resB.card, "/v1/transactions/unrouted?limit=100", "/v1/compliance",
				"/v1/audit-events?limit=100", "/v1/audit-events?resourceType=client&resourceId=" + clientB, "/v1/audit-events/verify",
				"/v1/credit-transfers?limit=100", "/v1/balance-transfers?limit=100", "/v1/credit-transfers?subaccountId=" + ownB,
				"/v1/balance-transfers?subaccountId=" + ownB, "/v1/usage?limit=100"} {
				body := string(e.expect(e.do("GET", path, tokA, nil), 200).Body)
				for _, id := range append([]string{b, resB.sub, resB.card, resB.txn, resB.unrouted, clientB, ownB}, movedB...) {
					if strings.Contains(body, id) {
						t.Errorf("%s shows B's %s", path, id)
					}
				}
			}
		})
		t.Run("own transfers and usage", func(t *testing.T) {
			e := e.at(t)
			// The lists above are not empty by accident: A sees its own.
			if got := e.transfers(tokA, "credit", ""); len(got) != 1 || got[0].ID != moved[0] {
				t.Errorf("A's credit transfers %+v", got)
			}
			if got := e.transfers(tokA, "balance", ""); len(got) != 1 || got[0].ID != moved[1] {
				t.Errorf("A's balance transfers %+v", got)
			}
			if items := e.expect(e.do("GET", "/v1/usage?limit=100", tokA, nil), 200).json(t)["items"].([]any); len(items) != 2 {
				t.Errorf("A's usage rows %v", items)
			}
		})
		t.Run("body ids", func(t *testing.T) {
			e := e.at(t)
			// Moving A's card into B's subaccount: not found, like an unknown subaccount.
			other := e.expect(e.do("POST", "/v1/cards/"+resA.card+"/move", tokA, map[string]any{"subaccountId": subB}), 404).problem(t)
			none := e.expect(e.do("POST", "/v1/cards/"+resA.card+"/move", tokA, map[string]any{"subaccountId": uuid.NewString()}), 404).problem(t)
			if other.Detail != none.Detail {
				t.Errorf("B's subaccount answers %+v, an unknown one %+v", other, none)
			}
			// A message naming B's card is unknown to A: queued, never routed into B.
			u := e.expect(e.do("POST", "/v1/transactions", tokA, message(resB.card, "auth")), 202).json(t)
			if u["reason"] != "card-unknown" {
				t.Errorf("B's card id in A's message: %v", u)
			}
			// The same PAN enrolled in both accounts: separate cards, separate fingerprints.
			e.enrol(tokB, resB.sub, visaPAN3, "USA")
			e.enrol(tokA, resA.sub, visaPAN3, "USA")
		})
		t.Run("transfer body ids", func(t *testing.T) {
			e := e.at(t)
			fresh := uuid.NewString()
			for _, kind := range []string{"credit", "balance"} {
				// B's subaccount, or B's account id where a subaccount is expected: not found,
				// exactly like an id that exists nowhere.
				for _, pair := range [][2][2]string{
					{{a, ownB}, {a, fresh}},
					{{ownB, a}, {fresh, a}},
					{{a, b}, {a, fresh}},
					// B's account id as the primary is just not A's primary.
					{{b, ownA}, {fresh, ownA}},
				} {
					other := e.transfer(tokA, kind, pair[0][0], pair[0][1], 1)
					none := e.transfer(tokA, kind, pair[1][0], pair[1][1], 1)
					po, pn := other.problem(t), none.problem(t)
					if other.Status != none.Status || po.Type != pn.Type || po.Detail != pn.Detail || po.Reason != pn.Reason || other.Status/100 != 4 {
						t.Errorf("%s %v answers %d %+v, an unknown id %d %+v", kind, pair[0], other.Status, po, none.Status, pn)
					}
				}
			}
		})
		t.Run("body subaccountId", func(t *testing.T) {
			e := e.at(t)
			p := e.expect(e.do("POST", "/v1/accounts/"+a+"/clients", e.opToken,
				map[string]any{"name": "c", "scopes": []string{"subaccounts:read"}, "subaccountId": subB}), 404).problem(t)
			if p.Type != "/problems/not-found" {
				t.Errorf("type %q", p.Type)
			}
		})
		t.Run("account claim of another tenant is what it sees", func(t *testing.T) {
			e := e.at(t)
			own := e.expect(e.do("GET", "/v1/account", tokA, nil), 200).json(t)
			if own["id"] != a {
				t.Errorf("GET /v1/account = %v", own["id"])
			}
		})
		s := e.expect(e.do("GET", "/v1/subaccounts/"+subB, tokB, nil), 200).json(t)
		if s["name"] != "B's shop" {
			t.Errorf("B's subaccount changed: %v", s)
		}
		if c := e.expect(e.do("GET", "/v1/cards/"+resB.card, tokB, nil), 200).json(t); c["status"] != "active" || c["subaccountId"] != subB {
			t.Errorf("B's card changed: %v", c)
		}
		if q := e.expect(e.do("GET", "/v1/transactions/unrouted", tokB, nil), 200).json(t)["items"].([]any); len(q) != 1 {
			t.Errorf("B's unrouted queue changed: %v", q)
		}
		if got := e.subaccount(tokB, ownB).money(); got != "balance 200, limit 100, over false" {
			t.Errorf("B's own subaccount changed: %s", got)
		}
		if got := e.account(b).money(); got != "balance 800, limit 1000, allocated 100, available 900, over false" {
			t.Errorf("B's account changed: %s", got)
		}
		if got := amounts(e.transfers(tokB, "balance", "")) + " | " + amounts(e.transfers(tokB, "credit", "")); got != "200 | 100" {
			t.Errorf("B's transfers changed: %s", got)
		}
	})
}
