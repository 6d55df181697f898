// Package issuer is the built-in OAuth2 authorization server of the embedded default: the
// client-credentials grant, its discovery document and key set, and the clients it
// issues tokens to. Its tokens are verified by package auth exactly like an external
// issuer's.
package issuer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TokenTTL is the lifetime of issued tokens, unless the configured maximum is shorter.
const TokenTTL = time.Hour

// clientCacheTTL bounds how long another replica may keep accepting a revoked client's
// tokens; the replica that revokes forgets at once.
const clientCacheTTL = 5 * time.Second

// Config configures an Issuer.
type Config struct {
	URL          string
	Audience     string
	AccountClaim string
	MaxLifetime  time.Duration
	// BcryptCost is the cost of client-secret hashes; 0 means bcrypt.DefaultCost.
	BcryptCost int
	// Keys seal the signing keys stored in the database; required.
	Keys *keys.Ring
	// Recorder receives what the issuer's changes record beside themselves; nil means
	// the audit log alone.
	Recorder subaccounts.Recorder
}

// Issuer issues client-credentials tokens.
type Issuer struct {
	cfg   Config
	store Store
	// rec writes the audit events of the issuer's changes.
	rec   subaccounts.Recorder
	keys  keyState
	dummy []byte
	// clock tells which signing key is active; tests move it past an activation.
	clock func() time.Time

	mu      sync.Mutex
	clients map[string]cacheEntry
	// gen grows with every forget, so an answer read from the store before a
	// revocation is not cached after it.
	gen uint64

	// secrets remembers secrets that verified, so a client asking for tokens again does
	// not pay bcrypt again; compare is bcrypt's, replaced by tests that count calls.
	secrets *secretCache
	compare func(hash, secret []byte) error
}

type cacheEntry struct {
	active bool
	// rateLimit is the client's own rate limit; nil means the default.
	rateLimit *int
	at        time.Time
}

// New loads the signing key from the store, generating and persisting it on first start.
func New(ctx context.Context, store Store, cfg Config) (*Issuer, error) {
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.Keys == nil {
		return nil, errors.New("issuer: no master key to seal the signing keys with")
	}
	if err := prepareKeys(ctx, store, cfg.Keys); err != nil {
		return nil, err
	}
	ks, err := loadKeys(ctx, store, cfg.Keys)
	if err != nil {
		return nil, err
	}
	// A hash to compare against when the client is unknown, so the time taken does not
	// tell whether a client id exists.
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such client"), cfg.BcryptCost)
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	var rec subaccounts.Recorder = audit.NewRecorder(store)
	if cfg.Recorder != nil {
		rec = cfg.Recorder
	}
	return &Issuer{
		cfg:     cfg,
		store:   store,
		rec:     rec,
		keys:    keyState{keys: ks, loadedAt: time.Now()},
		clock:   time.Now,
		dummy:   dummy,
		clients: map[string]cacheEntry{},
		secrets: newSecretCache(secretCacheSize, secretCacheTTL),
		compare: bcrypt.CompareHashAndPassword,
	}, nil
}

// URL is the issuer identifier.
func (is *Issuer) URL() string { return is.cfg.URL }

// JWKS returns the public keys.
func (is *Issuer) JWKS() jose.JSONWebKeySet {
	return published(is.current(context.Background()), is.clock(), is.tokenTTL())
}

// tokenTTL is the lifetime of the tokens this issuer signs.
func (is *Issuer) tokenTTL() time.Duration { return min(TokenTTL, is.cfg.MaxLifetime) }

// FetchKeys returns the public keys; it is the auth.FetchFunc of the built-in issuer.
func (is *Issuer) FetchKeys(ctx context.Context) (jose.JSONWebKeySet, error) {
	return published(is.current(ctx), is.clock(), is.tokenTTL()), nil
}

// Discovery is the OpenID Provider / OAuth2 authorization server metadata document.
type Discovery struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
}

// Discovery returns the metadata document.
func (is *Issuer) Discovery() Discovery {
	base := strings.TrimRight(is.cfg.URL, "/")
	return Discovery{
		Issuer:                            is.cfg.URL,
		TokenEndpoint:                     base + "/oauth2/token",
		JWKSURI:                           base + "/oauth2/jwks.json",
		GrantTypesSupported:               []string{"client_credentials"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post"},
		ScopesSupported:                   append(slices.Clone(subaccounts.TenantScopes), subaccounts.ScopeAccountsAdmin),
		ResponseTypesSupported:            []string{"token"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
	}
}

// OAuthError is an RFC 6749 §5.2 error response.
type OAuthError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

// TokenResponse is an RFC 6749 §5.1 response.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// Token runs the client-credentials grant for an authenticated client id and secret.
func (is *Issuer) Token(ctx context.Context, clientID, secret, scope string) (TokenResponse, error) {
	return is.token(ctx, clientID, secret, scope, false)
}

// ErrNotRemembered is RememberedToken's answer for a secret that did not verify recently
// on this replica (whether or not it is right).
var ErrNotRemembered = errors.New("issuer: client secret not remembered")

// RememberedToken is Token for a secret that verified recently on this replica, and
// ErrNotRemembered, without running bcrypt, for any other. The token endpoint uses it
// for a client id or address that has too many failures: a client that knows its secret
// is not locked out by someone else's guessing, and guessing costs nothing.
func (is *Issuer) RememberedToken(ctx context.Context, clientID, secret, scope string) (TokenResponse, error) {
	return is.token(ctx, clientID, secret, scope, true)
}

func (is *Issuer) token(ctx context.Context, clientID, secret, scope string, rememberedOnly bool) (TokenResponse, error) {
	c, err := is.store.GetClient(ctx, clientID)
	switch {
	case errors.Is(err, subaccounts.ErrNotFound) && rememberedOnly:
		return TokenResponse{}, ErrNotRemembered
	case errors.Is(err, subaccounts.ErrNotFound):
		// Unknown ids never reach the secret cache: they always pay one bcrypt, as a known
		// id with a wrong secret does, so the time taken does not tell whether an id exists.
		_ = is.compare(is.dummy, []byte(secret))
		return TokenResponse{}, &OAuthError{Status: 401, Code: "invalid_client", Description: "client authentication failed"}
	case err != nil:
		return TokenResponse{}, err
	}
	if !is.secrets.verified(c.ID, c.SecretHash, secret) {
		if rememberedOnly {
			return TokenResponse{}, ErrNotRemembered
		}
		if is.compare([]byte(c.SecretHash), []byte(secret)) != nil {
			return TokenResponse{}, &OAuthError{Status: 401, Code: "invalid_client", Description: "client authentication failed"}
		}
		is.secrets.remember(c.ID, c.SecretHash, secret)
	}
	scopes := c.Scopes
	if requested := strings.Fields(scope); len(requested) > 0 {
		for _, s := range requested {
			if !slices.Contains(c.Scopes, s) {
				return TokenResponse{}, &OAuthError{Status: 400, Code: "invalid_scope", Description: refusedScope(s)}
			}
		}
		scopes = dedupe(requested)
	}
	ttl := is.tokenTTL()
	now := is.clock()
	signer := active(is.current(ctx), now).signer
	claims := map[string]any{
		"iss":       is.cfg.URL,
		"aud":       is.cfg.Audience,
		"sub":       c.ID,
		"client_id": c.ID,
		"iat":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
		"jti":       uuid.NewString(),
		"scope":     strings.Join(scopes, " "),
	}
	if c.AccountID != nil {
		claims[is.cfg.AccountClaim] = c.AccountID.String()
	}
	if c.SubaccountID != nil {
		claims["subaccount_id"] = c.SubaccountID.String()
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return TokenResponse{}, fmt.Errorf("sign token: %w", err)
	}
	return TokenResponse{AccessToken: raw, TokenType: "Bearer", ExpiresIn: int64(ttl / time.Second), Scope: strings.Join(scopes, " ")}, nil
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ClientActive reports whether a client still exists and is not revoked. Answers are
// cached for a few seconds so a token check does not cost a query per request.
func (is *Issuer) ClientActive(ctx context.Context, clientID string) (bool, error) {
	e, err := is.lookupClient(ctx, clientID)
	return e.active, err
}

// ClientRateLimit returns a client's own rate limit in requests per second (0:
// unlimited), or ok false when it has none and the default applies. It shares
// ClientActive's cache, which the token check has just filled, so it costs no query.
func (is *Issuer) ClientRateLimit(ctx context.Context, clientID string) (limit int, ok bool, err error) {
	e, err := is.lookupClient(ctx, clientID)
	if err != nil || e.rateLimit == nil {
		return 0, false, err
	}
	return *e.rateLimit, true, nil
}

// lookupClient returns the cached state of a client, asking the store when the answer
// is missing or older than clientCacheTTL.
func (is *Issuer) lookupClient(ctx context.Context, clientID string) (cacheEntry, error) {
	now := time.Now()
	is.mu.Lock()
	e, ok := is.clients[clientID]
	gen := is.gen
	is.mu.Unlock()
	if ok && now.Sub(e.at) < clientCacheTTL {
		return e, nil
	}
	c, err := is.store.GetClient(ctx, clientID)
	if err != nil && !errors.Is(err, subaccounts.ErrNotFound) {
		return cacheEntry{}, err
	}
	e = cacheEntry{active: err == nil, rateLimit: c.RateLimit, at: now}
	is.mu.Lock()
	if is.gen == gen {
		if len(is.clients) > 100_000 {
			clear(is.clients)
		}
		is.clients[clientID] = e
	}
	is.mu.Unlock()
	return e, nil
}

// ForgetClients empties the client cache, so the next token check of every client asks
// the database.
func (is *Issuer) ForgetClients() {
	is.mu.Lock()
	clear(is.clients)
	is.gen++
	is.mu.Unlock()
	is.secrets.forgetAll()
}

func (is *Issuer) forget(clientID string) {
	is.mu.Lock()
	delete(is.clients, clientID)
	is.gen++
	is.mu.Unlock()
	is.secrets.forget(clientID)
}

// forgetLimit drops a client's cached state after its rate limit changed; unlike forget
// it keeps the remembered secret, which is still right.
func (is *Issuer) forgetLimit(clientID string) {
	is.mu.Lock()
	delete(is.clients, clientID)
	is.gen++
	is.mu.Unlock()
}

// NewSecret returns a random client secret: 32 bytes, hex encoded (64 characters, under
// bcrypt's 72-byte limit).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Hash returns the bcrypt hash of a secret.
func (is *Issuer) Hash(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), is.cfg.BcryptCost)
	return string(h), err
}

func bcryptOK(hash, secret string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(secret)) == nil
}

// refusedScope describes a requested scope the client does not hold. Only a scope name
// this service defines is quoted back: the request's text could be anything, a card
// number too, and is never echoed.
func refusedScope(s string) string {
	if slices.Contains(subaccounts.TenantScopes, s) || s == subaccounts.ScopeAccountsAdmin {
		return fmt.Sprintf("scope %q is not granted to this client", s)
	}
	return "a requested scope is not one this service defines"
}
