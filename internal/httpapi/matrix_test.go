package httpapi_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// tenantRoute is one tenant route with the scope it needs and a valid body.
type tenantRoute struct {
	method, path string // {sub} is replaced by a subaccount id
	scope        string
	body         any
}

func tenantRoutes() []tenantRoute {
	r, w := subaccounts.ScopeSubaccountsRead, subaccounts.ScopeSubaccountsWrite
	return []tenantRoute{
		{"GET", "/v1/account", r, nil},
		{"POST", "/v1/subaccounts", w, map[string]any{"name": "New one"}},
		{"GET", "/v1/subaccounts", r, nil},
		{"GET", "/v1/subaccounts/{sub}", r, nil},
		{"PATCH", "/v1/subaccounts/{sub}", w, map[string]any{"name": "Renamed"}},
		{"DELETE", "/v1/subaccounts/{sub}", w, nil},
		{"GET", "/v1/subaccounts/{sub}/entitlements?country=USA&network=VISA", r, nil},
	}
}

// operatorRoutes are the accounts:admin routes; {acct} is an account id.
func operatorRoutes() []tenantRoute {
	a := subaccounts.ScopeAccountsAdmin
	return []tenantRoute{
		{"POST", "/v1/accounts", a, map[string]any{"name": "X", "contract": usaCanContract(1)}},
		{"GET", "/v1/accounts", a, nil},
		{"GET", "/v1/accounts/{acct}", a, nil},
		{"PATCH", "/v1/accounts/{acct}", a, map[string]any{"name": "Y"}},
		{"PUT", "/v1/accounts/{acct}/contract", a, usaCanContract(3)},
		{"POST", "/v1/accounts/{acct}/clients", a, map[string]any{"name": "c", "scopes": []string{"subaccounts:read"}}},
		{"GET", "/v1/accounts/{acct}/clients", a, nil},
		{"DELETE", "/v1/accounts/{acct}/clients/some-client", a, nil},
	}
}

// TestScopeMatrix: every route × a token lacking exactly its scope → 403 naming it, and
// nothing changes.
func TestScopeMatrix(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		full := e.tenantToken(acct)
		sub := e.newSubaccount(full, "Target", []any{cfg([]string{"USA"}, "VISA")})
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
		for _, rt := range tenantRoutes() {
			t.Run(rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				path := strings.ReplaceAll(rt.path, "{sub}", sub)
				r := e.expect(e.do(rt.method, path, tokens[rt.scope], rt.body), 403)
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
		for _, rt := range operatorRoutes() {
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
		for _, rt := range tenantRoutes() {
			t.Run("operator on "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				path := strings.ReplaceAll(rt.path, "{sub}", sub)
				e.expect(e.do(rt.method, path, e.opToken, rt.body), 401)
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
		subA := e.newSubaccount(tokA, "A's shop", []any{cfg([]string{"USA"}, "VISA")})
		subB := e.newSubaccount(tokB, "B's shop", []any{cfg([]string{"USA"}, "VISA")})
		_ = subA

		for _, rt := range tenantRoutes() {
			if !strings.Contains(rt.path, "{sub}") {
				continue
			}
			t.Run("path "+rt.method+" "+rt.path, func(t *testing.T) {
				e := e.at(t)
				other := e.expect(e.do(rt.method, strings.ReplaceAll(rt.path, "{sub}", subB), tokA, rt.body), 404).problem(t)
				none := e.expect(e.do(rt.method, strings.ReplaceAll(rt.path, "{sub}", uuid.NewString()), tokA, rt.body), 404).problem(t)
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
	})
}
