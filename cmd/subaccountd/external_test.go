package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// externalIssuer is an OpenID provider of the test's own: discovery and a JWKS over HTTP,
// and tokens signed with its key. It stands in for Keycloak or Auth0, which
// cannot run here; the service talks to it exactly as to those.
type externalIssuer struct {
	srv *httptest.Server

	mu       sync.Mutex
	keys     []jose.JSONWebKey // private keys; the JWKS serves their public halves
	jwksHits int
	// down makes discovery and the JWKS answer 503, as an issuer being restarted does.
	down atomic.Bool
}

func newExternalIssuer(t *testing.T) *externalIssuer {
	t.Helper()
	x := &externalIssuer{}
	x.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		if x.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": x.srv.URL, "jwks_uri": x.srv.URL + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		if x.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		x.jwksHits++
		var set jose.JSONWebKeySet
		for _, k := range x.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		_ = json.NewEncoder(w).Encode(set)
	})
	x.srv = httptest.NewServer(mux)
	t.Cleanup(x.srv.Close)
	return x
}

// rotate adds a new signing key, which becomes the one tokens are signed with.
func (x *externalIssuer) rotate(t *testing.T) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	x.mu.Lock()
	x.keys = append(x.keys, jose.JSONWebKey{Key: k, KeyID: uuid.NewString(), Algorithm: "RS256", Use: "sig"})
	x.mu.Unlock()
}

func (x *externalIssuer) hits() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.jwksHits
}

// token signs claims (with iss, aud, iat, exp, sub filled in) with the newest key.
func (x *externalIssuer) token(t *testing.T, claims map[string]any) string {
	t.Helper()
	x.mu.Lock()
	key := x.keys[len(x.keys)-1]
	x.mu.Unlock()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	all := map[string]any{"iss": x.srv.URL, "aud": []string{"subaccounts-api", "other"}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "sub": "svc", "azp": "svc-client"}
	for k, v := range claims {
		all[k] = v
	}
	raw, err := jwt.Signed(signer).Claims(all).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestExternalIssuer runs the service against an external OpenID provider: discovery,
// remote JWKS, scp arrays, a custom account claim, the refetch limit for unknown kids, and
// the built-in issuer's routes switched off.
func TestExternalIssuer(t *testing.T) {
	x := newExternalIssuer(t)
	s := start(t, map[string]string{
		"DATA_DIR": t.TempDir(), "OIDC_ISSUER_URL": x.srv.URL, "AUTH_ACCOUNT_CLAIM": "https://cardseg.test/account",
	})
	if code, _ := call(t, "POST", s.url+"/oauth2/token", "", nil); code != http.StatusNotFound {
		t.Errorf("token endpoint with an external issuer: %d, want 404", code)
	}
	op := x.token(t, map[string]any{"scp": []string{"accounts:admin"}})
	code, acct := call(t, "POST", s.url+"/v1/accounts", op, map[string]any{
		"name": "Acme", "contract": map[string]any{"maxSubaccounts": 3, "configurations": []any{
			map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}},
		}},
	})
	if code != 201 {
		t.Fatalf("create account with the external operator token: %d %v", code, acct)
	}
	accountID := acct["id"].(string)
	if code, p := call(t, "POST", s.url+"/v1/accounts/"+accountID+"/clients", op, map[string]any{"name": "c", "scopes": []string{"subaccounts:read"}}); code != 501 || p["type"] != "/problems/not-supported" {
		t.Errorf("client creation with an external issuer: %d %v", code, p)
	}

	tenant := x.token(t, map[string]any{"https://cardseg.test/account": accountID, "scp": []string{"subaccounts:read", "subaccounts:write"}})
	if code, sub := call(t, "POST", s.url+"/v1/subaccounts", tenant, map[string]any{"name": "Shop"}); code != 201 {
		t.Fatalf("create subaccount: %d %v", code, sub)
	}
	// The default claim name means nothing here.
	wrongClaim := x.token(t, map[string]any{"account_id": accountID, "scope": "subaccounts:read"})
	if code, _ := call(t, "GET", s.url+"/v1/account", wrongClaim, nil); code != 401 {
		t.Errorf("token without the configured account claim: %d, want 401", code)
	}

	// Tokens naming kids nobody has do not hammer the issuer: the first one may cause a
	// refetch, the rest wait out the 30 s window. (Rotation itself, with a clock moved past
	// the window, is covered in package auth.)
	before := x.hits()
	for range 20 {
		if code, _ := call(t, "GET", s.url+"/v1/account", foreignToken(t, x.srv.URL, accountID), nil); code != 401 {
			t.Fatalf("token signed by an unknown key: %d", code)
		}
	}
	if n := x.hits() - before; n > 1 {
		t.Errorf("20 tokens with unknown kids caused %d JWKS fetches, want at most 1", n)
	}
}

// foreignToken is signed by a key of its own under a fresh kid but claims to come from
// issuer: what an attacker with their own key would send.
func foreignToken(t *testing.T, issuer, account string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: uuid.NewString()}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := jwt.Signed(signer).Claims(map[string]any{
		"iss": issuer, "aud": "subaccounts-api", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(), "scope": "subaccounts:read",
		"https://cardseg.test/account": account,
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestExternalIssuerOutage: the service starts while its issuer is down and answers
// tokens 503 with Retry-After (an outage, not a bad token) until the issuer is back;
// then the next try after the key set's backoff (1 s, 2 s, …) accepts them — not 30 s
// later. A token refused for what it is says why, and the log names the reason without
// the token.
func TestExternalIssuerOutage(t *testing.T) {
	x := newExternalIssuer(t)
	x.down.Store(true)
	s := start(t, map[string]string{"DATA_DIR": t.TempDir(), "OIDC_ISSUER_URL": x.srv.URL})
	if !strings.Contains(s.stderr.String(), "external issuer unreachable") {
		t.Errorf("no warning about the unreachable issuer at start: %s", s.stderr)
	}
	op := x.token(t, map[string]any{"scope": "accounts:admin"})
	for range 3 {
		code, p, h := callHeaders(t, "GET", s.url+"/v1/accounts", op)
		if code != http.StatusServiceUnavailable || p["type"] != "/problems/unavailable" || h.Get("Retry-After") == "" {
			t.Fatalf("with the issuer down: %d %v Retry-After %q, want 503 /problems/unavailable with Retry-After", code, p, h.Get("Retry-After"))
		}
	}

	x.down.Store(false)
	back := time.Now()
	for {
		code, p, _ := callHeaders(t, "GET", s.url+"/v1/accounts", op)
		if code == http.StatusOK {
			break
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("while the key set recovers: %d %v, want 503 or 200", code, p)
		}
		if time.Since(back) > 10*time.Second {
			t.Fatalf("still 503 %s after the issuer came back", time.Since(back))
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("accepted %s after the issuer came back", time.Since(back).Round(time.Millisecond))

	// Down again: tokens under the cached key keep working.
	x.down.Store(true)
	if code, p, _ := callHeaders(t, "GET", s.url+"/v1/accounts", op); code != http.StatusOK {
		t.Errorf("token under a cached key during an outage: %d %v", code, p)
	}

	// A bad token is still 401, and says why.
	wrongAud := x.token(t, map[string]any{"scope": "accounts:admin", "aud": "someone-else"})
	code, p, _ := callHeaders(t, "GET", s.url+"/v1/accounts", wrongAud)
	if code != http.StatusUnauthorized || p["detail"] != "wrong audience" {
		t.Errorf("token for another audience: %d %v, want 401 naming the wrong audience", code, p)
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `"msg":"token refused"`) || !strings.Contains(logs, `"reason":"wrong audience"`) {
		t.Errorf("no INFO line naming the refusal's reason")
	}
	if strings.Contains(logs, wrongAud) || strings.Contains(logs, op) {
		t.Error("a token was logged")
	}
}

// callHeaders is call for a body-less request that also returns the response headers.
func callHeaders(t *testing.T, method, u, token string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}
