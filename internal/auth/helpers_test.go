package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "subaccounts-api"
	testClaim    = "account_id"
	testAccount  = "0b9c5a3e-6f0e-4d8e-9a51-1c2d3e4f5a6b"
	testSubacct  = "7a1e2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	testClient   = "client-1"
	testLifetime = 24 * time.Hour
)

// testNow is the verifiers' fixed clock; tokens are built relative to it.
var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type testKey struct {
	priv *rsa.PrivateKey
	kid  string
}

// RSA key generation is slow, so the few keys the tests need are made once and shared;
// they are never modified.
var testKeys = sync.OnceValues(func() (map[string]testKey, error) {
	out := map[string]testKey{}
	for _, name := range []string{"a", "b", "c"} {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		out[name] = testKey{priv: k, kid: "kid-" + name}
	}
	return out, nil
})

// key returns shared test key "a", "b" or "c".
func key(t testing.TB, name string) testKey {
	t.Helper()
	keys, err := testKeys()
	if err != nil {
		t.Fatalf("generate keys: %v", err)
	}
	k, ok := keys[name]
	if !ok {
		t.Fatalf("no test key %q", name)
	}
	return k
}

func (k testKey) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"}
}

func jwks(keys ...testKey) jose.JSONWebKeySet {
	var set jose.JSONWebKeySet
	for _, k := range keys {
		set.Keys = append(set.Keys, k.public())
	}
	return set
}

// baseClaims is a valid access token's claim set at testNow.
func baseClaims() map[string]any {
	return map[string]any{
		"iss":       testIssuer,
		"aud":       testAudience,
		"sub":       testClient,
		"client_id": testClient,
		"iat":       testNow.Add(-time.Minute).Unix(),
		"exp":       testNow.Add(time.Hour).Unix(),
		"jti":       "jti-1",
		"scope":     "subaccounts:read subaccounts:write",
		testClaim:   testAccount,
	}
}

// claimsWith returns baseClaims changed by edit.
func claimsWith(edit func(c map[string]any)) map[string]any {
	c := baseClaims()
	if edit != nil {
		edit(c)
	}
	return c
}

type signOpts struct {
	kid     string // overrides the key's kid when set
	noKID   bool
	typ     string
	headers map[jose.HeaderKey]any
}

// sign returns a compact RS256 JWS of claims under k.
func sign(t testing.TB, k testKey, claims map[string]any, o signOpts) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	if o.typ != "" {
		opts = opts.WithType(jose.ContentType(o.typ))
	}
	for h, v := range o.headers {
		opts = opts.WithHeader(h, v)
	}
	var sk any = k.priv
	if !o.noKID {
		kid := k.kid
		if o.kid != "" {
			kid = o.kid
		}
		sk = jose.JSONWebKey{Key: k.priv, KeyID: kid}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: sk}, opts)
	if err != nil {
		t.Fatalf("signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return raw
}

// unsignedJWT builds header.payload.signature by hand, for tokens no library would make.
func unsignedJWT(t testing.TB, header map[string]any, claims map[string]any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(h) + "." + enc.EncodeToString(p) + "." + sig
}

func bearer(tok string) string { return "Bearer " + tok }

// fakeClock is a settable clock for the KeySet.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeIssuer serves a key set that the test can replace, and counts requests.
type fakeIssuer struct {
	mu    sync.Mutex
	set   jose.JSONWebKeySet
	err   error
	calls int
}

func (f *fakeIssuer) Fetch(context.Context) (jose.JSONWebKeySet, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	return f.set, f.err
}

func (f *fakeIssuer) Serve(set jose.JSONWebKeySet) {
	f.mu.Lock()
	f.set = set
	f.mu.Unlock()
}

func (f *fakeIssuer) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// fakeClients is a ClientChecker with a fixed answer that records what it was asked.
type fakeClients struct {
	active bool
	err    error

	mu    sync.Mutex
	asked []string
}

func (f *fakeClients) ClientActive(_ context.Context, id string) (bool, error) {
	f.mu.Lock()
	f.asked = append(f.asked, id)
	f.mu.Unlock()
	return f.active, f.err
}

type fixture struct {
	verifier *Verifier
	keys     *KeySet
	issuer   *fakeIssuer
	clock    *fakeClock
}

// newFixture returns a Verifier at testNow over a KeySet serving set, with a KeySet clock
// the test can move and a refetch window of one minute.
func newFixture(t testing.TB, set jose.JSONWebKeySet, clients ClientChecker) *fixture {
	t.Helper()
	f := &fixture{issuer: &fakeIssuer{set: set}, clock: &fakeClock{t: testNow}}
	f.keys = NewKeySet(f.issuer.Fetch, time.Minute)
	f.keys.now = f.clock.Now
	f.verifier = NewVerifier(Config{
		Issuer:       testIssuer,
		Audience:     testAudience,
		AccountClaim: testClaim,
		MaxLifetime:  testLifetime,
		KeySet:       f.keys,
		Clients:      clients,
		Now:          func() time.Time { return testNow },
	})
	return f
}

// assertRefused fails unless err is an *Error whose description contains want.
func assertRefused(t testing.TB, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("token accepted, want refused")
	}
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *auth.Error", err, err)
	}
	if !strings.Contains(ae.Description, want) {
		t.Errorf("description %q does not contain %q", ae.Description, want)
	}
}
