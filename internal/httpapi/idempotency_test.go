package httpapi_test

import (
	"bytes"
	"database/sql"
	"errors"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
)

const keyHeader = "Idempotency-Key"

func withKey(key string) map[string]string { return map[string]string{keyHeader: key} }

// replayed reports whether r is flagged as a replay.
func replayed(r response) bool { return r.Header.Get("Idempotent-Replayed") == "true" }

// TestIdempotentConcurrentCreates sends one create 50 times at once with one key: exactly
// one subaccount exists afterwards, and every answer is that subaccount (once as the
// original, otherwise as a flagged replay) or 409 in flight.
func TestIdempotentConcurrentCreates(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(100))
		tok := e.tenantToken(acct)
		body := map[string]any{"name": "Shop", "configurations": []any{cfg([]string{"USA"}, "VISA")}}
		key := uuid.NewString()

		const n = 50
		resps := make([]response, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { resps[i], errs[i] = e.sendHeaders("POST", "/v1/subaccounts", tok, body, withKey(key)) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}

		var originals, replays, inFlight int
		ids := map[string]bool{}
		for _, r := range resps {
			switch r.Status {
			case http.StatusCreated:
				ids[r.json(t)["id"].(string)] = true
				if replayed(r) {
					replays++
				} else {
					originals++
				}
			case http.StatusConflict:
				if p := r.problem(t); p.Type != "/problems/idempotency-key-in-flight" {
					t.Errorf("409 of type %s, want idempotency-key-in-flight", p.Type)
				}
				inFlight++
			default:
				t.Errorf("status %d: %s", r.Status, r.Body)
			}
		}
		t.Logf("%d original, %d replayed, %d in flight", originals, replays, inFlight)
		if originals != 1 || len(ids) != 1 {
			t.Errorf("%d original responses naming %d subaccounts, want exactly one", originals, len(ids))
		}
		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 {
			t.Errorf("%d subaccounts exist, want 1", len(items))
		}
		// Once the first has finished, the key replays (and the replay matches the spec).
		r := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, body, withKey(key)), 201)
		if !replayed(r) || !ids[r.json(t)["id"].(string)] {
			t.Errorf("a late retry is not the replay of the original: %v %s", r.Header, r.Body)
		}
	})
}

// TestIdempotentReplay: the same request with the same key answers the stored response,
// byte for byte, with the same Location, flagged as a replay, and changes nothing.
func TestIdempotentReplay(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(100))
		tok := e.tenantToken(acct)
		body := map[string]any{"name": "Shop", "metadata": map[string]string{"a": "b"}}
		first := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, body, withKey("k-1")), 201)
		if replayed(first) {
			t.Error("the first response is flagged as a replay")
		}
		again := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, body, withKey("k-1")), 201)
		if !replayed(again) {
			t.Error("the replay is not flagged")
		}
		if !bytes.Equal(first.Body, again.Body) {
			t.Errorf("replayed body differs:\n%s\n%s", first.Body, again.Body)
		}
		if l := first.Header.Get("Location"); l == "" || again.Header.Get("Location") != l {
			t.Errorf("Location %q, replayed %q", l, again.Header.Get("Location"))
		}
		if ct := again.Header.Get("Content-Type"); ct != first.Header.Get("Content-Type") {
			t.Errorf("replayed Content-Type %q, want %q", ct, first.Header.Get("Content-Type"))
		}
		if again.Header.Get("X-Request-Id") == first.Header.Get("X-Request-Id") {
			t.Error("the replay repeats the first request's id instead of its own")
		}
		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 {
			t.Errorf("%d subaccounts exist, want 1", len(items))
		}
		// Without the key the same body is a new request: the name is taken.
		e.expect(e.do("POST", "/v1/subaccounts", tok, body), 409)
	})
}

// TestIdempotencyKeyReused: the same key with a different request is 422, and nothing of
// the second request happens.
func TestIdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(100))
		tok := e.tenantToken(acct)
		e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, map[string]any{"name": "First"}, withKey("k")), 201)
		for name, req := range map[string]struct{ path, body string }{
			"different body":                {"/v1/subaccounts", `{"name":"Second"}`},
			"same body, spaced differently": {"/v1/subaccounts", `{"name": "First"}`},
			"different query":               {"/v1/subaccounts?x=1", `{"name":"First"}`},
			"different route":               {"/v1/transactions", `{"name":"First"}`},
		} {
			t.Run(name, func(t *testing.T) {
				e := e.at(t)
				r := e.expect(e.doHeaders("POST", req.path, tok, req.body, withKey("k")), 422)
				if p := r.problem(t); p.Type != "/problems/idempotency-key-reused" {
					t.Errorf("problem type %s", p.Type)
				}
			})
		}
		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 {
			t.Errorf("%d subaccounts exist, want 1", len(items))
		}
	})
}

// TestIdempotencyKeysAreScoped: a key belongs to one account (the operator having a scope
// of its own): another account using it runs its own request.
func TestIdempotencyKeysAreScoped(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		a1, a2 := e.newAccount("One", usaCanContract(10)), e.newAccount("Two", usaCanContract(10))
		t1, t2 := e.tenantToken(a1), e.tenantToken(a2)
		body := map[string]any{"name": "Shop"}
		r1 := e.expect(e.doHeaders("POST", "/v1/subaccounts", t1, body, withKey("shared")), 201)
		r2 := e.expect(e.doHeaders("POST", "/v1/subaccounts", t2, body, withKey("shared")), 201)
		if replayed(r2) || r1.json(t)["id"] == r2.json(t)["id"] {
			t.Errorf("account two got account one's response: %s", r2.Body)
		}
		// A different body under the shared key is still only compared within the account.
		e.expect(e.doHeaders("POST", "/v1/subaccounts", t2, body, withKey("shared")), 201)

		// The operator's keys: the same key creates one account, then replays it.
		req := map[string]any{"name": "Keyed", "contract": usaCanContract(1)}
		o1 := e.expect(e.doHeaders("POST", "/v1/accounts", e.opToken, req, withKey("shared")), 201)
		o2 := e.expect(e.doHeaders("POST", "/v1/accounts", e.opToken, req, withKey("shared")), 201)
		if replayed(o1) || !replayed(o2) || !bytes.Equal(o1.Body, o2.Body) {
			t.Errorf("operator replay: %v %s / %v %s", o1.Header, o1.Body, o2.Header, o2.Body)
		}
		accounts := e.expect(e.do("GET", "/v1/accounts?limit=100", e.opToken, nil), 200).json(t)["items"].([]any)
		keyed := 0
		for _, a := range accounts {
			if a.(map[string]any)["name"] == "Keyed" {
				keyed++
			}
		}
		if keyed != 1 {
			t.Errorf("%d accounts named Keyed, want 1", keyed)
		}
	})
}

// TestIdempotencyKeyInvalid: a key that is empty, too long or not visible ASCII is a 400
// naming the header, and the request does not run.
func TestIdempotencyKeyInvalid(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		for name, key := range map[string]string{
			"empty":     "",
			"too long":  strings.Repeat("k", 256),
			"space":     "a b",
			"non-ASCII": "clé",
			"tab":       "a\tb",
		} {
			t.Run(name, func(t *testing.T) {
				e := e.at(t)
				r := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, map[string]any{"name": "Shop " + name}, withKey(key)), 400)
				p := r.problem(t)
				if len(p.Errors) != 1 || p.Errors[0].Parameter != keyHeader {
					t.Errorf("errors %+v, want one naming the parameter %s", p.Errors, keyHeader)
				}
			})
		}
		// 255 visible characters are fine.
		e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, map[string]any{"name": "Long key"}, withKey(strings.Repeat("~", 255))), 201)
		list := e.expect(e.do("GET", "/v1/subaccounts", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 1 {
			t.Errorf("%d subaccounts exist, want 1", len(items))
		}
	})
}

// TestIdempotencyFailuresKeepNoKey: only successful responses are kept, so a refused
// request with a key can be sent again and runs again, and succeeds once the cause is gone.
func TestIdempotencyFailuresKeepNoKey(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)

		// A validation failure, twice: both run (neither is a replay).
		bad := map[string]any{"name": ""}
		for range 2 {
			r := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, bad, withKey("bad")), 400)
			if replayed(r) {
				t.Error("a 400 was replayed")
			}
		}

		// A name conflict, then the conflicting subaccount goes away: the same request with
		// the same key now creates it.
		taken := e.newSubaccount(tok, "Taken", nil)
		body := map[string]any{"name": "Taken"}
		r := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, body, withKey("conflict")), 409)
		if p := r.problem(t); p.Type != "/problems/conflict" {
			t.Errorf("problem type %s, want conflict", p.Type)
		}
		e.expect(e.do("DELETE", "/v1/subaccounts/"+taken, tok, nil), 204)
		created := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, body, withKey("conflict")), 201)
		if replayed(created) {
			t.Error("the retried create is flagged as a replay")
		}
		if again := e.expect(e.doHeaders("POST", "/v1/subaccounts", tok, body, withKey("conflict")), 201); !replayed(again) {
			t.Error("the success after a failure was not kept")
		}
	})
}

// TestIdempotentCardsAndTransactions: enrolment and single-message ingestion (which
// bypasses the group commit inside the request's transaction) honour keys, and neither
// the stored rows nor the replays carry the PAN.
func TestIdempotentCardsAndTransactions(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "Cards", []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")})
		pan := luhnPAN("4916", 738_201_554, 16)

		enrol := cardBody(pan, "USA")
		c1 := e.expect(e.doHeaders("POST", "/v1/subaccounts/"+sub+"/cards", tok, enrol, withKey("card")), 201)
		c2 := e.expect(e.doHeaders("POST", "/v1/subaccounts/"+sub+"/cards", tok, enrol, withKey("card")), 201)
		if !replayed(c2) || !bytes.Equal(c1.Body, c2.Body) || c1.Header.Get("Location") != c2.Header.Get("Location") {
			t.Errorf("enrolment replay: %s / %s", c1.Body, c2.Body)
		}
		// Without the key the card is enrolled already.
		e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards", tok, enrol), 409)

		msg := message(pan, "auth")
		m1 := e.expect(e.doHeaders("POST", "/v1/transactions", tok, msg, withKey("msg")), 201)
		m2 := e.expect(e.doHeaders("POST", "/v1/transactions", tok, msg, withKey("msg")), 201)
		if !replayed(m2) || !bytes.Equal(m1.Body, m2.Body) {
			t.Errorf("message replay: %s / %s", m1.Body, m2.Body)
		}
		unrouted := message(luhnPAN("4916", 1, 16), "auth")
		e.expect(e.doHeaders("POST", "/v1/transactions", tok, unrouted, withKey("unrouted")), 202)
		batch := map[string]any{"messages": []any{message(pan, "clearing")}}
		e.expect(e.doHeaders("POST", "/v1/transactions/batch", tok, batch, withKey("batch")), 200)
		list := e.expect(e.do("GET", "/v1/transactions", tok, nil), 200).json(t)
		if items := list["items"].([]any); len(items) != 2 {
			t.Errorf("%d routed transactions, want 2 (one auth, one clearing)", len(items))
		}

		for _, r := range []response{c1, c2, m1, m2} {
			if hits := canaryHits(r.Body, pan); len(hits) > 0 {
				t.Errorf("PAN in a response: %v", hits)
			}
		}
		rows := idempotencyRows(t, e, acct)
		if len(rows) != 4 {
			t.Errorf("%d idempotency keys stored, want 4", len(rows))
		}
		for _, row := range rows {
			if hits := canaryHits([]byte(strings.Join(row, "\x00")), pan); len(hits) > 0 {
				t.Errorf("PAN in an idempotency key row: %v", hits)
			}
		}
	})
}

// TestIdempotentClientSecretIsSealed: a new client's secret is replayed to the operator
// but stored only sealed.
func TestIdempotentClientSecretIsSealed(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		body := map[string]any{"name": "ci", "scopes": []string{"subaccounts:read"}}
		r1 := e.expect(e.doHeaders("POST", "/v1/accounts/"+acct+"/clients", e.opToken, body, withKey("client")), 201)
		r2 := e.expect(e.doHeaders("POST", "/v1/accounts/"+acct+"/clients", e.opToken, body, withKey("client")), 201)
		if !replayed(r2) || !bytes.Equal(r1.Body, r2.Body) {
			t.Errorf("client replay: %s / %s", r1.Body, r2.Body)
		}
		secret := r1.json(t)["clientSecret"].(string)
		rows := idempotencyRows(t, e, uuid.Nil.String(), acct)
		if len(rows) != 1 { // the account was created without a key
			t.Errorf("%d stored keys, want the client's only: %q", len(rows), rows)
		}
		found := false
		for _, row := range rows {
			joined := strings.Join(row, "\x00")
			if strings.Contains(joined, secret) || strings.Contains(joined, r1.json(t)["clientId"].(string)) {
				t.Errorf("the client's secret or id is stored in the clear: %q", row)
			}
			// Keys are stored as their keyed hash, never as sent.
			found = found || (len(row[1]) == 64 && row[1] != "client")
			if strings.Contains(joined, "\x00client\x00") {
				t.Errorf("the key is stored as sent: %q", row)
			}
		}
		if !found {
			t.Errorf("no stored key digest for the client: %q", rows)
		}
	})
}

// TestEveryPOSTHonoursIdempotencyKey: every POST under /v1 in the spec declares the
// header and the server checks it, so a route added without the middleware shows here.
func TestEveryPOSTHonoursIdempotencyKey(t *testing.T) {
	t.Parallel()
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, "sqlite")
	acct := e.newAccount("Acme", usaCanContract(10))
	tok := e.tenantToken(acct)
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for path, item := range doc.Paths.Map() {
		op := item.Post
		if op == nil || !strings.HasPrefix(path, "/v1/") {
			continue
		}
		n++
		t.Run(path, func(t *testing.T) {
			declared := false
			for _, p := range op.Parameters {
				declared = declared || (p.Value != nil && p.Value.In == "header" && p.Value.Name == keyHeader)
			}
			if !declared {
				t.Errorf("POST %s does not declare the %s parameter", path, keyHeader)
			}
			token := tok
			if strings.HasPrefix(path, "/v1/accounts") {
				token = e.opToken
			}
			concrete := param.ReplaceAllStringFunc(path, func(string) string { return uuid.NewString() })
			e := e.at(t)
			r := e.expect(e.doHeaders("POST", concrete, token, map[string]any{}, withKey("not valid")), 400)
			if p := r.problem(t); len(p.Errors) != 1 || p.Errors[0].Parameter != keyHeader {
				t.Errorf("errors %+v, want one naming %s", p.Errors, keyHeader)
			}
		})
	}
	if n < 9 {
		t.Errorf("found %d POST routes under /v1 in the spec, want at least 9", n)
	}
}

// idempotencyRows reads the idempotency_keys rows of accounts straight from e's database,
// every column as text.
func idempotencyRows(t *testing.T, e *env, accountIDs ...string) [][]string {
	t.Helper()
	var driver, dsn string
	switch e.db.Dialect() {
	case "sqlite":
		files, err := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "subaccounts.db"))
		if err != nil || len(files) != 1 {
			t.Fatalf("SQLite database of this test: %v %v", files, err)
		}
		driver, dsn = "sqlite3", "file:"+filepath.ToSlash(files[0])+"?_pragma=busy_timeout(10000)"
	case "postgres":
		driver, dsn = "pgx", canaryPostgresURLs(t, accountIDs[len(accountIDs)-1])[0]
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT CAST(account_id AS text), key, method, path, request_hash, CAST(status AS text),
		content_type, location, etag, response_body, CAST(created_at AS text) FROM idempotency_keys ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[string]bool{}
	for _, id := range accountIDs {
		want[id] = true
	}
	var out [][]string
	for rows.Next() {
		row := make([]string, 11)
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if want[row[0]] {
			out = append(out, row)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestIdempotencyKeyBoundToCaller: a key belongs to the client that first used it. Another
// client of the same account (a confined one in particular, which may not move money)
// sending the same request with the same key is refused, not replayed the first client's
// response, and nothing moves twice.
func TestIdempotencyKeyBoundToCaller(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.ownSubaccount(tok, "Shop", nil)
		e.topUp(acct, 1000)
		body := map[string]any{"from": acct, "to": sub, "amount": 100, "reference": "weekly"}
		first := e.expect(e.doHeaders("POST", "/v1/balance-transfers", tok, body, withKey("weekly-1")), 201)

		confinedID, confinedSecret := e.newClient(acct, allTenantScopes, sub)
		confined := e.token(confinedID, confinedSecret, "")
		other := e.tenantToken(acct)
		for name, token := range map[string]string{"confined client": confined, "another client": other} {
			r := e.doHeaders("POST", "/v1/balance-transfers", token, body, withKey("weekly-1"))
			if r.Status == 201 || replayed(r) {
				t.Errorf("%s was replayed the first client's response: %d %s", name, r.Status, r.Body)
			}
			e.expectProblem(r, 422, "idempotency-key-reused", "")
		}
		// The first client still gets its replay, and the money moved once.
		again := e.expect(e.doHeaders("POST", "/v1/balance-transfers", tok, body, withKey("weekly-1")), 201)
		if !replayed(again) || !bytes.Equal(again.Body, first.Body) {
			t.Errorf("the first client's retry: replayed %v, %s", replayed(again), again.Body)
		}
		if got := e.subaccount(tok, sub).money(); got != "balance 100, limit 0, over false" {
			t.Errorf("subaccount after the retries: %s", got)
		}
	})
}
