package issuer_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

const (
	issuerURL    = "https://issuer.test"
	audience     = "subaccounts-api"
	accountClaim = "account_id"
)

func testConfig() issuer.Config {
	return issuer.Config{
		URL:          issuerURL,
		Audience:     audience,
		AccountClaim: accountClaim,
		MaxLifetime:  24 * time.Hour,
		BcryptCost:   bcrypt.MinCost,
		Keys:         testRing,
	}
}

// testRing is the master key of every issuer of these tests: replicas share it.
var testRing = func() *keys.Ring {
	r, err := keys.NewRing(keys.Master{Version: 1, Key: []byte("issuer tests' master key: 32 bytes")})
	if err != nil {
		panic(err)
	}
	return r
}()

// env is one issuer over a fresh store, with a verifier trusting it.
type env struct {
	ctx      context.Context
	store    *store.DB
	issuer   *issuer.Issuer
	verifier *auth.Verifier
	cfg      issuer.Config
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, testConfig())
}

func newEnvWith(t *testing.T, cfg issuer.Config) *env {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	is, err := issuer.New(ctx, db, cfg)
	if err != nil {
		t.Fatalf("issuer.New: %v", err)
	}
	return &env{ctx: ctx, store: db, issuer: is, cfg: cfg, verifier: verifierFor(is, cfg)}
}

func verifierFor(is *issuer.Issuer, cfg issuer.Config) *auth.Verifier {
	return auth.NewVerifier(auth.Config{
		Issuer:       cfg.URL,
		Audience:     cfg.Audience,
		AccountClaim: cfg.AccountClaim,
		MaxLifetime:  cfg.MaxLifetime,
		KeySet:       auth.NewKeySet(is.FetchKeys, time.Minute),
		Clients:      is,
	})
}

// account creates an account and returns its id.
func (e *env) account(t *testing.T) uuid.UUID {
	t.Helper()
	now := subaccounts.Now()
	a := subaccounts.Account{
		ID:        uuid.Must(uuid.NewV7()),
		Name:      "acct " + uuid.NewString()[:8],
		Contract:  subaccounts.Contract{MaxSubaccounts: 10, Version: 1, Currency: "EUR"},
		CreatedAt: now,
		UpdatedAt: now,
	}
	if err := e.store.CreateAccount(e.ctx, a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return a.ID
}

// subaccount creates a subaccount of accountID and returns its id.
func (e *env) subaccount(t *testing.T, accountID uuid.UUID) uuid.UUID {
	t.Helper()
	now := subaccounts.Now()
	s := subaccounts.Subaccount{
		ID:            uuid.Must(uuid.NewV7()),
		AccountID:     accountID,
		Name:          "sub " + uuid.NewString()[:8],
		ConfigVersion: 1,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := e.store.CreateSubaccount(e.ctx, s, nil); err != nil {
		t.Fatalf("CreateSubaccount: %v", err)
	}
	return s.ID
}

// client creates a tenant client and returns it with its secret.
func (e *env) client(t *testing.T, accountID uuid.UUID, in issuer.ClientInput) (subaccounts.Client, string) {
	t.Helper()
	c, secret, err := e.issuer.CreateClient(e.ctx, accountID, in)
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	return c, secret
}

// token obtains a token and verifies it, failing the test on either error.
func (e *env) token(t *testing.T, clientID, secret, scope string) (issuer.TokenResponse, auth.Token) {
	t.Helper()
	resp, err := e.issuer.Token(e.ctx, clientID, secret, scope)
	if err != nil {
		t.Fatalf("Token(%q, scope %q): %v", clientID, scope, err)
	}
	tok, err := e.verifier.Verify(e.ctx, "Bearer "+resp.AccessToken)
	if err != nil {
		t.Fatalf("Verify issued token: %v", err)
	}
	return resp, tok
}

// wantOAuthError fails unless err is an *issuer.OAuthError with code and status.
func wantOAuthError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var oe *issuer.OAuthError
	if !errors.As(err, &oe) {
		t.Fatalf("error %v (%T), want *issuer.OAuthError %s", err, err, code)
	}
	if oe.Code != code || oe.Status != status {
		t.Errorf("OAuthError = %d %s, want %d %s", oe.Status, oe.Code, status, code)
	}
}

// rawClaims decodes a compact JWS's payload without verifying it (the tests verify
// separately) so every claim can be inspected with its JSON type.
func rawClaims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return c
}

func jwksJSON(t *testing.T, set jose.JSONWebKeySet) string {
	t.Helper()
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatalf("marshal jwks: %v", err)
	}
	return string(b)
}

func TestNewCreatesAndReloadsKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storetest.Open(t, "sqlite")
	keys, err := db.SigningKeys(ctx)
	if err != nil || len(keys) != 0 {
		t.Fatalf("fresh store: %d keys, err %v", len(keys), err)
	}

	first, err := issuer.New(ctx, db, testConfig())
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	keys, err = db.SigningKeys(ctx)
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	if len(keys) != 1 {
		t.Fatalf("after New: %d stored keys, want 1", len(keys))
	}
	set := first.JWKS()
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	pub := set.Keys[0]
	if pub.KeyID == "" || pub.KeyID != keys[0].KID {
		t.Errorf("JWKS kid %q, stored kid %q", pub.KeyID, keys[0].KID)
	}
	if keys[0].Algorithm != "RS256" || pub.Algorithm != "RS256" || pub.Use != "sig" {
		t.Errorf("algorithm %q/%q use %q, want RS256/RS256 sig", keys[0].Algorithm, pub.Algorithm, pub.Use)
	}
	if !pub.IsPublic() {
		t.Error("JWKS publishes a private key")
	}
	if js := jwksJSON(t, set); strings.Contains(js, `"d":`) || strings.Contains(js, `"p":`) {
		t.Errorf("JWKS JSON holds private parameters: %s", js)
	}
	if strings.Contains(keys[0].PrivateKey, "PRIVATE KEY") || !strings.HasPrefix(keys[0].PrivateKey, "kek1:1:") {
		t.Errorf("stored key is not sealed under master key version 1")
	}
	fetched, err := first.FetchKeys(ctx)
	if err != nil || jwksJSON(t, fetched) != jwksJSON(t, set) {
		t.Errorf("FetchKeys = %s (err %v), want the JWKS", jwksJSON(t, fetched), err)
	}

	second, err := issuer.New(ctx, db, testConfig())
	if err != nil {
		t.Fatalf("second New: %v", err)
	}
	if got, want := jwksJSON(t, second.JWKS()), jwksJSON(t, set); got != want {
		t.Errorf("second New published %s, want the same key %s", got, want)
	}
	if keys, _ := db.SigningKeys(ctx); len(keys) != 1 {
		t.Errorf("after second New: %d stored keys, want 1", len(keys))
	}

	// A token of the first verifies against the second's key set: one key, two instances.
	c, secret, err := first.CreateClient(ctx, mustAccount(t, db), issuer.ClientInput{Name: "c", Scopes: []string{subaccounts.ScopeSubaccountsRead}})
	if err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	resp, err := first.Token(ctx, c.ID, secret, "")
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	if _, err := verifierFor(second, testConfig()).Verify(ctx, "Bearer "+resp.AccessToken); err != nil {
		t.Errorf("token of the first instance refused by the second: %v", err)
	}
}

func mustAccount(t *testing.T, db *store.DB) uuid.UUID {
	t.Helper()
	e := &env{ctx: context.Background(), store: db}
	return e.account(t)
}

// TestNewRacingReplicasAgreeOnKey starts several issuers at once on one empty database,
// as replicas do, and requires that they all sign with the same key.
func TestNewRacingReplicasAgreeOnKey(t *testing.T) {
	t.Parallel()
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, dialect)
			const replicas = 4
			kids := make([]string, replicas)
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i := range replicas {
				wg.Go(func() {
					is, err := issuer.New(ctx, db, testConfig())
					errs[i] = err
					if err == nil {
						kids[i] = is.JWKS().Keys[0].KeyID
					}
				})
			}
			wg.Wait()
			for i := range replicas {
				if errs[i] != nil {
					t.Fatalf("replica %d: %v", i, errs[i])
				}
				if kids[i] != kids[0] {
					t.Fatalf("replicas sign with different keys: %v", kids)
				}
			}
			keys, err := db.SigningKeys(ctx)
			if err != nil || len(keys) != 1 {
				t.Fatalf("%d keys stored (%v), want 1", len(keys), err)
			}
		})
	}
}

func TestTokenClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	sub := e.subaccount(t, acct)
	tenant, tenantSecret := e.client(t, acct, issuer.ClientInput{Name: "tenant", Scopes: subaccounts.TenantScopes})
	confined, confinedSecret := e.client(t, acct, issuer.ClientInput{Name: "confined", Scopes: []string{subaccounts.ScopeSubaccountsRead}, SubaccountID: &sub})
	const opID, opSecret = "operator-test", "operator-secret-0123456789"
	if err := e.issuer.EnsureOperator(e.ctx, opID, opSecret, nil); err != nil {
		t.Fatalf("EnsureOperator: %v", err)
	}

	tests := []struct {
		name       string
		id, secret string
		wantScope  string
		wantAcct   *uuid.UUID
		wantSub    *uuid.UUID
	}{
		{name: "tenant", id: tenant.ID, secret: tenantSecret, wantScope: strings.Join(subaccounts.TenantScopes, " "), wantAcct: &acct},
		{name: "confined", id: confined.ID, secret: confinedSecret, wantScope: "subaccounts:read", wantAcct: &acct, wantSub: &sub},
		{name: "operator", id: opID, secret: opSecret, wantScope: "accounts:admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, tok := e.token(t, tt.id, tt.secret, "")
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 3600 || resp.Scope != tt.wantScope {
				t.Errorf("response = %+v, want Bearer, 3600s, scope %q", resp, tt.wantScope)
			}

			c := rawClaims(t, resp.AccessToken)
			for name, want := range map[string]any{
				"iss": issuerURL, "aud": audience, "sub": tt.id, "client_id": tt.id, "scope": tt.wantScope,
			} {
				if c[name] != want {
					t.Errorf("claim %s = %v, want %v", name, c[name], want)
				}
			}
			iat, okI := c["iat"].(float64)
			exp, okE := c["exp"].(float64)
			if !okI || !okE || exp-iat != 3600 {
				t.Errorf("iat %v, exp %v: want numbers one hour apart", c["iat"], c["exp"])
			}
			if jti, _ := c["jti"].(string); uuid.Validate(jti) != nil {
				t.Errorf("jti = %v, want a UUID", c["jti"])
			}
			if tt.wantAcct == nil {
				if v, ok := c[accountClaim]; ok {
					t.Errorf("operator token carries %s = %v", accountClaim, v)
				}
			} else if c[accountClaim] != tt.wantAcct.String() {
				t.Errorf("%s = %v, want %s", accountClaim, c[accountClaim], tt.wantAcct)
			}
			if tt.wantSub == nil {
				if v, ok := c["subaccount_id"]; ok {
					t.Errorf("unconfined token carries subaccount_id = %v", v)
				}
			} else if c["subaccount_id"] != tt.wantSub.String() {
				t.Errorf("subaccount_id = %v, want %s", c["subaccount_id"], tt.wantSub)
			}

			// And what the verifier makes of it.
			p := tok.Principal
			if p.ClientID != tt.id || p.Subject != tt.id {
				t.Errorf("principal client %q subject %q, want %q", p.ClientID, p.Subject, tt.id)
			}
			if got := strings.Join(p.Scopes, " "); got != tt.wantScope {
				t.Errorf("principal scopes %q, want %q", got, tt.wantScope)
			}
			if tt.wantAcct == nil {
				if tok.AccountErr == nil {
					t.Error("operator token: AccountErr = nil, want the missing-claim error")
				}
			} else if tok.AccountErr != nil || p.AccountID != *tt.wantAcct {
				t.Errorf("principal account %v (err %v), want %s", p.AccountID, tok.AccountErr, tt.wantAcct)
			}
			if (p.SubaccountID == nil) != (tt.wantSub == nil) || (tt.wantSub != nil && *p.SubaccountID != *tt.wantSub) {
				t.Errorf("principal subaccount %v, want %v", p.SubaccountID, tt.wantSub)
			}
		})
	}
}

func TestTokenHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, secret := e.client(t, e.account(t), issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	resp, _ := e.token(t, c.ID, secret, "")
	jws, err := jose.ParseSignedCompact(resp.AccessToken, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	h := jws.Signatures[0].Header
	if h.KeyID != e.issuer.JWKS().Keys[0].KeyID {
		t.Errorf("kid %q, want the published %q", h.KeyID, e.issuer.JWKS().Keys[0].KeyID)
	}
	if typ := h.ExtraHeaders[jose.HeaderType]; typ != "at+jwt" {
		t.Errorf("typ = %v, want at+jwt", typ)
	}
	// Every token gets its own jti.
	again, _ := e.token(t, c.ID, secret, "")
	if rawClaims(t, resp.AccessToken)["jti"] == rawClaims(t, again.AccessToken)["jti"] {
		t.Error("two tokens share a jti")
	}
}

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		max      time.Duration
		wantSecs int64
	}{
		{name: "max above an hour", max: 24 * time.Hour, wantSecs: 3600},
		{name: "max exactly an hour", max: time.Hour, wantSecs: 3600},
		{name: "max below an hour", max: 10 * time.Minute, wantSecs: 600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.MaxLifetime = tt.max
			e := newEnvWith(t, cfg)
			c, secret := e.client(t, e.account(t), issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
			resp, _ := e.token(t, c.ID, secret, "")
			claims := rawClaims(t, resp.AccessToken)
			if got := int64(claims["exp"].(float64) - claims["iat"].(float64)); got != tt.wantSecs {
				t.Errorf("exp-iat = %d, want %d", got, tt.wantSecs)
			}
			if resp.ExpiresIn != tt.wantSecs {
				t.Errorf("expires_in = %d, want %d", resp.ExpiresIn, tt.wantSecs)
			}
		})
	}
}

func TestTokenScopeNarrowing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct := e.account(t)
	full, fullSecret := e.client(t, acct, issuer.ClientInput{Name: "full", Scopes: subaccounts.TenantScopes})
	ro, roSecret := e.client(t, acct, issuer.ClientInput{Name: "ro", Scopes: []string{subaccounts.ScopeSubaccountsRead}})

	tests := []struct {
		name       string
		id, secret string
		request    string
		want       []string // nil: invalid_scope
	}{
		{name: "none requested gives all granted", id: full.ID, secret: fullSecret, request: "", want: subaccounts.TenantScopes},
		{name: "blank request gives all granted", id: full.ID, secret: fullSecret, request: "   ", want: subaccounts.TenantScopes},
		{name: "subset", id: full.ID, secret: fullSecret, request: "subaccounts:read", want: []string{"subaccounts:read"}},
		{name: "other subset", id: full.ID, secret: fullSecret, request: "subaccounts:write", want: []string{"subaccounts:write"}},
		{name: "reordered", id: full.ID, secret: fullSecret, request: "subaccounts:write subaccounts:read", want: []string{"subaccounts:write", "subaccounts:read"}},
		{name: "duplicates collapse", id: full.ID, secret: fullSecret, request: "subaccounts:read subaccounts:read", want: []string{"subaccounts:read"}},
		{name: "ungranted tenant scope", id: ro.ID, secret: roSecret, request: "subaccounts:write"},
		{name: "granted plus ungranted", id: ro.ID, secret: roSecret, request: "subaccounts:read subaccounts:write"},
		{name: "operator scope", id: full.ID, secret: fullSecret, request: "accounts:admin"},
		{name: "unknown scope", id: full.ID, secret: fullSecret, request: "openid"},
		{name: "case differs", id: full.ID, secret: fullSecret, request: "SUBACCOUNTS:READ"},
		{name: "card number as scope", id: full.ID, secret: fullSecret, request: "subaccounts:read 4111111111111111"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				_, err := e.issuer.Token(e.ctx, tt.id, tt.secret, tt.request)
				wantOAuthError(t, err, "invalid_scope", 400)
				for _, s := range strings.Fields(tt.request) {
					if !slices.Contains(subaccounts.TenantScopes, s) && s != subaccounts.ScopeAccountsAdmin && err != nil && strings.Contains(err.Error(), s) {
						t.Errorf("error %q echoes the undefined scope %q", err, s)
					}
				}
				return
			}
			resp, tok := e.token(t, tt.id, tt.secret, tt.request)
			if !slices.Equal(tok.Principal.Scopes, tt.want) {
				t.Errorf("token scopes %q, want %q", tok.Principal.Scopes, tt.want)
			}
			if resp.Scope != strings.Join(tt.want, " ") {
				t.Errorf("response scope %q, want %q", resp.Scope, strings.Join(tt.want, " "))
			}
		})
	}
}

func TestTokenClientAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, secret := e.client(t, e.account(t), issuer.ClientInput{Name: "c", Scopes: subaccounts.TenantScopes})
	tests := []struct {
		name       string
		id, secret string
	}{
		{name: "wrong secret", id: c.ID, secret: issuer.NewSecret()},
		{name: "empty secret", id: c.ID, secret: ""},
		{name: "secret prefix", id: c.ID, secret: secret[:len(secret)-1]},
		{name: "secret with suffix", id: c.ID, secret: secret + "0"},
		{name: "secret upper-cased", id: c.ID, secret: strings.ToUpper(secret)},
		{name: "the hash as secret", id: c.ID, secret: c.SecretHash},
		{name: "unknown client", id: uuid.NewString(), secret: secret},
		{name: "empty client id", id: "", secret: secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.issuer.Token(e.ctx, tt.id, tt.secret, "")
			wantOAuthError(t, err, "invalid_client", 401)
			if resp.AccessToken != "" {
				t.Errorf("token issued alongside the error")
			}
		})
	}
	// The genuine secret still works after all the failures.
	e.token(t, c.ID, secret, "")
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.URL = "https://issuer.test/base/"
	e := newEnvWith(t, cfg)
	d := e.issuer.Discovery()
	if d.Issuer != cfg.URL || e.issuer.URL() != cfg.URL {
		t.Errorf("issuer %q / URL() %q, want %q", d.Issuer, e.issuer.URL(), cfg.URL)
	}
	if d.TokenEndpoint != "https://issuer.test/base/oauth2/token" || d.JWKSURI != "https://issuer.test/base/oauth2/jwks.json" {
		t.Errorf("endpoints %q, %q", d.TokenEndpoint, d.JWKSURI)
	}
	if !slices.Equal(d.GrantTypesSupported, []string{"client_credentials"}) {
		t.Errorf("grant types %q", d.GrantTypesSupported)
	}
	for _, s := range append(slices.Clone(subaccounts.TenantScopes), subaccounts.ScopeAccountsAdmin) {
		if !slices.Contains(d.ScopesSupported, s) {
			t.Errorf("scopes_supported %q lacks %q", d.ScopesSupported, s)
		}
	}
	if !slices.Equal(d.IDTokenSigningAlgValuesSupported, []string{"RS256"}) {
		t.Errorf("signing algs %q", d.IDTokenSigningAlgValuesSupported)
	}
	// Discovery must not alias package state: changing it changes nothing later.
	d.ScopesSupported[0] = "mutated"
	if slices.Contains(subaccounts.TenantScopes, "mutated") || slices.Contains(e.issuer.Discovery().ScopesSupported, "mutated") {
		t.Error("Discovery().ScopesSupported aliases subaccounts.TenantScopes")
	}
}

func TestOAuthErrorJSON(t *testing.T) {
	t.Parallel()
	e := &issuer.OAuthError{Status: 400, Code: "invalid_scope", Description: "nope"}
	if e.Error() != "invalid_scope: nope" {
		t.Errorf("Error() = %q", e.Error())
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"error":"invalid_scope","error_description":"nope"}` {
		t.Errorf("JSON = %s", b)
	}
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		s := issuer.NewSecret()
		if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("secret %q: want 64 lower-case hex characters", s)
		}
		if seen[s] {
			t.Fatalf("secret %q repeated", s)
		}
		seen[s] = true
	}
}
