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

	"github.com/cardseg/subaccounts/internal/subaccounts"
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
//
// A failed fetch is tried again after a short backoff (FirstRetry, doubling up to
// MaxRetry), not after MinRefetch, so keys that come back are used within seconds; until
// then a token the cached keys cannot verify gets a *FetchError (ErrUnavailable: 503),
// never a refusal, and tokens under cached keys keep verifying.
type KeySet struct {
	fetch      FetchFunc
	minRefetch time.Duration
	now        func() time.Time

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	lastFetch time.Time
	fetches   int
	// failures counts the fetches failed in a row; lastErr is the latest, retried no
	// earlier than retryAt.
	failures int
	lastErr  *FetchError
	retryAt  time.Time
	// inflight is closed when the fetch running now ends; nil when none runs.
	inflight chan struct{}
}

// The backoff of a failing key set.
const (
	FirstRetry = time.Second
	MaxRetry   = 30 * time.Second
)

// FetchError is a key set (or discovery document) that could not be fetched. It is an
// outage, not a verdict on the token: errors.Is finds subaccounts.ErrUnavailable in it.
type FetchError struct{ Err error }

func (e *FetchError) Error() string { return "issuer keys unavailable: " + e.Err.Error() }

// Unwrap returns subaccounts.ErrUnavailable and the cause.
func (e *FetchError) Unwrap() []error { return []error{subaccounts.ErrUnavailable, e.Err} }

// retryAfter is the backoff after n failed fetches in a row.
func retryAfter(n int) time.Duration {
	if n > 6 {
		return MaxRetry
	}
	return min(FirstRetry<<(n-1), MaxRetry)
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

// VerifySignature implements oidc.KeySet. go-oidc flattens its error into a string, so
// the error is also left in the context's outcome (see Verifier.verify), which keeps an
// outage (*FetchError) apart from a bad token.
func (k *KeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.verifySignature(ctx, jwt)
	if o, ok := ctx.Value(outcomeKey{}).(*outcome); ok {
		o.err = err
	}
	return payload, err
}

// Refresh fetches the key set now, as a first token would; run calls it at start-up to
// surface a misconfigured issuer early. A failure starts the backoff.
func (k *KeySet) Refresh(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for k.inflight != nil {
		wait := k.inflight
		k.mu.Unlock()
		<-wait
		k.mu.Lock()
	}
	return k.fetchLocked(ctx)
}

func (k *KeySet) verifySignature(ctx context.Context, jwt string) ([]byte, error) {
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
	if len(keys) == 0 {
		return nil, errUnknownKey
	}
	for _, key := range keys {
		if payload, err := jws.Verify(key.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errBadSignature
}

// The refusals of VerifySignature that name their class.
var (
	errUnknownKey   = invalid("unknown signing key")
	errBadSignature = invalid("bad signature")
)

// keysFor returns the cached keys matching kid (all keys when kid is empty). With refetch
// it first refreshes the cache, unless that happened less than minRefetch ago. One fetch
// runs at a time, without the lock: the others wait for it, each only until its own
// context ends, so an issuer that does not answer cannot hold requests past their
// deadline.
func (k *KeySet) keysFor(ctx context.Context, kid string, refetch bool) ([]jose.JSONWebKey, error) {
	k.mu.Lock()
	for k.due(refetch) {
		if k.inflight == nil {
			_ = k.fetchLocked(ctx)
			break
		}
		// Someone else's fetch answers for this request too.
		wait := k.inflight
		k.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, &FetchError{Err: ctx.Err()}
		}
		k.mu.Lock()
	}
	out, lastErr := k.matching(kid), k.lastErr
	k.mu.Unlock()
	if len(out) == 0 && lastErr != nil {
		// The key may be one the issuer published while it could not be reached.
		return nil, lastErr
	}
	return out, nil
}

// due reports whether the key set should be fetched now. k.mu is held.
func (k *KeySet) due(refetch bool) bool {
	now := k.now()
	switch {
	case k.lastErr != nil:
		// Failing: retry after the backoff, whether or not this token's kid is known.
		return !now.Before(k.retryAt)
	case k.lastFetch.IsZero():
		return true
	case refetch:
		return now.Sub(k.lastFetch) >= k.minRefetch
	}
	return false
}

// fetchLocked fetches the key set, keeping the old keys and starting or extending the
// backoff when that fails. It is called with k.mu held and no fetch in flight, and
// releases k.mu while fetching.
func (k *KeySet) fetchLocked(ctx context.Context) error {
	done := make(chan struct{})
	k.inflight = done
	k.mu.Unlock()
	set, err := k.fetch(ctx)
	k.mu.Lock()
	k.inflight = nil
	close(done)
	now := k.now()
	k.lastFetch = now
	k.fetches++
	if err != nil {
		var fe *FetchError
		if !errors.As(err, &fe) {
			fe = &FetchError{Err: err}
		}
		k.failures++
		k.lastErr = fe
		k.retryAt = now.Add(retryAfter(k.failures))
		return fe
	}
	k.failures, k.lastErr = 0, nil
	k.keys = set.Keys
	return nil
}

// matching returns the cached signing keys with kid (all of them when kid is empty).
func (k *KeySet) matching(kid string) []jose.JSONWebKey {
	var out []jose.JSONWebKey
	for _, key := range k.keys {
		if key.Use != "" && key.Use != "sig" {
			continue
		}
		if kid == "" || key.KeyID == kid {
			out = append(out, key)
		}
	}
	return out
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

// ErrBadDiscovery is a discovery document that answered but cannot be used: another
// issuer, no jwks_uri. That is a configuration mistake, not an outage.
var ErrBadDiscovery = errors.New("unusable discovery document")

// DiscoveredJWKS fetches the key set of the OpenID provider at issuerURL, reading its
// discovery document (/.well-known/openid-configuration) on the first fetch that
// reaches it. The service can so start while the provider is still down: tokens get 503
// until it comes up, and the KeySet's backoff paces the tries.
func DiscoveredJWKS(client *http.Client, issuerURL string) FetchFunc {
	var mu sync.Mutex
	var jwks FetchFunc
	return func(ctx context.Context) (jose.JSONWebKeySet, error) {
		mu.Lock()
		fetch := jwks
		mu.Unlock()
		if fetch == nil {
			uri, err := discoverJWKS(ctx, client, issuerURL)
			if err != nil {
				return jose.JSONWebKeySet{}, err
			}
			fetch = RemoteJWKS(client, uri)
			mu.Lock()
			jwks = fetch
			mu.Unlock()
		}
		return fetch(ctx)
	}
}

// discoverJWKS reads the jwks_uri of the provider at issuerURL, checking that the
// document names that issuer (OpenID Connect Discovery §4.3).
func discoverJWKS(ctx context.Context, client *http.Client, issuerURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	u := strings.TrimSuffix(issuerURL, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadDiscovery, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("discovery: status %d", resp.StatusCode)
	}
	var meta struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&meta); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadDiscovery, err)
	}
	switch {
	case meta.Issuer != issuerURL:
		return "", fmt.Errorf("%w: it names issuer %q, not %q", ErrBadDiscovery, meta.Issuer, issuerURL)
	case meta.JWKSURI == "":
		return "", fmt.Errorf("%w: no jwks_uri", ErrBadDiscovery)
	}
	return meta.JWKSURI, nil
}
