package issuer

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/store/storetest"
)

func kids(set jose.JSONWebKeySet) []string {
	var out []string
	for _, k := range set.Keys {
		out = append(out, k.KeyID)
	}
	slices.Sort(out)
	return out
}

// kidOf returns the key id a token was signed with.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	sig, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return sig.Signatures[0].Header.KeyID
}

// TestSigningKeyRotation publishes a next key, checks that it is in the key set before
// it signs, that it signs once active, and that a token of the old key still verifies.
func TestSigningKeyRotation(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := storetest.Open(t, dialect)
			cfg := Config{URL: "http://issuer.test", Audience: "api", AccountClaim: "account_id", MaxLifetime: 24 * time.Hour, BcryptCost: bcrypt.MinCost, Keys: keystest.Ring(t)}
			is, err := New(ctx, db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			const secret = "operator-secret-0123"
			if err := is.EnsureOperator(ctx, "ops", secret, io.Discard); err != nil {
				t.Fatal(err)
			}
			token := func() string {
				t.Helper()
				r, err := is.Token(ctx, "ops", secret, "")
				if err != nil {
					t.Fatal(err)
				}
				return r.AccessToken
			}
			oldToken := token()
			oldKid := kidOf(t, oldToken)
			if _, err := RotateSigningKey(ctx, db, cfg.Keys, time.Now().Add(time.Second)); err == nil {
				t.Error("RotateSigningKey accepted a key that would sign before verifiers could learn it")
			}

			activation := time.Now().Add(time.Hour)
			newKid, err := addSigningKey(ctx, db, cfg.Keys, activation)
			if err != nil {
				t.Fatal(err)
			}
			// A replica starting now, and a running one once it rereads, publish both.
			replica, err := New(ctx, db, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := is.ReloadKeys(ctx); err != nil {
				t.Fatal(err)
			}
			both := []string{oldKid, newKid}
			slices.Sort(both)
			for name, i := range map[string]*Issuer{"running": is, "replica": replica} {
				if got := kids(i.JWKS()); !slices.Equal(got, both) {
					t.Errorf("%s issuer publishes %v before the activation, want %v", name, got, both)
				}
			}
			if got := kidOf(t, token()); got != oldKid {
				t.Errorf("before the activation a token is signed with %s, want the old key %s", got, oldKid)
			}

			is.clock = func() time.Time { return activation.Add(time.Second) }
			if got := kidOf(t, token()); got != newKid {
				t.Errorf("after the activation a token is signed with %s, want the new key %s", got, newKid)
			}
			if got := kids(is.JWKS()); !slices.Equal(got, both) {
				t.Errorf("after the activation the key set is %v, want both while old tokens live", got)
			}
			v := auth.NewVerifier(auth.Config{Issuer: cfg.URL, Audience: cfg.Audience, AccountClaim: cfg.AccountClaim, MaxLifetime: cfg.MaxLifetime,
				KeySet: auth.NewKeySet(replica.FetchKeys, time.Minute), Clients: replica})
			if _, err := v.Verify(ctx, "Bearer "+oldToken); err != nil {
				t.Errorf("a token of the superseded key: %v", err)
			}
		})
	}
}

// TestPublishedKeys checks which keys the key set holds at each moment of a rotation.
func TestPublishedKeys(t *testing.T) {
	t.Parallel()
	ring := keystest.Ring(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ks []signingKey
	for i, at := range []time.Time{t0.Add(2 * time.Hour), t0} { // latest activation first
		k, err := newSigningKey(ring, at)
		if err != nil {
			t.Fatal(err)
		}
		opened, err := openSigningKey(ring, k)
		if err != nil {
			t.Fatal(err)
		}
		opened.kid = []string{"new", "old"}[i]
		ks = append(ks, opened)
	}
	ttl := time.Hour
	tests := []struct {
		name   string
		now    time.Time
		want   []string
		signer string
	}{
		{"only the old key active, the next published", t0.Add(time.Hour), []string{"new", "old"}, "old"},
		{"just activated: the old key's tokens live", t0.Add(2 * time.Hour), []string{"new", "old"}, "new"},
		{"within the token lifetime and grace", t0.Add(3*time.Hour + retirementGrace - time.Second), []string{"new", "old"}, "new"},
		{"old tokens expired: the old key retired", t0.Add(3*time.Hour + retirementGrace), []string{"new"}, "new"},
		{"clock before every activation", t0.Add(-time.Hour), []string{"new", "old"}, "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kids(published(ks, tt.now, ttl)); !slices.Equal(got, tt.want) {
				t.Errorf("published %v, want %v", got, tt.want)
			}
			if got := active(ks, tt.now).kid; got != tt.signer {
				t.Errorf("signer %s, want %s", got, tt.signer)
			}
		})
	}
}
