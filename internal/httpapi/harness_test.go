package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/httpapi"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tracing"
)

const (
	operatorID     = "operator"
	operatorSecret = "operator-secret-0123456789"
	audience       = "subaccounts-api"
	accountClaim   = "account_id"
)

// env is one whole service on a real HTTP listener over a fresh database.
type env struct {
	t       testing.TB
	url     string
	db      *store.DB
	issuer  *issuer.Issuer
	handler http.Handler
	svc     *app.Services
	// deps are the server's dependencies, for tests that build a variant of it.
	deps     httpapi.Deps
	opToken  string
	checkAPI bool
	// logs holds everything the server logged, for tests that search it.
	logs *syncBuffer
	// ring is the master key, which opens the sealed signing key.
	ring *keys.Ring
}

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// forEachDB runs fn once per database dialect, each with its own service.
func forEachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, d))
		})
	}
}

// newEnv starts the service; limits, when given, are its rate limits (none otherwise).
func newEnv(t testing.TB, dialect string, limits ...httpapi.Limits) *env {
	t.Helper()
	return newEnvWith(t, dialect, envOptions{limits: firstOr(limits)})
}

// envOptions vary the service newEnvWith starts.
type envOptions struct {
	limits httpapi.Limits
	// traces, when set, traces the server, the services and the store.
	traces *tracing.Tracing
}

func newEnvWith(t testing.TB, dialect string, o envOptions) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.OpenWith(t, dialect, store.Options{QueryTracer: o.traces.QueryTracer(), SQLitePlugin: o.traces.GormPlugin()})
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	ring := keystest.Ring(t)
	is, err := issuer.New(ctx, db, issuer.Config{URL: base, Audience: audience, AccountClaim: accountClaim, MaxLifetime: 24 * time.Hour, BcryptCost: 4, Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	if err := is.EnsureOperator(ctx, operatorID, operatorSecret, io.Discard); err != nil {
		t.Fatal(err)
	}
	v := auth.NewVerifier(auth.Config{
		Issuer: base, Audience: audience, AccountClaim: accountClaim, MaxLifetime: 24 * time.Hour,
		KeySet: auth.NewKeySet(is.FetchKeys, 30*time.Second), Clients: is,
	})
	if _, err := keys.CheckFingerprintKeys(ctx, db, ring); err != nil {
		t.Fatal(err)
	}
	svc := app.New(db, app.Config{Keys: ring, OnClientsRevoked: is.ForgetClients, TracerProvider: o.traces.TracerProvider()})
	logs := &syncBuffer{}
	// Debug level: the PAN canary searches everything the server could log.
	log := slog.New(httpapi.LogHandler(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	deps := httpapi.Deps{
		Tenancy: svc.Tenancy, Cards: svc.Cards, Routing: svc.Routing, Ledger: svc.Ledger, Idempotency: svc.Idempotency, Compliance: svc.Compliance, Webhooks: svc.Webhooks, Audit: svc.Audit, Verifier: v, Issuer: is, Ready: db.Ping, Logger: log, Limits: o.limits,
		TracerProvider: o.traces.TracerProvider(),
	}
	h := httpapi.NewServer(deps)
	ts.Config.Handler = h
	ts.Start()
	// Cleanups run last-in first-out: the server stops before the group commit does.
	t.Cleanup(svc.Close)
	t.Cleanup(ts.Close)
	e := &env{t: t, url: base, db: db, issuer: is, handler: h, deps: deps, svc: svc, checkAPI: true, logs: logs, ring: ring}
	e.opToken = e.token(operatorID, operatorSecret, "")
	return e
}

// at returns a copy of e that reports to t, for use inside subtests.
func (e *env) at(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// response is one HTTP exchange, already checked against openapi.yaml.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// problem returns the problem document, checking the media type.
func (r response) problem(t testing.TB) problemDoc {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p problemDoc
	r.decode(t, &p)
	return p
}

type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Pointer   *string `json:"pointer"`
		Parameter string  `json:"parameter"`
		Detail    string  `json:"detail"`
	} `json:"errors"`
	OutsideContract     []map[string]string `json:"outsideContract"`
	AffectedSubaccounts []struct {
		ID              string              `json:"id"`
		OutsideContract []map[string]string `json:"outsideContract"`
	} `json:"affectedSubaccounts"`
	Scope string `json:"scope"`
	// Reason is the machine-readable reason of a refused money movement or charge.
	Reason string `json:"reason"`
}

// pointers lists the JSON pointers of a problem's errors.
func (p problemDoc) pointers() []string {
	var out []string
	for _, e := range p.Errors {
		if e.Pointer != nil {
			out = append(out, *e.Pointer)
		} else {
			out = append(out, "?"+e.Parameter)
		}
	}
	return out
}

// do sends a request with a JSON body (nil for none; a string or []byte is sent as is).
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	return e.doHeaders(method, path, token, body, nil)
}

func (e *env) doHeaders(method, path, token string, body any, headers map[string]string) response {
	e.t.Helper()
	r, req, raw, err := e.roundTrip(method, path, token, body, headers)
	if err != nil {
		e.t.Fatal(err)
	}
	if e.checkAPI {
		validateAgainstSpec(e.t, req, r)
		if r.Status < 300 {
			// A request the server accepted must be one the spec accepts too.
			validateRequestAgainstSpec(e.t, method, e.url+path, raw, req.Header)
		}
	}
	return r
}

// send is do for goroutines other than the test's: a failure to send comes back as the
// error (FailNow must run on the test's goroutine), and the response is not checked
// against the spec (that check reports through the test's T).
func (e *env) send(method, path, token string, body any) (response, error) {
	r, _, _, err := e.roundTrip(method, path, token, body, nil)
	return r, err
}

// sendHeaders is send with extra request headers.
func (e *env) sendHeaders(method, path, token string, body any, headers map[string]string) (response, error) {
	r, _, _, err := e.roundTrip(method, path, token, body, headers)
	return r, err
}

// roundTrip sends one request and reads its whole answer, failing no test itself.
func (e *env) roundTrip(method, path, token string, body any, headers map[string]string) (response, *http.Request, []byte, error) {
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return response{}, nil, nil, err
		}
	}
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(raw))
	if err != nil {
		return response{}, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, nil, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: out}, req, raw, nil
}

// expect fails the test unless the response has status want.
func (e *env) expect(r response, want int) response {
	e.t.Helper()
	if r.Status != want {
		e.t.Fatalf("status %d, want %d; body %s", r.Status, want, r.Body)
	}
	return r
}

// token obtains a token through the real token endpoint (client_secret_basic).
func (e *env) token(id, secret, scope string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest(http.MethodPost, e.url+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	validateAgainstSpec(e.t, req, response{Status: resp.StatusCode, Header: resp.Header, Body: body})
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("token: %d %s", resp.StatusCode, body)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		e.t.Fatalf("token: %s", body)
	}
	return tr.AccessToken
}

// usaCanContract permits USA and CAN on both networks and GBR on VISA.
func usaCanContract(max int) map[string]any {
	return map[string]any{
		"configurations": []any{
			map[string]any{"countries": []string{"USA", "CAN"}, "networks": []string{"VISA", "MASTERCARD"}},
			map[string]any{"countries": []string{"GBR"}, "networks": []string{"VISA"}},
		},
		"maxSubaccounts": max,
	}
}

func (e *env) newAccount(name string, contract map[string]any) string {
	e.t.Helper()
	r := e.expect(e.do("POST", "/v1/accounts", e.opToken, map[string]any{"name": name, "contract": contract}), 201)
	return r.json(e.t)["id"].(string)
}

// newClient creates a client of account with scopes, optionally confined to a subaccount.
func (e *env) newClient(accountID string, scopes []string, subaccountID string) (string, string) {
	e.t.Helper()
	body := map[string]any{"name": "client", "scopes": scopes}
	if subaccountID != "" {
		body["subaccountId"] = subaccountID
	}
	r := e.expect(e.do("POST", "/v1/accounts/"+accountID+"/clients", e.opToken, body), 201)
	m := r.json(e.t)
	return m["clientId"].(string), m["clientSecret"].(string)
}

var allTenantScopes = subaccounts.TenantScopes

// tenantToken returns a token of a new client of account with scopes.
func (e *env) tenantToken(accountID string, scopes ...string) string {
	e.t.Helper()
	if len(scopes) == 0 {
		scopes = allTenantScopes
	}
	id, secret := e.newClient(accountID, scopes, "")
	return e.token(id, secret, "")
}

func (e *env) newSubaccount(token, name string, configs []any) string {
	e.t.Helper()
	body := map[string]any{"name": name}
	if configs != nil {
		body["configurations"] = configs
	}
	r := e.expect(e.do("POST", "/v1/subaccounts", token, body), 201)
	return r.json(e.t)["id"].(string)
}

func cfg(countries []string, networks ...string) map[string]any {
	return map[string]any{"countries": countries, "networks": networks}
}

// signKey returns the built-in issuer's private key, so tests can forge tokens that are
// validly signed but wrong in some other way.
func (e *env) signKey() (*rsa.PrivateKey, string) {
	e.t.Helper()
	keys, err := e.db.SigningKeys(context.Background())
	if err != nil || len(keys) == 0 {
		e.t.Fatalf("signing keys: %v", err)
	}
	der, _, err := e.ring.Open(keys[0].PrivateKey, []byte("signing-key/"+keys[0].KID))
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		e.t.Fatal(err)
	}
	return k.(*rsa.PrivateKey), keys[0].KID
}

// forge signs claims with the issuer's real key.
func (e *env) forge(claims map[string]any) string {
	e.t.Helper()
	key, kid := e.signKey()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, (&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// goodClaims are the claims of a valid operator-issued tenant token for account.
func (e *env) goodClaims(account string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": e.url, "aud": audience, "sub": operatorID, "client_id": operatorID,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": uuid.NewString(),
		"scope": strings.Join(allTenantScopes, " "), accountClaim: account,
	}
}

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

func loadSpec() (*openapi3.T, routers.Router, error) {
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromFile("../../openapi.yaml")
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(context.Background()); specErr != nil {
			return
		}
		// Match on paths only, whatever host the test server listens on.
		specDoc.Servers = nil
		specRouter, specErr = legacy.NewRouter(specDoc)
	})
	return specDoc, specRouter, specErr
}

// validateAgainstSpec checks a real response against openapi.yaml: the route must be in
// the spec, and the status, headers and body must match what it declares.
func validateAgainstSpec(t testing.TB, req *http.Request, r response) {
	t.Helper()
	_, router, err := loadSpec()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		if r.Status == http.StatusNotFound || r.Status == http.StatusMethodNotAllowed {
			return // a route that does not exist is not in the spec either
		}
		t.Fatalf("%s %s is not in openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{ExcludeRequestBody: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  r.Status,
		Header:  r.Header,
		Body:    io.NopCloser(bytes.NewReader(r.Body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s → %d does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, r.Status, err, truncate(r.Body))
	}
}

// validateRequestAgainstSpec checks a request (parameters, security and body) against
// openapi.yaml.
func validateRequestAgainstSpec(t testing.TB, method, url string, body []byte, header http.Header) {
	t.Helper()
	_, router, err := loadSpec()
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s is not in openapi.yaml: %v", method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("%s %s was accepted by the server but does not match openapi.yaml: %v\nbody: %s", method, req.URL.Path, err, truncate(body))
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}
