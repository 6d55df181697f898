package httpapi_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/httpapi"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/ratelimit"
	"github.com/cardseg/subaccounts/internal/ratelimit/redistest"
	"github.com/cardseg/subaccounts/internal/store/storetest"
)

func firstOr(limits []httpapi.Limits) httpapi.Limits {
	if len(limits) == 0 {
		return httpapi.Limits{}
	}
	return limits[0]
}

func memoryLimits(clientRate, tokenFailures int) httpapi.Limits {
	return httpapi.Limits{Limiter: ratelimit.NewMemory(0), ClientRate: clientRate, TokenFailures: tokenFailures}
}

// replica starts a second server over e's database, as another replica of the same
// deployment would be, with its own issuer instance and limits; it returns its URL.
func (e *env) replica(limits httpapi.Limits) string {
	e.t.Helper()
	ctx := context.Background()
	is, err := issuer.New(ctx, e.db, issuer.Config{URL: e.url, Audience: audience, AccountClaim: accountClaim, MaxLifetime: 24 * time.Hour, BcryptCost: 4, Keys: e.ring})
	if err != nil {
		e.t.Fatal(err)
	}
	v := auth.NewVerifier(auth.Config{
		Issuer: e.url, Audience: audience, AccountClaim: accountClaim, MaxLifetime: 24 * time.Hour,
		KeySet: auth.NewKeySet(is.FetchKeys, 30*time.Second), Clients: is,
	})
	log := slog.New(httpapi.LogHandler(slog.NewJSONHandler(e.logs, nil)))
	d := e.deps
	d.Verifier, d.Issuer, d.Logger, d.Limits = v, is, log, limits
	ts := httptest.NewServer(httpapi.NewServer(d))
	e.t.Cleanup(ts.Close)
	return ts.URL
}

// on returns a copy of e that sends its requests to the server at base.
func (e *env) on(base string) *env {
	c := *e
	c.url = base
	return &c
}

var (
	policyHeader = regexp.MustCompile(`^"default";q=([0-9]+);w=1$`)
	stateHeader  = regexp.MustCompile(`^"default";r=([0-9]+);t=([0-9]+)$`)
)

// untilLimited sends GET /v1/account with token until one is refused or max were sent,
// checking the rate-limit headers of each, and returns how many were admitted and the
// refusal.
func (e *env) untilLimited(token string, quota, max int) (int, response) {
	e.t.Helper()
	for i := range max {
		r := e.do("GET", "/v1/account", token, nil)
		if m := policyHeader.FindStringSubmatch(r.Header.Get("RateLimit-Policy")); m == nil || m[1] != strconv.Itoa(quota) {
			e.t.Fatalf("request %d: RateLimit-Policy %q, want quota %d", i+1, r.Header.Get("RateLimit-Policy"), quota)
		}
		if !stateHeader.MatchString(r.Header.Get("RateLimit")) {
			e.t.Fatalf("request %d: RateLimit %q", i+1, r.Header.Get("RateLimit"))
		}
		if r.Status == http.StatusTooManyRequests {
			return i, r
		}
		e.expect(r, 200)
	}
	return max, response{}
}

// checkRefusal checks a 429 from the client limit.
func checkRefusal(t *testing.T, r response) {
	t.Helper()
	if p := r.problem(t); p.Type != "/problems/rate-limited" || p.Status != 429 {
		t.Errorf("problem %+v", p)
	}
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q, want an integer ≥ 1", r.Header.Get("Retry-After"))
	}
	if m := stateHeader.FindStringSubmatch(r.Header.Get("RateLimit")); m == nil || m[1] != "0" {
		t.Errorf("RateLimit %q on a refusal, want r=0", r.Header.Get("RateLimit"))
	}
}

// admittedAtMost is how many requests a bucket of rate per second may admit in elapsed:
// the burst and what came back meanwhile.
func admittedAtMost(rate int, elapsed time.Duration) int {
	return rate + int(elapsed.Seconds()*float64(rate)) + 1
}

// TestClientRateLimited: past its bucket a client gets 429 /problems/rate-limited with
// Retry-After and the RateLimit headers (also sent on every admitted response), before
// the handler runs; another client of the same account has its own bucket.
func TestClientRateLimited(t *testing.T) {
	t.Parallel()
	const rate = 5
	e := newEnv(t, "sqlite", memoryLimits(rate, 0))
	acct := e.newAccount("limited", usaCanContract(5))
	tok := e.tenantToken(acct)
	start := time.Now()
	n, refused := e.untilLimited(tok, rate, 100)
	if n < rate || n > admittedAtMost(rate, time.Since(start)) {
		t.Errorf("%d requests admitted before the first 429 in %s; want %d (+ refill)", n, time.Since(start), rate)
	}
	checkRefusal(t, refused)
	// Refused before the handler: a write over the limit changes nothing.
	for {
		r := e.do("POST", "/v1/subaccounts", tok, map[string]any{"name": "over"})
		if r.Status == 429 {
			break
		}
		e.expect(r, 201)
	}
	other := e.tenantToken(acct)
	e.expect(e.do("GET", "/v1/account", other, nil), 200)
}

// TestClientRateLimitOverride: the operator sets a client's own limit on creation and
// with PATCH; 0 is unlimited (no headers, no 429); "default" goes back to the service's.
func TestClientRateLimitOverride(t *testing.T) {
	t.Parallel()
	// The operator is limited too, by the default: its 16 calls here fit in its burst.
	const def = 30
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e2 := newEnv(t, d, memoryLimits(def, 0))
			acct := e2.newAccount("override", usaCanContract(5))
			r := e2.expect(e2.do("POST", "/v1/accounts/"+acct+"/clients", e2.opToken, map[string]any{
				"name": "own limit", "scopes": allTenantScopes, "rateLimit": 3,
			}), 201)
			created := r.json(t)
			id, secret := created["clientId"].(string), created["clientSecret"].(string)
			if created["rateLimit"] != 3.0 {
				t.Errorf("created rateLimit %v", created["rateLimit"])
			}
			tok := e2.token(id, secret, "")
			start := time.Now()
			if n, refused := e2.untilLimited(tok, 3, 50); n < 3 || n > admittedAtMost(3, time.Since(start)) {
				t.Errorf("own limit 3: %d admitted", n)
			} else {
				checkRefusal(t, refused)
			}

			path := "/v1/accounts/" + acct + "/clients/" + id
			if got := e2.expect(e2.do("PATCH", path, e2.opToken, map[string]any{"rateLimit": 0}), 200).json(t); got["rateLimit"] != 0.0 || got["clientId"] != id {
				t.Errorf("PATCH 0: %v", got)
			}
			for i := range 40 {
				r := e2.expect(e2.do("GET", "/v1/account", tok, nil), 200)
				if r.Header.Get("RateLimit") != "" || r.Header.Get("RateLimit-Policy") != "" {
					t.Fatalf("unlimited client, request %d: headers %q %q", i, r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"))
				}
			}
			// The bucket still holds the debt of the phase at 3 a second (about 1 s).
			time.Sleep(1200 * time.Millisecond)
			if got := e2.expect(e2.do("PATCH", path, e2.opToken, map[string]any{"rateLimit": "default"}), 200).json(t); got["rateLimit"] != "default" {
				t.Errorf("PATCH default: %v", got)
			}
			list := e2.expect(e2.do("GET", "/v1/accounts/"+acct+"/clients", e2.opToken, nil), 200).json(t)
			if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["rateLimit"] != "default" {
				t.Errorf("list: %v", list)
			}
			start = time.Now()
			if n, refused := e2.untilLimited(tok, def, 200); n < def || n > admittedAtMost(def, time.Since(start)) {
				t.Errorf("back to the default %d: %d admitted", def, n)
			} else {
				checkRefusal(t, refused)
			}

			// Refused changes: bad values, unknown fields, another account's client.
			other := e2.newAccount("other", usaCanContract(5))
			for _, bad := range []struct {
				name string
				path string
				body any
				want int
			}{
				{"negative", path, map[string]any{"rateLimit": -1}, 400},
				{"too high", path, map[string]any{"rateLimit": 2_000_000}, 400},
				{"fraction", path, map[string]any{"rateLimit": 1.5}, 400},
				{"other string", path, map[string]any{"rateLimit": "none"}, 400},
				{"missing", path, map[string]any{}, 400},
				{"unknown field", path, map[string]any{"rateLimit": 1, "name": "x"}, 400},
				{"another account's client", "/v1/accounts/" + other + "/clients/" + id, map[string]any{"rateLimit": 1}, 404},
				{"unknown client", "/v1/accounts/" + acct + "/clients/" + uuid.NewString(), map[string]any{"rateLimit": 1}, 404},
			} {
				r := e2.do("PATCH", bad.path, e2.opToken, bad.body)
				if r.Status != bad.want {
					t.Errorf("%s: %d %s, want %d", bad.name, r.Status, r.Body, bad.want)
				}
			}
			if got := e2.expect(e2.do("GET", "/v1/accounts/"+acct+"/clients", e2.opToken, nil), 200).json(t)["items"].([]any)[0].(map[string]any); got["rateLimit"] != "default" {
				t.Errorf("a refused change changed the client: %v", got)
			}
			if r := e2.do("POST", "/v1/accounts/"+acct+"/clients", e2.opToken, map[string]any{"name": "x", "scopes": allTenantScopes, "rateLimit": -5}); r.Status != 400 {
				t.Errorf("create with rateLimit -5: %d", r.Status)
			}
		})
	}
}

// TestClientRateLimitOff: CLIENT_RATE_LIMIT=0 limits nobody and sends no headers.
func TestClientRateLimitOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite", memoryLimits(0, 0))
	acct := e.newAccount("unlimited", usaCanContract(5))
	tok := e.tenantToken(acct)
	for i := range 60 {
		r := e.expect(e.do("GET", "/v1/account", tok, nil), 200)
		if r.Header.Get("RateLimit-Policy") != "" {
			t.Fatalf("request %d carries RateLimit-Policy %q", i, r.Header.Get("RateLimit-Policy"))
		}
	}
}

// TestRateLimitSharedThroughRedis: two replicas over one Redis hold one bucket per
// client: requests split across both are refused once the one bucket is empty.
func TestRateLimitSharedThroughRedis(t *testing.T) {
	t.Parallel()
	redisURL := redistest.URL(t)
	prefix := redistest.Prefix(t)
	const rate = 5
	shared := func() httpapi.Limits {
		// A generous timeout: this test is about sharing, on a machine that may be busy.
		rdb, err := ratelimit.NewRedisClient(redisURL, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		return httpapi.Limits{Limiter: ratelimit.NewFallback(ratelimit.NewRedis(rdb, prefix, time.Second), ratelimit.NewMemory(0), nil), ClientRate: rate}
	}
	e := newEnv(t, "sqlite", shared())
	b := e.on(e.replica(shared()))
	acct := e.newAccount("shared", usaCanContract(5))
	tok := e.tenantToken(acct)
	admitted, refusedBy := 0, map[string]int{}
	start, elapsed := time.Now(), time.Duration(0)
	for i := 0; i < 200 && len(refusedBy) < 2; i++ {
		srv := e
		if i%2 == 1 {
			srv = b
		}
		r := srv.do("GET", "/v1/account", tok, nil)
		switch r.Status {
		case 200:
			if len(refusedBy) == 0 {
				admitted++
			}
		case 429:
			checkRefusal(t, r)
			if len(refusedBy) == 0 {
				elapsed = time.Since(start)
			}
			refusedBy[srv.url]++
		default:
			t.Fatalf("status %d %s", r.Status, r.Body)
		}
	}
	// Two separate buckets would admit twice as many (2×rate and twice the refill).
	if admitted < rate || admitted > admittedAtMost(rate, elapsed) {
		t.Errorf("%d admitted across two replicas in %s before the first 429; want %d (+ refill: one shared bucket)", admitted, elapsed, rate)
	}
	if len(refusedBy) != 2 {
		t.Errorf("refusals by replica %v; want both to refuse once the shared bucket is empty", refusedBy)
	}
}

// TestRateLimitRedisDown: with REDIS_URL pointing at a closed port the service keeps
// serving, limits per replica, and warns (once, not per request).
func TestRateLimitRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	rdb, err := ratelimit.NewRedisClient("redis://"+addr+"/0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	const rate = 5
	e := newEnv(t, "sqlite")
	log := slog.New(httpapi.LogHandler(slog.NewJSONHandler(e.logs, nil)))
	limits := httpapi.Limits{Limiter: ratelimit.NewFallback(ratelimit.NewRedis(rdb, "down:", 0), ratelimit.NewMemory(0), log), ClientRate: rate}
	d := e.on(e.replica(limits))
	acct := d.newAccount("redis down", usaCanContract(5))
	tok := d.tenantToken(acct)
	start := time.Now()
	n, refused := d.untilLimited(tok, rate, 100)
	if n < rate || n > admittedAtMost(rate, time.Since(start)) {
		t.Errorf("%d admitted with Redis down; want the per-replica %d", n, rate)
	}
	checkRefusal(t, refused)
	if time.Since(start) > 10*time.Second {
		t.Errorf("%d requests took %s with Redis down", n+1, time.Since(start))
	}
	if c := strings.Count(e.logs.String(), "Redis unreachable"); c != 1 {
		t.Errorf("%d warnings for one outage; want 1", c)
	}
	if !strings.Contains(e.logs.String(), `"level":"WARN","msg":"rate limiter: Redis unreachable`) {
		t.Errorf("no WARN line: %s", e.logs.String())
	}
}

// tokenAttempt posts to the token endpoint from the source address xff (only honoured
// when the server trusts X-Forwarded-For) and returns the response.
func (e *env) tokenAttempt(id, secret, xff string) response {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{Status: resp.StatusCode, Header: resp.Header, Body: body}
	validateAgainstSpec(e.t, req, r)
	return r
}

// TestTokenFailureLimit: the 11th failed authentication within a minute is 429 — per
// client id (from ten different addresses) and per address (for ten different ids) —
// and then even the right secret is refused until the window has room.
func TestTokenFailureLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	acct := e.newAccount("guessed", usaCanContract(5))
	limits := memoryLimits(0, 10)
	limits.TrustForwardedFor = true
	g := e.on(e.replica(limits))
	want429 := func(t *testing.T, r response) {
		t.Helper()
		if r.Status != 429 {
			t.Fatalf("status %d %s, want 429", r.Status, r.Body)
		}
		if p := r.problem(t); p.Type != "/problems/rate-limited" {
			t.Errorf("problem %+v", p)
		}
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || n > 60 {
			t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		if got := r.Header.Get("RateLimit-Policy"); got != `"token-failures";q=10;w=60` {
			t.Errorf("RateLimit-Policy %q", got)
		}
	}

	t.Run("per client id", func(t *testing.T) {
		id, secret := e.newClient(acct, allTenantScopes, "")
		// A client that got a token before (on this replica) keeps getting them.
		known, knownSecret := e.newClient(acct, allTenantScopes, "")
		if r := g.tokenAttempt(known, knownSecret, "192.0.2.200"); r.Status != 200 {
			t.Fatalf("first token: %d %s", r.Status, r.Body)
		}
		for i := range 10 {
			if r := g.tokenAttempt(id, "wrong-secret", "192.0.2."+strconv.Itoa(i+1)); r.Status != 401 {
				t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
			}
			if r := g.tokenAttempt(known, "wrong-secret", "192.0.2."+strconv.Itoa(i+1)); r.Status != 401 {
				t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		want429(t, g.tokenAttempt(id, "wrong-secret", "192.0.2.100"))
		// The right secret, never verified on this replica, is refused unchecked too.
		want429(t, g.tokenAttempt(id, secret, "192.0.2.101"))
		want429(t, g.tokenAttempt(known, "wrong-secret", "192.0.2.100"))
		if r := g.tokenAttempt(known, knownSecret, "192.0.2.100"); r.Status != 200 {
			t.Errorf("a remembered secret while its id is blocked: %d %s", r.Status, r.Body)
		}
		// Another client is not affected.
		other, otherSecret := e.newClient(acct, allTenantScopes, "")
		if r := g.tokenAttempt(other, otherSecret, "192.0.2.102"); r.Status != 200 {
			t.Errorf("another client: %d %s", r.Status, r.Body)
		}
	})
	t.Run("per address", func(t *testing.T) {
		for i := range 10 {
			if r := g.tokenAttempt(uuid.NewString(), "wrong-secret", "198.51.100.7"); r.Status != 401 {
				t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		id, secret := e.newClient(acct, allTenantScopes, "")
		want429(t, g.tokenAttempt(id, secret, "198.51.100.7"))
		if r := g.tokenAttempt(id, secret, "198.51.100.8"); r.Status != 200 {
			t.Errorf("from another address: %d %s", r.Status, r.Body)
		}
	})
	t.Run("forwarded-for ignored unless trusted", func(t *testing.T) {
		u := e.on(e.replica(memoryLimits(0, 10)))
		for i := range 10 {
			if r := u.tokenAttempt(uuid.NewString(), "wrong-secret", "203.0.113."+strconv.Itoa(i+1)); r.Status != 401 {
				t.Fatalf("failure %d: %d", i+1, r.Status)
			}
		}
		// All ten came from the TCP peer, whatever X-Forwarded-For said.
		want429(t, u.tokenAttempt(uuid.NewString(), "wrong-secret", "203.0.113.99"))
	})
}

// TestVerifyCostsMore: an audit verification counts as many requests against the
// client's bucket, so a client cannot verify as often as it can read.
func TestVerifyCostsMore(t *testing.T) {
	t.Parallel()
	const rate = 100
	e := newEnv(t, "sqlite", memoryLimits(rate, 0))
	acct := e.newAccount("verifier", usaCanContract(5))
	tok := e.tenantToken(acct, "audit:read")
	r := e.expect(e.do("GET", "/v1/audit-events/verify", tok, nil), 200)
	m := stateHeader.FindStringSubmatch(r.Header.Get("RateLimit"))
	if m == nil {
		t.Fatalf("RateLimit %q", r.Header.Get("RateLimit"))
	}
	if left, _ := strconv.Atoi(m[1]); left > rate-50+5 {
		t.Errorf("after one verification %d of %d left; want about %d", left, rate, rate-50)
	}
	refused := false
	for range 5 {
		if r := e.do("GET", "/v1/audit-events/verify", tok, nil); r.Status == 429 {
			checkRefusal(t, r)
			refused = true
			break
		}
	}
	if !refused {
		t.Error("six verifications in a row were all admitted by a bucket of 100 requests")
	}
}
