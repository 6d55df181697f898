// Package auth verifies OAuth2 access tokens (JWTs) with go-oidc and turns their claims
// into a subaccounts.Principal. It adds the checks go-oidc leaves out: the Authorization
// header size, iat in the future, the token lifetime, the typ header, scopes, the account
// claim, and (for the built-in issuer) whether the client is still active.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// MaxHeaderBytes is the largest Authorization header looked at; anything longer is
// refused before parsing.
const MaxHeaderBytes = 8 << 10

// MaxFutureIAT is how far in the future an iat may lie (clock skew).
const MaxFutureIAT = 60 * time.Second

// Error is a refused token. Its Description names the class of failure ("token
// expired", "wrong audience", …) and is safe to return to the client; cause, when set,
// is what the verification library said, for the log.
type Error struct {
	Description string
	cause       string
}

func (e *Error) Error() string { return "invalid token: " + e.Description }

func invalid(format string, args ...any) error {
	return &Error{Description: fmt.Sprintf(format, args...)}
}

// ClientChecker reports whether a client may still use the tokens issued to it.
type ClientChecker interface {
	ClientActive(ctx context.Context, clientID string) (bool, error)
}

// Config configures a Verifier.
type Config struct {
	Issuer       string
	Audience     string
	AccountClaim string
	MaxLifetime  time.Duration
	KeySet       oidc.KeySet
	// Clients, when set, is asked whether the token's client is still active.
	Clients ClientChecker
	Now     func() time.Time
	// Logger receives one INFO line per refused token, naming why (never the token);
	// nil discards them.
	Logger *slog.Logger
	// CacheSize bounds the verified-token cache; 0 means DefaultCacheSize, negative
	// disables it.
	CacheSize int
	// Observe, when set, learns every verification's result: nil, an *Error (refused) or
	// an error wrapping subaccounts.ErrUnavailable.
	Observe func(err error)
}

// DefaultCacheSize is how many verified tokens a Verifier remembers. A client reuses its
// token for every request until it expires, so remembering it spares the signature check
// and the two JWT parses on all but the first request.
const DefaultCacheSize = 10_000

// Verifier verifies access tokens.
type Verifier struct {
	cfg Config
	v   *oidc.IDTokenVerifier

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedToken
}

// cachedToken is a token that passed every check but the client's, valid until exp and
// for as long as the key set it was verified against has not been refetched.
type cachedToken struct {
	tok Token
	exp time.Time
	gen int
}

// generation reports how many times a key set was fetched; a Verifier over a KeySet of
// this package forgets cached tokens whenever it changes, so a key removed from the
// issuer's set takes the tokens it signed with it.
type generation interface{ Fetches() int }

// NewVerifier returns a Verifier.
func NewVerifier(cfg Config) *Verifier {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := oidc.NewVerifier(cfg.Issuer, cfg.KeySet, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: Algorithms,
		Now:                  cfg.Now,
	})
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Verifier{cfg: cfg, v: v, cache: map[[sha256.Size]byte]cachedToken{}}
}

// Token is what a verified access token says.
type Token struct {
	Principal subaccounts.Principal
	// AccountErr is set when the account claim is missing, empty, not a string or not a
	// UUID; tenant routes refuse such tokens, operator routes ignore the claim.
	AccountErr error
}

type claims struct {
	Subject      string          `json:"sub"`
	ClientID     string          `json:"client_id"`
	AZP          string          `json:"azp"`
	IssuedAt     *float64        `json:"iat"`
	Expiry       *float64        `json:"exp"`
	Scope        json.RawMessage `json:"scope"`
	SCP          json.RawMessage `json:"scp"`
	SubaccountID json.RawMessage `json:"subaccount_id"`
}

// Verify checks an Authorization header value and returns the token's contents. A
// refused token is an *Error (logged at INFO with its reason); an issuer or database that
// could not be asked is an error wrapping subaccounts.ErrUnavailable.
func (v *Verifier) Verify(ctx context.Context, header string) (Token, error) {
	tok, err := v.check(ctx, header)
	if v.cfg.Observe != nil {
		v.cfg.Observe(err)
	}
	var ae *Error
	if errors.As(err, &ae) {
		attrs := []slog.Attr{slog.String("reason", ae.Description)}
		if ae.cause != "" {
			attrs = append(attrs, slog.String("detail", scrubDigits(ae.cause)))
		}
		v.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "token refused", attrs...)
	}
	return tok, err
}

// digitRun is a run of digits as long as a card number; a claim the log names may hold
// anything a client put there.
var digitRun = regexp.MustCompile(`[0-9]{13,}`)

func scrubDigits(s string) string { return digitRun.ReplaceAllString(s, "[redacted]") }

func (v *Verifier) check(ctx context.Context, header string) (Token, error) {
	if len(header) > MaxHeaderBytes {
		return Token{}, invalid("authorization header too large")
	}
	scheme, raw, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" || strings.ContainsAny(raw, " \t") {
		return Token{}, invalid("a Bearer token is required")
	}
	tok, err := v.verifyCached(ctx, raw)
	if err != nil {
		return Token{}, err
	}
	// The client's state is checked on every request, cached token or not, so a revoked
	// client's tokens stop working at once.
	if v.cfg.Clients != nil {
		active, err := v.cfg.Clients.ClientActive(ctx, tok.Principal.ClientID)
		if err != nil {
			return Token{}, fmt.Errorf("check client: %w", err)
		}
		if !active {
			return Token{}, invalid("client revoked")
		}
	}
	return tok, nil
}

// verifyCached returns a remembered verification of raw while it is unexpired, and
// verifies and remembers it otherwise. Only the SHA-256 of a token is kept as the key.
func (v *Verifier) verifyCached(ctx context.Context, raw string) (Token, error) {
	if v.cfg.CacheSize < 0 {
		tok, _, err := v.verify(ctx, raw)
		return tok, err
	}
	sum := sha256.Sum256([]byte(raw))
	now := v.cfg.Now()
	gen := -1
	if g, ok := v.cfg.KeySet.(generation); ok {
		gen = g.Fetches()
	}
	v.mu.Lock()
	e, ok := v.cache[sum]
	v.mu.Unlock()
	if ok && now.Before(e.exp) && e.gen == gen {
		return e.tok, nil
	}
	tok, exp, err := v.verify(ctx, raw)
	if err != nil {
		return Token{}, err
	}
	if g, ok := v.cfg.KeySet.(generation); ok && g.Fetches() != gen {
		// The key set changed while verifying; do not remember under a stale generation.
		return tok, nil
	}
	v.mu.Lock()
	if len(v.cache) >= v.cfg.CacheSize {
		// Dropping everything is crude but bounded, and the cost is one more signature
		// check per live token.
		clear(v.cache)
	}
	v.cache[sum] = cachedToken{tok: tok, exp: exp, gen: gen}
	v.mu.Unlock()
	return tok, nil
}

// verify runs go-oidc's checks and this package's on raw, and returns the token and its
// expiry.
func (v *Verifier) verify(ctx context.Context, raw string) (Token, time.Time, error) {
	o := &outcome{}
	idt, err := v.v.Verify(context.WithValue(ctx, outcomeKey{}, o), raw)
	if err != nil {
		return Token{}, time.Time{}, refusal(err, o.err)
	}
	var c claims
	var all map[string]json.RawMessage
	if err := idt.Claims(&c); err != nil {
		return Token{}, time.Time{}, invalid("malformed claims")
	}
	if err := idt.Claims(&all); err != nil {
		return Token{}, time.Time{}, invalid("malformed claims")
	}
	now := v.cfg.Now()
	if c.IssuedAt == nil || c.Expiry == nil {
		return Token{}, time.Time{}, invalid("iat and exp are required")
	}
	iat := time.Unix(int64(*c.IssuedAt), 0)
	exp := time.Unix(int64(*c.Expiry), 0)
	if iat.After(now.Add(MaxFutureIAT)) {
		return Token{}, time.Time{}, invalid("token issued in the future")
	}
	if exp.Sub(iat) > v.cfg.MaxLifetime {
		return Token{}, time.Time{}, invalid("token lifetime exceeds %s", v.cfg.MaxLifetime)
	}
	scopes, err := parseScopes(c.Scope, c.SCP)
	if err != nil {
		return Token{}, time.Time{}, err
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID = c.AZP
	}
	p := subaccounts.Principal{Subject: c.Subject, ClientID: clientID, Scopes: scopes}
	if len(c.SubaccountID) > 0 && string(c.SubaccountID) != "null" {
		var s string
		if json.Unmarshal(c.SubaccountID, &s) != nil {
			return Token{}, time.Time{}, invalid("subaccount_id must be a string")
		}
		id, err := uuid.Parse(s)
		if err != nil {
			return Token{}, time.Time{}, invalid("subaccount_id must be a UUID")
		}
		p.SubaccountID = &id
	}
	tok := Token{Principal: p}
	tok.Principal.AccountID, tok.AccountErr = accountClaim(all[v.cfg.AccountClaim], v.cfg.AccountClaim)
	return tok, exp, nil
}

// outcome carries the key set's own error past go-oidc, which keeps only its text.
type outcome struct{ err error }

type outcomeKey struct{}

// refusal classifies a go-oidc verification error; sigErr is what this package's
// KeySet said, if it was asked. An unreachable key set is returned as it is (an
// outage, 503); anything else becomes an *Error naming the class of failure.
func refusal(err, sigErr error) error {
	if sigErr != nil {
		var fe *FetchError
		var ae *Error
		switch {
		case errors.As(sigErr, &fe):
			return fe
		case errors.As(sigErr, &ae):
			return &Error{Description: ae.Description, cause: sigErr.Error()}
		}
		return &Error{Description: "bad signature", cause: sigErr.Error()}
	}
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return &Error{Description: "token expired", cause: err.Error()}
	}
	msg := err.Error()
	for _, c := range []struct{ marker, class string }{
		{"issued by a different provider", "wrong issuer"},
		{"expected audience", "wrong audience"},
		{"before the nbf", "token not yet valid"},
		{"unexpected signature algorithm", "unsupported signing algorithm"},
		{"malformed jwt", "malformed token"},
		{"not signed", "malformed token"},
		{"multiple signatures", "malformed token"},
		{"failed to verify signature", "bad signature"},
		{"failed to unmarshal claims", "malformed claims"},
	} {
		if strings.Contains(msg, c.marker) {
			return &Error{Description: c.class, cause: msg}
		}
	}
	return &Error{Description: "token could not be verified", cause: msg}
}

func accountClaim(raw json.RawMessage, name string) (uuid.UUID, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return uuid.Nil, invalid("%s claim missing", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return uuid.Nil, invalid("%s claim must be a string", name)
	}
	if s == "" {
		return uuid.Nil, invalid("%s claim is empty", name)
	}
	id, err := uuid.Parse(s)
	if err != nil || id == uuid.Nil {
		return uuid.Nil, invalid("%s claim must be a UUID", name)
	}
	return id, nil
}

// parseScopes reads scope (a space-separated string, RFC 8693) or scp (an array, as some
// issuers send).
func parseScopes(scope, scp json.RawMessage) ([]string, error) {
	var out []string
	if len(scope) > 0 && string(scope) != "null" {
		var s string
		if err := json.Unmarshal(scope, &s); err != nil {
			return nil, invalid("scope must be a string")
		}
		out = append(out, strings.Fields(s)...)
	}
	if len(scp) > 0 && string(scp) != "null" {
		var list []string
		if err := json.Unmarshal(scp, &list); err != nil {
			var s string
			if json.Unmarshal(scp, &s) != nil {
				return nil, invalid("scp must be an array of strings")
			}
			list = strings.Fields(s)
		}
		out = append(out, list...)
	}
	return out, nil
}
