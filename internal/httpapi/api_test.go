package httpapi_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
)

var msTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestWalkthrough(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme Platform", usaCanContract(10))
		tok := e.tenantToken(acct)

		own := e.expect(e.do("GET", "/v1/account", tok, nil), 200).json(t)
		if own["id"] != acct || own["name"] != "Acme Platform" {
			t.Fatalf("own account %v", own)
		}

		r := e.expect(e.do("POST", "/v1/subaccounts", tok, map[string]any{
			"name":           "  Acme Corp  ",
			"configurations": []any{cfg([]string{"USA"}, "VISA"), cfg([]string{"CAN"}, "MASTERCARD")},
			"metadata":       map[string]string{"crm": "42"},
		}), 201)
		sub := r.json(t)
		if sub["name"] != "Acme Corp" {
			t.Errorf("name not trimmed: %q", sub["name"])
		}
		if sub["accountId"] != acct || sub["suspended"] != false {
			t.Errorf("subaccount %v", sub)
		}
		for _, k := range []string{"createdAt", "updatedAt"} {
			if !msTimestamp.MatchString(sub[k].(string)) {
				t.Errorf("%s = %q, want ISO 8601 UTC with milliseconds", k, sub[k])
			}
		}
		if loc := r.Header.Get("Location"); loc != "/v1/subaccounts/"+sub["id"].(string) {
			t.Errorf("Location %q", loc)
		}
		got := fmt.Sprint(sub["configurations"])
		if want := "[map[countries:[USA] networks:[VISA]] map[countries:[CAN] networks:[MASTERCARD]]]"; got != want {
			t.Errorf("configurations %s, want %s", got, want)
		}

		p := e.expect(e.do("POST", "/v1/subaccounts", tok, map[string]any{
			"name": "Pizzeria", "configurations": []any{cfg([]string{"GBR", "FRA"}, "VISA", "MASTERCARD")},
		}), 422).problem(t)
		if p.Type != "/problems/policy-violation" {
			t.Errorf("type %q", p.Type)
		}
		var outside []string
		for _, e := range p.Errors {
			outside = append(outside, e.Detail)
		}
		want := []string{
			"FRA on VISA is outside the account contract",
			"FRA on MASTERCARD is outside the account contract",
			"GBR on MASTERCARD is outside the account contract",
		}
		if !slices.Equal(outside, want) {
			t.Errorf("violations %q, want %q", outside, want)
		}

		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 || list["nextCursor"] != nil {
			t.Errorf("list after a refused create: %v", list)
		}
	})
}

func TestValidation(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		existing := e.newSubaccount(tok, "Existing", []any{cfg([]string{"USA"}, "VISA")})

		cases := []struct {
			name         string
			method, path string
			body         any
			status       int
			typ          string
			pointers     []string
			detail       string
		}{
			{"alpha-2 country gets a hint", "POST", "/v1/subaccounts", `{"name":"x","configurations":[{"countries":["GB"],"networks":["VISA"]}]}`, 400, "validation", []string{"/configurations/0/countries/0"}, `did you mean "GBR"`},
			{"lower-case country gets a hint", "POST", "/v1/subaccounts", `{"name":"x","configurations":[{"countries":["USA","gbr"],"networks":["VISA"]}]}`, 400, "validation", []string{"/configurations/0/countries/1"}, `did you mean "GBR"`},
			{"unknown network", "POST", "/v1/subaccounts", `{"name":"x","configurations":[{"countries":["USA"],"networks":["AMEX"]}]}`, 400, "validation", []string{"/configurations/0/networks/0"}, "AMEX"},
			{"empty lists", "POST", "/v1/subaccounts", `{"name":"x","configurations":[{"countries":[],"networks":[]}]}`, 400, "validation", []string{"/configurations/0/countries", "/configurations/0/networks"}, ""},
			{"missing name", "POST", "/v1/subaccounts", `{"configurations":[]}`, 400, "validation", []string{"/name"}, "required"},
			{"blank name", "POST", "/v1/subaccounts", `{"name":"   "}`, 400, "validation", []string{"/name"}, ""},
			{"name too long", "POST", "/v1/subaccounts", fmt.Sprintf(`{"name":%q}`, strings.Repeat("é", 201)), 400, "validation", []string{"/name"}, ""},
			{"control character in name", "POST", "/v1/subaccounts", `{"name":"a\u0007b"}`, 400, "validation", []string{"/name"}, "control"},
			{"bidi override in name", "POST", "/v1/subaccounts", `{"name":"abc\u202Egpj.exe"}`, 400, "validation", []string{"/name"}, "bidirectional"},
			{"unknown field", "POST", "/v1/subaccounts", `{"name":"x","colour":"red"}`, 400, "validation", []string{"/colour"}, "unknown field"},
			{"unknown nested field", "POST", "/v1/subaccounts", `{"name":"x","configurations":[{"countries":["USA"],"networks":["VISA"],"x":1}]}`, 400, "validation", []string{"/configurations/0/x"}, "unknown field"},
			{"key in the wrong case", "POST", "/v1/subaccounts", `{"Name":"x"}`, 400, "validation", []string{"/Name"}, "unknown field"},
			{"null member", "POST", "/v1/subaccounts", `{"name":"x","configurations":null}`, 400, "validation", []string{"/configurations"}, "null"},
			{"null in a patch", "PATCH", "/v1/subaccounts/" + existing, `{"name":null}`, 400, "validation", []string{"/name"}, "null"},
			{"null body", "POST", "/v1/subaccounts", `null`, 400, "validation", []string{""}, "null"},
			{"duplicate key", "POST", "/v1/subaccounts", `{"name":"x","name":"y"}`, 400, "validation", []string{"/name"}, "duplicate"},
			{"trailing data", "POST", "/v1/subaccounts", `{"name":"x"} {"name":"y"}`, 400, "validation", []string{""}, "after"},
			{"malformed JSON", "POST", "/v1/subaccounts", `{"name":`, 400, "validation", []string{""}, ""},
			{"wrong type", "POST", "/v1/subaccounts", `{"name":12}`, 400, "validation", []string{"/name"}, "string"},
			{"metadata value too long", "POST", "/v1/subaccounts", fmt.Sprintf(`{"name":"x","metadata":{"k":%q}}`, strings.Repeat("v", 501)), 400, "validation", []string{"/metadata/k"}, ""},
			{"path id not a UUID", "GET", "/v1/subaccounts/not-a-uuid", nil, 400, "validation", []string{"?subaccountId"}, "UUID"},
			{"limit out of range", "GET", "/v1/subaccounts?limit=101", nil, 400, "validation", []string{"?limit"}, ""},
			{"limit zero", "GET", "/v1/subaccounts?limit=0", nil, 400, "validation", []string{"?limit"}, ""},
			{"cursor garbage", "GET", "/v1/subaccounts?cursor=!!!", nil, 400, "validation", []string{"?cursor"}, ""},
			{"filter country invalid", "GET", "/v1/subaccounts?country=gb", nil, 400, "validation", []string{"?country"}, "GBR"},
			{"filter network invalid", "GET", "/v1/subaccounts?network=visa", nil, 400, "validation", []string{"?network"}, ""},
			{"entitlement without params", "GET", "/v1/subaccounts/" + existing + "/entitlements", nil, 400, "validation", []string{"?country", "?network"}, ""},
			{"patch configurations invalid", "PATCH", "/v1/subaccounts/" + existing, `{"configurations":[{"countries":["ZZZ"],"networks":["VISA"]}]}`, 400, "validation", []string{"/configurations/0/countries/0"}, ""},
			{"patch name null", "PATCH", "/v1/subaccounts/" + existing, `{"suspended":"yes"}`, 400, "validation", []string{"/suspended"}, "boolean"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.at(t)
				p := e.expect(e.do(tc.method, tc.path, tok, tc.body), tc.status).problem(t)
				if p.Type != "/problems/"+tc.typ {
					t.Errorf("type %q, want %q", p.Type, tc.typ)
				}
				if got := p.pointers(); !slices.Equal(got, tc.pointers) {
					t.Errorf("pointers %q, want %q", got, tc.pointers)
				}
				var details []string
				for _, fe := range p.Errors {
					details = append(details, fe.Detail)
				}
				if tc.detail != "" && !strings.Contains(strings.Join(details, " | "), tc.detail) {
					t.Errorf("no %q in %+v", tc.detail, p)
				}
			})
		}

		// Nothing of the above changed anything.
		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if n := len(list["items"].([]any)); n != 1 {
			t.Errorf("%d subaccounts after refused requests, want 1", n)
		}
		sub := e.expect(e.do("GET", "/v1/subaccounts/"+existing, tok, nil), 200).json(t)
		if sub["configVersion"].(float64) != 1 || sub["suspended"] != false {
			t.Errorf("refused patches changed the subaccount: %v", sub)
		}
	})
}

func TestBodyLimitsAndMediaType(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		big := `{"name":"x","metadata":{"k":"` + strings.Repeat("a", 1<<20) + `"}}`
		p := e.expect(e.do("POST", "/v1/subaccounts", tok, big), 413).problem(t)
		if p.Type != "/problems/payload-too-large" {
			t.Errorf("type %q", p.Type)
		}
		r := e.doHeaders("POST", "/v1/subaccounts", tok, `{"name":"x"}`, map[string]string{"Content-Type": "text/plain"})
		if p := e.expect(r, 415).problem(t); p.Type != "/problems/unsupported-media-type" {
			t.Errorf("type %q", p.Type)
		}
		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if n := len(list["items"].([]any)); n != 0 {
			t.Errorf("%d subaccounts, want 0", n)
		}
	})
}

func TestPaginationAndFilters(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(20))
		tok := e.tenantToken(acct)
		var ids []string
		for i := range 5 {
			ids = append(ids, e.newSubaccount(tok, fmt.Sprintf("Shop %d", i), []any{cfg([]string{"USA"}, "VISA")}))
		}
		gbr := e.newSubaccount(tok, "UK Pub", []any{cfg([]string{"GBR"}, "VISA"), cfg([]string{"CAN"}, "MASTERCARD")})
		ids = append(ids, gbr)

		var seen []string
		cursor := ""
		pages := 0
		for {
			path := "/v1/subaccounts?limit=2"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			page := e.expect(e.do("GET", path, tok, nil), 200).json(t)
			pages++
			for _, it := range page["items"].([]any) {
				seen = append(seen, it.(map[string]any)["id"].(string))
			}
			if page["nextCursor"] == nil {
				break
			}
			cursor = page["nextCursor"].(string)
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
		}
		if pages != 3 || !slices.Equal(seen, ids) {
			t.Errorf("pages %d, ids %v, want 3 pages of %v", pages, seen, ids)
		}

		filters := []struct {
			name  string
			query string
			want  []string
		}{
			{"name prefix", "name=Shop", ids[:5]},
			{"name prefix is case-sensitive", "name=shop", nil},
			{"exact name", "name=UK%20Pub", []string{gbr}},
			{"country and network", "country=GBR&network=VISA", []string{gbr}},
			{"pair not permitted", "country=GBR&network=MASTERCARD", nil},
			{"country only", "country=CAN", []string{gbr}},
			{"network only", "network=VISA", ids},
			{"combined with name", "country=USA&network=VISA&name=Shop%203", []string{ids[3]}},
		}
		for _, f := range filters {
			t.Run(f.name, func(t *testing.T) {
				e := e.at(t)
				page := e.expect(e.do("GET", "/v1/subaccounts?limit=100&"+f.query, tok, nil), 200).json(t)
				var got []string
				for _, it := range page["items"].([]any) {
					got = append(got, it.(map[string]any)["id"].(string))
				}
				if !slices.Equal(got, f.want) {
					t.Errorf("got %v, want %v", got, f.want)
				}
			})
		}
	})
}

func TestSubaccountLifecycle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(2))
		tok := e.tenantToken(acct)
		a := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})

		// Name conflicts within the account.
		p := e.expect(e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "A"}), 409).problem(t)
		if p.Type != "/problems/conflict" {
			t.Errorf("type %q", p.Type)
		}
		b := e.newSubaccount(tok, "B", nil)

		// The contract allows two.
		p = e.expect(e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "C"}), 403).problem(t)
		if p.Type != "/problems/provisioning" || !strings.Contains(p.Detail, "Maximum number of subaccounts reached") {
			t.Errorf("problem %+v", p)
		}

		// Patch: rename, widen inside the contract, metadata, suspend.
		r := e.expect(e.do("PATCH", "/v1/subaccounts/"+a, tok, map[string]any{
			"name": "A2", "configurations": []any{cfg([]string{"USA", "CAN"}, "VISA")},
			"metadata": map[string]string{"tier": "gold"}, "suspended": true,
		}), 200).json(t)
		if r["name"] != "A2" || r["suspended"] != true || r["configVersion"].(float64) != 2 ||
			r["metadata"].(map[string]any)["tier"] != "gold" {
			t.Errorf("patched %v", r)
		}
		// A patch that leaves the configuration as it was keeps its version.
		r = e.expect(e.do("PATCH", "/v1/subaccounts/"+a, tok, map[string]any{
			"configurations": []any{cfg([]string{"CAN"}, "VISA"), cfg([]string{"USA"}, "VISA")},
		}), 200).json(t)
		if r["configVersion"].(float64) != 2 {
			t.Errorf("configVersion %v after an equivalent configuration, want 2", r["configVersion"])
		}
		// Renaming onto another subaccount's name conflicts.
		e.expect(e.do("PATCH", "/v1/subaccounts/"+b, tok, map[string]any{"name": "A2"}), 409)
		// Outside the contract is refused and changes nothing.
		e.expect(e.do("PATCH", "/v1/subaccounts/"+a, tok, map[string]any{"configurations": []any{cfg([]string{"GBR"}, "MASTERCARD")}}), 422)
		r = e.expect(e.do("GET", "/v1/subaccounts/"+a, tok, nil), 200).json(t)
		if r["configVersion"].(float64) != 2 {
			t.Errorf("refused patch changed the subaccount: %v", r)
		}

		// Explain.
		ex := e.expect(e.do("GET", "/v1/subaccounts/"+a+"/entitlements?country=CAN&network=VISA", tok, nil), 200).json(t)
		if ex["permitted"] != true || ex["deniedBy"] != nil || ex["configuration"].(float64) != 0 {
			t.Errorf("explain CAN/VISA %v", ex)
		}
		ex = e.expect(e.do("GET", "/v1/subaccounts/"+a+"/entitlements?country=GBR&network=VISA", tok, nil), 200).json(t)
		if ex["permitted"] != false || ex["deniedBy"] != "subaccount" {
			t.Errorf("explain GBR/VISA %v", ex)
		}
		ex = e.expect(e.do("GET", "/v1/subaccounts/"+a+"/entitlements?country=FRA&network=VISA", tok, nil), 200).json(t)
		if ex["permitted"] != false || ex["deniedBy"] != "contract" {
			t.Errorf("explain FRA/VISA %v", ex)
		}

		// Delete frees a slot and the name; a second delete is 404.
		e.expect(e.do("DELETE", "/v1/subaccounts/"+b, tok, nil), 204)
		e.expect(e.do("DELETE", "/v1/subaccounts/"+b, tok, nil), 404)
		e.expect(e.do("GET", "/v1/subaccounts/"+b, tok, nil), 404)
		e.newSubaccount(tok, "B", nil)
	})
}

func TestContractChanges(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		wide := e.newSubaccount(tok, "Wide", []any{cfg([]string{"USA", "CAN"}, "VISA", "MASTERCARD"), cfg([]string{"GBR"}, "VISA")})
		narrow := e.newSubaccount(tok, "Narrow", []any{cfg([]string{"USA"}, "VISA")})
		path := "/v1/accounts/" + acct + "/contract"
		narrower := map[string]any{"configurations": []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")}, "maxSubaccounts": 10}

		// Refused narrowing lists every affected subaccount and pair, and changes nothing.
		p := e.expect(e.do("PUT", path, e.opToken, narrower), 409).problem(t)
		if len(p.AffectedSubaccounts) != 1 || p.AffectedSubaccounts[0].ID != wide || len(p.AffectedSubaccounts[0].OutsideContract) != 3 {
			t.Fatalf("affected %+v", p.AffectedSubaccounts)
		}
		// A dry run reports the same and changes nothing.
		dry := e.expect(e.do("PUT", path+"?dryRun=true", e.opToken, narrower), 200).json(t)
		if dry["dryRun"] != true || len(dry["affectedSubaccounts"].([]any)) != 1 {
			t.Errorf("dry run %v", dry)
		}
		acctNow := e.expect(e.do("GET", "/v1/accounts/"+acct, e.opToken, nil), 200).json(t)
		if acctNow["contract"].(map[string]any)["version"].(float64) != 1 {
			t.Errorf("contract changed by refused/dry-run requests: %v", acctNow["contract"])
		}
		w := e.expect(e.do("GET", "/v1/subaccounts/"+wide, tok, nil), 200).json(t)
		if w["configVersion"].(float64) != 1 {
			t.Errorf("subaccount changed by a dry run: %v", w)
		}

		// Cascade narrows the affected subaccount in the same transaction.
		res := e.expect(e.do("PUT", path+"?mode=cascade", e.opToken, narrower), 200).json(t)
		if res["mode"] != "cascade" || len(res["affectedSubaccounts"].([]any)) != 1 {
			t.Errorf("cascade %v", res)
		}
		w = e.expect(e.do("GET", "/v1/subaccounts/"+wide, tok, nil), 200).json(t)
		if fmt.Sprint(w["configurations"]) != "[map[countries:[USA] networks:[VISA MASTERCARD]]]" || w["configVersion"].(float64) != 2 {
			t.Errorf("narrowed subaccount %v", w)
		}
		n := e.expect(e.do("GET", "/v1/subaccounts/"+narrow, tok, nil), 200).json(t)
		if n["configVersion"].(float64) != 1 {
			t.Errorf("unaffected subaccount changed: %v", n)
		}
		// Widening always succeeds.
		res = e.expect(e.do("PUT", path, e.opToken, usaCanContract(10)), 200).json(t)
		if len(res["affectedSubaccounts"].([]any)) != 0 {
			t.Errorf("widening affected %v", res["affectedSubaccounts"])
		}
		e.expect(e.do("PUT", path+"?mode=sideways", e.opToken, narrower), 400)
		e.expect(e.do("PUT", path, e.opToken, map[string]any{"configurations": []any{}}), 400)
		// An absent configuration list must not silently empty the contract.
		p = e.expect(e.do("PUT", path+"?mode=cascade", e.opToken, map[string]any{"maxSubaccounts": 10}), 400).problem(t)
		if got := p.pointers(); !slices.Equal(got, []string{"/configurations"}) {
			t.Errorf("pointers %v", got)
		}
	})
}

func TestConfinedClient(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		mine := e.newSubaccount(tok, "Mine", []any{cfg([]string{"USA"}, "VISA")})
		other := e.newSubaccount(tok, "Other", nil)
		id, secret := e.newClient(acct, allTenantScopes, mine)
		ctok := e.token(id, secret, "")

		list := e.expect(e.do("GET", "/v1/subaccounts", ctok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != mine {
			t.Errorf("confined list %v", list)
		}
		e.expect(e.do("GET", "/v1/subaccounts/"+mine, ctok, nil), 200)
		e.expect(e.do("PATCH", "/v1/subaccounts/"+mine, ctok, map[string]any{"metadata": map[string]string{"a": "b"}}), 200)
		for _, r := range []response{
			e.do("GET", "/v1/subaccounts/"+other, ctok, nil),
			e.do("PATCH", "/v1/subaccounts/"+other, ctok, map[string]any{"name": "taken over"}),
			e.do("DELETE", "/v1/subaccounts/"+other, ctok, nil),
			e.do("GET", "/v1/subaccounts/"+other+"/entitlements?country=USA&network=VISA", ctok, nil),
		} {
			if p := e.expect(r, 404).problem(t); p.Type != "/problems/not-found" {
				t.Errorf("type %q", p.Type)
			}
		}
		if p := e.expect(e.do("POST", "/v1/subaccounts", ctok, map[string]any{"name": "New"}), 403).problem(t); p.Type != "/problems/forbidden" {
			t.Errorf("type %q", p.Type)
		}
		o := e.expect(e.do("GET", "/v1/subaccounts/"+other, tok, nil), 200).json(t)
		if o["name"] != "Other" {
			t.Errorf("other subaccount changed: %v", o)
		}
		// Deleting its subaccount revokes the confined client.
		e.expect(e.do("DELETE", "/v1/subaccounts/"+mine, tok, nil), 204)
		e.expect(e.do("GET", "/v1/subaccounts", ctok, nil), 401)
	})
}

func TestOperatorAccountsAndClients(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		var ids []string
		for i := range 3 {
			ids = append(ids, e.newAccount(fmt.Sprintf("Platform %d", i), usaCanContract(5)))
		}
		page := e.expect(e.do("GET", "/v1/accounts?limit=2", e.opToken, nil), 200).json(t)
		if len(page["items"].([]any)) != 2 || page["nextCursor"] == nil {
			t.Fatalf("first page %v", page)
		}
		page = e.expect(e.do("GET", "/v1/accounts?limit=2&cursor="+page["nextCursor"].(string), e.opToken, nil), 200).json(t)
		if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != ids[2] || page["nextCursor"] != nil {
			t.Fatalf("second page %v", page)
		}
		r := e.expect(e.do("PATCH", "/v1/accounts/"+ids[0], e.opToken, map[string]any{"name": "Renamed"}), 200).json(t)
		if r["name"] != "Renamed" {
			t.Errorf("renamed %v", r)
		}
		e.expect(e.do("GET", "/v1/accounts/"+uuid.NewString(), e.opToken, nil), 404)
		e.expect(e.do("POST", "/v1/accounts", e.opToken, map[string]any{"name": "No contract"}), 400)
		p := e.expect(e.do("POST", "/v1/accounts", e.opToken, map[string]any{"name": "X", "contract": map[string]any{"configurations": []any{cfg([]string{"XYZ"}, "VISA")}}}), 400).problem(t)
		if got := p.pointers(); !slices.Equal(got, []string{"/contract/configurations/0/countries/0", "/contract/maxSubaccounts"}) {
			t.Errorf("pointers %v", got)
		}

		// Clients: scopes are checked, the secret is shown once, revocation stops tokens.
		e.expect(e.do("POST", "/v1/accounts/"+ids[0]+"/clients", e.opToken, map[string]any{"name": "c", "scopes": []string{"accounts:admin"}}), 400)
		e.expect(e.do("POST", "/v1/accounts/"+ids[0]+"/clients", e.opToken, map[string]any{"name": "c", "scopes": []string{}}), 400)
		id, secret := e.newClient(ids[0], []string{"subaccounts:read"}, "")
		list := e.expect(e.do("GET", "/v1/accounts/"+ids[0]+"/clients", e.opToken, nil), 200)
		if strings.Contains(string(list.Body), secret) || !strings.Contains(string(list.Body), id) {
			t.Errorf("client list %s", list.Body)
		}
		id2, _ := e.newClient(ids[0], []string{"subaccounts:read"}, "")
		id3, _ := e.newClient(ids[0], []string{"subaccounts:write"}, "")
		page = e.expect(e.do("GET", "/v1/accounts/"+ids[0]+"/clients?limit=2", e.opToken, nil), 200).json(t)
		if items := page["items"].([]any); len(items) != 2 || items[0].(map[string]any)["clientId"] != id || items[1].(map[string]any)["clientId"] != id2 || page["nextCursor"] == nil {
			t.Fatalf("first page of clients %v", page)
		}
		page = e.expect(e.do("GET", "/v1/accounts/"+ids[0]+"/clients?limit=2&cursor="+page["nextCursor"].(string), e.opToken, nil), 200).json(t)
		if items := page["items"].([]any); len(items) != 1 || items[0].(map[string]any)["clientId"] != id3 || page["nextCursor"] != nil {
			t.Fatalf("second page of clients %v", page)
		}
		tok := e.token(id, secret, "")
		e.expect(e.do("GET", "/v1/account", tok, nil), 200)
		e.expect(e.do("DELETE", "/v1/accounts/"+ids[1]+"/clients/"+id, e.opToken, nil), 404)
		e.expect(e.do("DELETE", "/v1/accounts/"+ids[0]+"/clients/"+id, e.opToken, nil), 204)
		e.expect(e.do("GET", "/v1/account", tok, nil), 401)
	})
}

func TestRequestIDAndHealth(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	r := e.expect(e.doHeaders("GET", "/healthz", "", nil, map[string]string{"X-Request-Id": "abc-123"}), 200)
	if r.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("X-Request-Id %q", r.Header.Get("X-Request-Id"))
	}
	r = e.expect(e.doHeaders("GET", "/readyz", "", nil, map[string]string{"X-Request-Id": "bad id with spaces"}), 200)
	if id := r.Header.Get("X-Request-Id"); id == "" || strings.Contains(id, " ") {
		t.Errorf("X-Request-Id %q", id)
	}
	p := e.expect(e.do("GET", "/v1/nothing-here", e.opToken, nil), 404).problem(t)
	if p.Type != "/problems/not-found" {
		t.Errorf("type %q", p.Type)
	}
	e.expect(e.do("PUT", "/healthz", "", nil), 405)
}
