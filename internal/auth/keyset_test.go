package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// verify runs one verification and reports whether the token was accepted; anything but
// acceptance or an *Error fails the test.
func (f *fixture) verify(t *testing.T, tok string) bool {
	t.Helper()
	_, err := f.verifier.Verify(context.Background(), bearer(tok))
	if err == nil {
		return true
	}
	var ae *Error
	if !errors.As(err, &ae) {
		t.Errorf("Verify: %v (%T), want nil or *auth.Error", err, err)
	}
	return false
}

func wantFetches(t *testing.T, f *fixture, want int) {
	t.Helper()
	if got := f.keys.Fetches(); got != want {
		t.Errorf("Fetches() = %d, want %d", got, want)
	}
	if got := f.issuer.Calls(); got != want {
		t.Errorf("fetch function called %d times, want %d", got, want)
	}
}

func TestKeySetCachesKeys(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	f := newFixture(t, jwks(a), nil)
	wantFetches(t, f, 0)
	tok := sign(t, a, baseClaims(), signOpts{})
	for range 10 {
		if !f.verify(t, tok) {
			t.Fatal("valid token refused")
		}
	}
	wantFetches(t, f, 1)
	// Even long after, a known kid is served from the cache.
	f.clock.Advance(24 * time.Hour)
	if !f.verify(t, tok) {
		t.Fatal("valid token refused")
	}
	wantFetches(t, f, 1)
}

func TestKeySetUnknownKIDFirstToken(t *testing.T) {
	t.Parallel()
	a, b := key(t, "a"), key(t, "b")
	f := newFixture(t, jwks(a), nil)
	// The very first token names an unknown kid: one fetch fills the cache, and the
	// refetch that follows is throttled because that fetch just happened.
	if f.verify(t, sign(t, b, baseClaims(), signOpts{})) {
		t.Fatal("token with unknown kid accepted")
	}
	wantFetches(t, f, 1)
	if !f.verify(t, sign(t, a, baseClaims(), signOpts{})) {
		t.Fatal("valid token refused")
	}
	wantFetches(t, f, 1)
}

func TestKeySetThrottlesUnknownKIDs(t *testing.T) {
	t.Parallel()
	a, b := key(t, "a"), key(t, "b")
	f := newFixture(t, jwks(a), nil)
	good := sign(t, a, baseClaims(), signOpts{})
	if !f.verify(t, good) {
		t.Fatal("valid token refused")
	}
	wantFetches(t, f, 1)

	// Within the window right after the first fetch, unknown kids cause no fetch.
	for i := range 5 {
		if f.verify(t, sign(t, b, baseClaims(), signOpts{kid: "made-up-" + string(rune('a'+i))})) {
			t.Fatal("token with unknown kid accepted")
		}
	}
	wantFetches(t, f, 1)

	// Past the window, a flood of unknown kids costs exactly one refetch, whether the
	// tokens arrive together or one after another.
	f.clock.Advance(time.Minute)
	bogus := make([]string, 50)
	for i := range bogus {
		bogus[i] = sign(t, b, baseClaims(), signOpts{kid: "bogus-" + string(rune('A'+i))})
	}
	var wg sync.WaitGroup
	accepted := make(chan string, len(bogus))
	for _, tok := range bogus {
		wg.Go(func() {
			if _, err := f.verifier.Verify(context.Background(), bearer(tok)); err == nil {
				accepted <- tok
			}
		})
	}
	wg.Wait()
	close(accepted)
	for tok := range accepted {
		t.Errorf("token with unknown kid accepted: %s", tok)
	}
	wantFetches(t, f, 2)
	for _, tok := range bogus {
		if f.verify(t, tok) {
			t.Fatal("token with unknown kid accepted")
		}
	}
	wantFetches(t, f, 2)
	// Known kids keep working meanwhile.
	if !f.verify(t, good) {
		t.Fatal("valid token refused during a flood")
	}

	// Just short of the window: still throttled.
	f.clock.Advance(time.Minute - time.Nanosecond)
	if f.verify(t, bogus[0]) {
		t.Fatal("token with unknown kid accepted")
	}
	wantFetches(t, f, 2)

	// Once the window has passed since the last refetch, one more refetch happens.
	f.clock.Advance(time.Nanosecond)
	for _, tok := range bogus[:10] {
		if f.verify(t, tok) {
			t.Fatal("token with unknown kid accepted")
		}
	}
	wantFetches(t, f, 3)
}

func TestKeySetRotation(t *testing.T) {
	t.Parallel()
	a, c := key(t, "a"), key(t, "c")
	f := newFixture(t, jwks(a), nil)
	oldTok := sign(t, a, baseClaims(), signOpts{})
	newTok := sign(t, c, baseClaims(), signOpts{})
	if !f.verify(t, oldTok) {
		t.Fatal("valid token refused")
	}
	wantFetches(t, f, 1)

	// The issuer rotates to key c, dropping a.
	f.issuer.Serve(jwks(c))
	if f.verify(t, newTok) {
		t.Fatal("new key accepted before the cache could have learnt it")
	}
	wantFetches(t, f, 1)

	f.clock.Advance(time.Minute)
	if !f.verify(t, newTok) {
		t.Fatal("token under the rotated key refused once the refetch window allowed it")
	}
	wantFetches(t, f, 2)
	if !f.verify(t, newTok) {
		t.Fatal("token under the rotated key refused")
	}
	// The old key is gone from the cache, and asking for it again does not refetch yet.
	if f.verify(t, oldTok) {
		t.Fatal("token under the retired key still accepted")
	}
	wantFetches(t, f, 2)
}

func TestKeySetRotationKeepsBothKeys(t *testing.T) {
	t.Parallel()
	a, c := key(t, "a"), key(t, "c")
	f := newFixture(t, jwks(a), nil)
	oldTok := sign(t, a, baseClaims(), signOpts{})
	if !f.verify(t, oldTok) {
		t.Fatal("valid token refused")
	}
	f.issuer.Serve(jwks(c, a))
	f.clock.Advance(2 * time.Minute)
	if !f.verify(t, sign(t, c, baseClaims(), signOpts{})) {
		t.Fatal("token under the new key refused")
	}
	if !f.verify(t, oldTok) {
		t.Fatal("token under the old key refused while it is still published")
	}
	wantFetches(t, f, 2)
}

func TestKeySetIgnoresNonSigningKeys(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	enc := a.public()
	enc.Use = "enc"
	f := newFixture(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{enc}}, nil)
	if f.verify(t, sign(t, a, baseClaims(), signOpts{})) {
		t.Fatal("token verified with a key published for encryption")
	}
	noUse := a.public()
	noUse.Use = ""
	f = newFixture(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{noUse}}, nil)
	if !f.verify(t, sign(t, a, baseClaims(), signOpts{})) {
		t.Fatal("token refused though its key has no use restriction")
	}
}

// setIssuerErr makes the fake issuer fail (or recover, with nil).
func (f *fixture) setIssuerErr(err error) {
	f.issuer.mu.Lock()
	f.issuer.err = err
	f.issuer.mu.Unlock()
}

// wantUnavailable fails unless verifying tok is an outage (ErrUnavailable, a
// *FetchError), never a refusal.
func (f *fixture) wantUnavailable(t *testing.T, tok string) {
	t.Helper()
	_, err := f.verifier.Verify(context.Background(), bearer(tok))
	var ae *Error
	var fe *FetchError
	if !errors.Is(err, subaccounts.ErrUnavailable) || !errors.As(err, &fe) || errors.As(err, &ae) {
		t.Fatalf("Verify with the key set unreachable: %v (%T), want a *FetchError wrapping ErrUnavailable", err, err)
	}
}

// TestKeySetFetchError: an unreachable key set is an outage, not a bad token; it is
// retried after 1 s, then 2 s, … (not after the 1 min refetch window), and keys that come
// back are used on the first try after the backoff.
func TestKeySetFetchError(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	f := newFixture(t, jwks(a), nil)
	f.setIssuerErr(errors.New("issuer unreachable"))
	tok := sign(t, a, baseClaims(), signOpts{})
	f.wantUnavailable(t, tok)
	wantFetches(t, f, 1)

	// A failing issuer is not hammered: within the backoff there is no retry.
	f.clock.Advance(FirstRetry - time.Millisecond)
	f.wantUnavailable(t, tok)
	wantFetches(t, f, 1)

	// Past it, one retry; it fails again and the backoff doubles.
	f.clock.Advance(time.Millisecond)
	f.wantUnavailable(t, tok)
	wantFetches(t, f, 2)
	f.clock.Advance(2*FirstRetry - time.Millisecond)
	f.wantUnavailable(t, tok)
	wantFetches(t, f, 2)

	// Recovered: accepted on the first try after the backoff, long before a minute.
	f.setIssuerErr(nil)
	f.clock.Advance(time.Millisecond)
	if !f.verify(t, tok) {
		t.Fatal("token refused after the issuer recovered and the backoff passed")
	}
	wantFetches(t, f, 3)
}

// TestKeySetOutageKeepsCachedKeys: while the issuer is down, tokens under cached keys
// still verify, a token under a key not cached is an outage (it may be a key published
// meanwhile), and the backoff stops at MaxRetry.
func TestKeySetOutageKeepsCachedKeys(t *testing.T) {
	t.Parallel()
	a, b := key(t, "a"), key(t, "b")
	f := newFixture(t, jwks(a), nil)
	good := sign(t, a, baseClaims(), signOpts{})
	if !f.verify(t, good) {
		t.Fatal("valid token refused")
	}
	f.setIssuerErr(errors.New("issuer unreachable"))
	f.clock.Advance(time.Minute)
	newer := sign(t, b, baseClaims(), signOpts{})
	f.wantUnavailable(t, newer)
	if !f.verify(t, good) {
		t.Fatal("token under a cached key refused during the outage")
	}
	for range 10 {
		f.clock.Advance(MaxRetry)
		f.wantUnavailable(t, newer)
	}
	before := f.issuer.Calls()
	f.clock.Advance(MaxRetry - time.Millisecond)
	f.wantUnavailable(t, newer)
	if got := f.issuer.Calls(); got != before {
		t.Errorf("%d fetches within MaxRetry of the last one, want none", got-before)
	}
	f.issuer.Serve(jwks(a, b))
	f.setIssuerErr(nil)
	f.clock.Advance(time.Millisecond)
	if !f.verify(t, newer) {
		t.Fatal("token under the new key refused once the issuer was back")
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 5: 16 * time.Second, 6: 30 * time.Second, 7: 30 * time.Second, 1000: 30 * time.Second} {
		if got := retryAfter(n); got != want {
			t.Errorf("retryAfter(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestKeySetRejectsUnsupportedAlgorithms(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	ks := NewKeySet((&fakeIssuer{set: jwks(a)}).Fetch, time.Minute)
	tests := []struct {
		name string
		tok  func(t *testing.T) string
	}{
		{"none", func(t *testing.T) string {
			return unsignedJWT(t, map[string]any{"alg": "none", "kid": a.kid}, baseClaims(), "")
		}},
		{"HS256", func(t *testing.T) string {
			return hs256(t, a.kid, []byte("0123456789abcdef0123456789abcdef"), baseClaims())
		}},
		{"malformed", func(*testing.T) string { return "a.b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if payload, err := ks.VerifySignature(context.Background(), tt.tok(t)); err == nil {
				t.Fatalf("VerifySignature accepted it: %s", payload)
			}
		})
	}
	// And a good token's payload comes back intact.
	payload, err := ks.VerifySignature(context.Background(), sign(t, a, baseClaims(), signOpts{}))
	if err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(payload, &got); err != nil || got["sub"] != testClient {
		t.Errorf("payload %s (err %v), want the signed claims", payload, err)
	}
}

func TestRemoteJWKS(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	body, err := json.Marshal(jwks(a))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr bool
	}{
		{
			name: "ok",
			handler: func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet {
					http.Error(w, "method", http.StatusMethodNotAllowed)
					return
				}
				_, _ = w.Write(body)
			},
		},
		{
			name:    "server error",
			handler: func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusInternalServerError) },
			wantErr: true,
		},
		{
			name:    "not json",
			handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) },
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			set, err := RemoteJWKS(srv.Client(), srv.URL+"/jwks.json")(context.Background())
			if tt.wantErr {
				if err == nil {
					t.Fatalf("fetch succeeded with %d keys", len(set.Keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("fetch: %v", err)
			}
			if len(set.Keys) != 1 || set.Keys[0].KeyID != a.kid {
				t.Errorf("keys = %+v, want one with kid %s", set.Keys, a.kid)
			}
		})
	}
}

// TestKeySetHungIssuer: an issuer that does not answer holds no request past its own
// deadline, neither the one fetching nor those waiting for that fetch, and the answer is
// an outage.
func TestKeySetHungIssuer(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	release := make(chan struct{})
	var calls atomic.Int32
	ks := NewKeySet(func(ctx context.Context) (jose.JSONWebKeySet, error) {
		calls.Add(1)
		select {
		case <-release:
			return jwks(a), nil
		case <-ctx.Done():
			return jose.JSONWebKeySet{}, ctx.Err()
		}
	}, time.Minute)
	defer close(release)
	tok := sign(t, a, baseClaims(), signOpts{})
	verify := func(timeout time.Duration) (time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		_, err := ks.VerifySignature(ctx, tok)
		return time.Since(start), err
	}
	var wg sync.WaitGroup
	// The first request fetches, with a long deadline; the others wait behind it with
	// short ones.
	wg.Go(func() {
		if _, err := verify(2 * time.Second); !errors.Is(err, subaccounts.ErrUnavailable) {
			t.Errorf("the fetching request: %v, want unavailable", err)
		}
	})
	time.Sleep(50 * time.Millisecond)
	for i := range 4 {
		wg.Go(func() {
			took, err := verify(100 * time.Millisecond)
			if took > 700*time.Millisecond {
				t.Errorf("waiting request %d answered after %s, want by its 100ms deadline", i, took)
			}
			if !errors.Is(err, subaccounts.ErrUnavailable) {
				t.Errorf("waiting request %d: %v, want unavailable", i, err)
			}
		})
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("%d fetches for 5 concurrent requests, want 1", n)
	}
}
