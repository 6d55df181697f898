package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The credentials the fake API accepts, and the token it issues.
const (
	fakeClientID = "cli-client"
	fakeSecret   = "fake-secret-9f8e7d6c5b4a39281706"
	fakeToken    = "fake-access-token-0a1b2c3d4e5f"
)

// fakeAPI is an httptest server standing in for subaccountd in unit tests: a token
// endpoint that checks HTTP Basic credentials, and whatever API routes a test adds.
type fakeAPI struct {
	*httptest.Server
	mux *http.ServeMux

	mu sync.Mutex
	// tokenCalls records the client id and scope, audience and resource parameters of
	// every token request.
	tokenCalls []tokenCall
	// requests records every API request (its path as sent, escaped) with its body.
	requests []recorded
}

// tokenCall is one token request: the client id and the form parameters that say what
// the token is for.
type tokenCall struct{ clientID, scope, audience, resource string }

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	f := &fakeAPI{mux: http.NewServeMux()}
	token := func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		_ = r.ParseForm()
		f.mu.Lock()
		f.tokenCalls = append(f.tokenCalls, tokenCall{clientID: id, scope: r.PostForm.Get("scope"),
			audience: r.PostForm.Get("audience"), resource: r.PostForm.Get("resource")})
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != fakeClientID || secret != fakeSecret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.Header().Set("WWW-Authenticate", `Basic realm="oauth2"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client","error_description":"client authentication failed"}`)
			return
		}
		if strings.Contains(r.PostForm.Get("scope"), "not-granted") {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"invalid_scope","error_description":"requested scope is not allowed"}`)
			return
		}
		_, _ = io.WriteString(w, `{"access_token":"`+fakeToken+`","token_type":"Bearer","expires_in":3600}`)
	}
	f.mux.HandleFunc("POST /oauth2/token", token)
	// The same endpoint under another path stands in for an external issuer's.
	f.mux.HandleFunc("POST /idp/token", token)
	f.Server = httptest.NewServer(f.mux)
	t.Cleanup(f.Close)
	return f
}

// handle adds an API route that demands the fake token and records each request.
func (f *fakeAPI) handle(pattern string, h http.HandlerFunc) {
	f.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.requests = append(f.requests, recorded{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery, header: r.Header.Clone(), body: body})
		f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+fakeToken {
			writeProblemDoc(w, http.StatusUnauthorized, `{"type":"/problems/unauthorized","title":"A valid access token is required","status":401}`)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})
}

func (f *fakeAPI) recordedRequests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.requests...)
}

func (f *fakeAPI) tokenRequests() []tokenCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokenCall(nil), f.tokenCalls...)
}

// env is the environment that points the CLI at the fake with valid credentials.
func (f *fakeAPI) env() map[string]string {
	return map[string]string{
		"SUBACCOUNTS_URL":           f.URL,
		"SUBACCOUNTS_CLIENT_ID":     fakeClientID,
		"SUBACCOUNTS_CLIENT_SECRET": fakeSecret,
	}
}

func writeJSONDoc(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, doc)
}

func writeProblemDoc(w http.ResponseWriter, status int, doc string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, doc)
}

// result is what one run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

// all is stdout and stderr together, for assertions about everything shown.
func (r result) all() string { return r.stdout + r.stderr }

// runCLI runs the CLI as main would, with env as the whole environment and stdin as its
// standard input.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(context.Background(), append([]string{"subaccountctl"}, args...), getenv, strings.NewReader(stdin), &out, &errb)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// mustJSON decodes s into a generic value or fails the test.
func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, s)
	}
	return v
}
