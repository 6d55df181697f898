package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Algorithms are the signature algorithms accepted on access tokens: asymmetric only, so
// a token "signed" with HS256 over the public key, or with alg none, never verifies.
var Algorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func joseAlgorithms() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(Algorithms))
	for i, a := range Algorithms {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}

// FetchFunc returns the issuer's current public keys.
type FetchFunc func(ctx context.Context) (jose.JSONWebKeySet, error)

// KeySet is an oidc.KeySet that caches the issuer's keys and refetches them when a token
// names an unknown kid — but at most once per MinRefetch, so a flood of tokens with
// made-up kids cannot turn into a flood of requests to the issuer.
type KeySet struct {
	fetch      FetchFunc
	minRefetch time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	lastFetch time.Time
	fetches   int
}

// NewKeySet returns a KeySet over fetch that refetches at most once per minRefetch.
func NewKeySet(fetch FetchFunc, minRefetch time.Duration) *KeySet {
	return &KeySet{fetch: fetch, minRefetch: minRefetch, now: time.Now}
}

// Fetches reports how many times the key set was fetched.
func (k *KeySet) Fetches() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.fetches
}

// VerifySignature implements oidc.KeySet.
func (k *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(jwt, joseAlgorithms())
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("exactly one signature required")
	}
	// The typ header is checked here because this is the one place that parses it: a
	// token whose typ says it is something other than a JWT access token is refused.
	typ, _ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType].(string)
	switch strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
	default:
		return nil, invalid("unexpected token type %q", typ)
	}
	kid := jws.Signatures[0].Header.KeyID
	keys, err := k.keysFor(ctx, kid, false)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if keys, err = k.keysFor(ctx, kid, true); err != nil {
			return nil, err
		}
	}
	for _, key := range keys {
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errors.New("no key verifies the signature")
}

// keysFor returns the cached keys matching kid (all keys when kid is empty). With refetch
// it first refreshes the cache, unless that happened less than minRefetch ago.
func (k *KeySet) keysFor(ctx context.Context, kid string, refetch bool) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lastFetch.IsZero() || (refetch && k.now().Sub(k.lastFetch) >= k.minRefetch) {
		set, err := k.fetch(ctx)
		k.lastFetch = k.now()
		k.fetches++
		if err != nil {
			return nil, fmt.Errorf("fetch keys: %w", err)
		}
		k.keys = set.Keys
	}
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out, nil
}

// RemoteJWKS fetches a JSON Web Key Set from url.
func RemoteJWKS(client *http.Client, url string) FetchFunc {
	return func(ctx context.Context) (jose.JSONWebKeySet, error) {
		var set jose.JSONWebKeySet
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return set, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return set, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return set, fmt.Errorf("jwks: status %d", resp.StatusCode)
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set)
		return set, err
	}
}
