package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestEveryResponseIsNosniff: X-Content-Type-Options: nosniff on a 200, a 404 and a 405
// from the router, and problems from the authentication and validation layers.
func TestEveryResponseIsNosniff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	tests := []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"healthz", "GET", "/healthz", "", nil, 200},
		{"jwks", "GET", "/oauth2/jwks.json", "", nil, 200},
		{"operator list", "GET", "/v1/accounts", e.opToken, nil, 200},
		{"no route", "GET", "/v1/nothing-here", e.opToken, nil, 404},
		{"no route outside v1", "GET", "/nothing", "", nil, 404},
		{"wrong method", "PUT", "/healthz", "", nil, 405},
		{"no token", "GET", "/v1/account", "", nil, 401},
		{"invalid body", "POST", "/v1/accounts", e.opToken, `{"name":`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			r := e.expect(e.do(tt.method, tt.path, tt.token, tt.body), tt.status)
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// TestPanicResponseIsNosniff: the 500 that the recovery writes after a panic carries
// nosniff too, because withRequest sets it before anything else runs.
func TestPanicResponseIsNosniff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	// A route of the test's own, outside the spec, on this env's engine only.
	e.handler.(*gin.Engine).GET("/panics", func(*gin.Context) { panic("boom") })
	e.checkAPI = false
	r := e.expect(e.do("GET", "/panics", "", nil), 500)
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q on a panic's 500, want nosniff", got)
	}
}

// TestClientSecretIsNoStore: the response carrying a new client's secret, first and
// replayed, is Cache-Control: no-store.
func TestClientSecretIsNoStore(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		body := map[string]any{"name": "backend", "scopes": []string{"subaccounts:read"}}
		path := "/v1/accounts/" + acct + "/clients"
		key := map[string]string{"Idempotency-Key": "create-backend-client"}
		responses := map[string]response{
			"without idempotency key": e.expect(e.do("POST", path, e.opToken, body), 201),
			"first with a key":        e.expect(e.doHeaders("POST", path, e.opToken, body, key), 201),
			"replayed":                e.expect(e.doHeaders("POST", path, e.opToken, body, key), 201),
		}
		for name, r := range responses {
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", name, got)
			}
			if r.json(t)["clientSecret"] == "" {
				t.Errorf("%s: no clientSecret in %s", name, r.Body)
			}
		}
		if r := responses["replayed"]; r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("the second keyed request was not a replay: %v", r.Header)
		}
	})
}

// TestRequestLogDurationInMilliseconds: the access log's duration is duration_ms, a
// number of milliseconds, and no bare nanosecond "duration" is left.
func TestRequestLogDurationInMilliseconds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	e.expect(e.doHeaders("GET", "/healthz", "", nil, map[string]string{"X-Request-Id": "duration-check"}), 200)
	var found bool
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if !strings.Contains(line, `"duration-check"`) {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["msg"] != "request" {
			continue
		}
		found = true
		ms, ok := rec["duration_ms"].(float64)
		if !ok || ms < 0 || ms > 60_000 {
			t.Errorf("duration_ms %v (%T) in %s, want milliseconds as a number", rec["duration_ms"], rec["duration_ms"], line)
		}
		if _, ok := rec["duration"]; ok {
			t.Errorf("request line still has duration: %s", line)
		}
	}
	if !found {
		t.Fatalf("no request log line for the request in:\n%s", e.logs.String())
	}
}
