package auth

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// countingKeySet counts signature verifications of a KeySet.
type countingKeySet struct {
	ks *KeySet
	n  atomic.Int64
}

var _ oidc.KeySet = (*countingKeySet)(nil)

func (c *countingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	c.n.Add(1)
	return c.ks.VerifySignature(ctx, jwt)
}

func (c *countingKeySet) Fetches() int { return c.ks.Fetches() }

func TestVerifiedTokenCache(t *testing.T) {
	t.Parallel()
	k := key(t, "a")
	ctx := context.Background()
	newVerifier := func(clients ClientChecker, now *time.Time, size int) (*Verifier, *countingKeySet, *fakeIssuer) {
		iss := &fakeIssuer{set: jwks(k)}
		ks := &countingKeySet{ks: NewKeySet(iss.Fetch, time.Minute)}
		ks.ks.now = func() time.Time { return *now }
		v := NewVerifier(Config{
			Issuer: testIssuer, Audience: testAudience, AccountClaim: testClaim, MaxLifetime: testLifetime,
			KeySet: ks, Clients: clients, Now: func() time.Time { return *now }, CacheSize: size,
		})
		return v, ks, iss
	}
	header := bearer(sign(t, k, baseClaims(), signOpts{}))

	t.Run("a repeated token is verified once", func(t *testing.T) {
		t.Parallel()
		now := testNow
		v, ks, _ := newVerifier(&fakeClients{active: true}, &now, 0)
		for range 5 {
			if _, err := v.Verify(ctx, header); err != nil {
				t.Fatal(err)
			}
		}
		// The first call fetches the key set, which changes the generation, so the
		// second verifies again; from then on the cache answers.
		if n := ks.n.Load(); n != 2 {
			t.Errorf("%d signature checks for 5 uses of one token, want 2", n)
		}
	})
	t.Run("disabled cache verifies every time", func(t *testing.T) {
		t.Parallel()
		now := testNow
		v, ks, _ := newVerifier(&fakeClients{active: true}, &now, -1)
		for range 5 {
			if _, err := v.Verify(ctx, header); err != nil {
				t.Fatal(err)
			}
		}
		if n := ks.n.Load(); n != 5 {
			t.Errorf("%d signature checks, want 5", n)
		}
	})
	t.Run("a cached token still expires", func(t *testing.T) {
		t.Parallel()
		now := testNow
		v, _, _ := newVerifier(&fakeClients{active: true}, &now, 0)
		for range 3 {
			if _, err := v.Verify(ctx, header); err != nil {
				t.Fatal(err)
			}
		}
		now = testNow.Add(time.Hour + time.Second)
		_, err := v.Verify(ctx, header)
		assertRefused(t, err, "expired")
	})
	t.Run("a cached token of a revoked client is refused", func(t *testing.T) {
		t.Parallel()
		now := testNow
		clients := &fakeClients{active: true}
		v, _, _ := newVerifier(clients, &now, 0)
		for range 3 {
			if _, err := v.Verify(ctx, header); err != nil {
				t.Fatal(err)
			}
		}
		clients.mu.Lock()
		clients.active = false
		clients.mu.Unlock()
		_, err := v.Verify(ctx, header)
		assertRefused(t, err, "revoked")
	})
	t.Run("a key removed from the set takes its cached tokens with it", func(t *testing.T) {
		t.Parallel()
		now := testNow
		v, _, iss := newVerifier(&fakeClients{active: true}, &now, 0)
		for range 3 {
			if _, err := v.Verify(ctx, header); err != nil {
				t.Fatal(err)
			}
		}
		// The issuer retires key a for key b; a token under b makes the key set refetch.
		b := key(t, "b")
		iss.Serve(jwks(b))
		now = now.Add(2 * time.Minute)
		if _, err := v.Verify(ctx, bearer(sign(t, b, baseClaims(), signOpts{}))); err != nil {
			t.Fatalf("token under the new key: %v", err)
		}
		_, err := v.Verify(ctx, header)
		assertRefused(t, err, "unknown signing key")
	})
}
