package httpapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestTokenAttacks: every forged, stale or malformed token is 401 with
// WWW-Authenticate: Bearer error="invalid_token"; no token at all is 401 with a challenge
// naming only the realm.
func TestTokenAttacks(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		good := e.goodClaims(acct)
		// The forging works: the same claims, well signed, are accepted.
		e.expect(e.do("GET", "/v1/account", e.forge(good), nil), 200)

		with := func(k string, v any) map[string]any {
			c := map[string]any{}
			for kk, vv := range good {
				c[kk] = vv
			}
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
			return c
		}
		now := time.Now()
		key, kid := e.signKey()
		pubDER := must(x509.MarshalPKIXPublicKey(&key.PublicKey))

		cases := []struct {
			name  string
			token string
			raw   string // a whole Authorization header instead
			// noCredentials: no bearer token sent at all, so the challenge names a
			// realm and no error code (RFC 6750 §3.1).
			noCredentials bool
		}{
			{name: "no header", raw: "-", noCredentials: true},
			{name: "not bearer", raw: "Basic b3BlcmF0b3I6eA==", noCredentials: true},
			{name: "empty header", raw: " ", noCredentials: true},
			{name: "bearer without token", raw: "Bearer"},
			{name: "garbage", token: "not.a.jwt"},
			{name: "alg none", token: unsigned(map[string]any{"alg": "none", "typ": "JWT"}, good)},
			{name: "HS256 with the public key", token: hs256(map[string]any{"alg": "HS256", "kid": kid}, good, pubDER)},
			{name: "wrong issuer", token: e.forge(with("iss", "https://evil.example"))},
			{name: "wrong audience", token: e.forge(with("aud", "another-api"))},
			{name: "expired", token: e.forge(with("exp", now.Add(-time.Minute).Unix()))},
			{name: "iat in the future", token: e.forge(with("iat", now.Add(5*time.Minute).Unix()))},
			{name: "lifetime over the maximum", token: e.forge(with("exp", now.Add(25*time.Hour).Unix()))},
			{name: "missing account claim", token: e.forge(with(accountClaim, nil))},
			{name: "non-string account claim", token: e.forge(with(accountClaim, 42))},
			{name: "empty account claim", token: e.forge(with(accountClaim, ""))},
			{name: "account that does not exist", token: e.forge(with(accountClaim, uuid.NewString()))},
			{name: "tampered payload", token: tamper(e.forge(good))},
			{name: "oversized header", raw: "Bearer " + e.forge(with("pad", strings.Repeat("x", 9000)))},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e := e.at(t)
				headers := map[string]string{}
				switch {
				case tc.raw == "-":
				case tc.raw != "":
					headers["Authorization"] = tc.raw
				default:
					headers["Authorization"] = "Bearer " + tc.token
				}
				r := e.expect(e.doHeaders("GET", "/v1/account", "", nil, headers), 401)
				if p := r.problem(t); p.Type != "/problems/unauthorized" {
					t.Errorf("type %q", p.Type)
				}
				h := r.Header.Get("WWW-Authenticate")
				if tc.noCredentials {
					if h != `Bearer realm="subaccounts"` {
						t.Errorf("WWW-Authenticate %q, want a realm and no error code", h)
					}
				} else if !strings.HasPrefix(h, `Bearer error="invalid_token"`) {
					t.Errorf("WWW-Authenticate %q", h)
				}
			})
		}
	})
}

// TestOperatorRoutesRefuseTenantTokens: a token naming an account cannot act as the
// operator, even if its issuer granted it accounts:admin.
func TestOperatorRoutesRefuseTenantTokens(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		claims := e.goodClaims(acct)
		claims["scope"] = "accounts:admin subaccounts:read"
		tok := e.forge(claims)
		for _, rt := range operatorRoutes(t, e) {
			path := strings.ReplaceAll(rt.path, "{acct}", acct)
			if p := e.expect(e.do(rt.method, path, tok, rt.body), 403).problem(t); p.Type != "/problems/forbidden" {
				t.Errorf("%s %s: type %q", rt.method, path, p.Type)
			}
		}
		// The same token is fine on its own account's tenant routes.
		e.expect(e.do("GET", "/v1/account", tok, nil), 200)
	})
}

func b64(v any) string {
	return base64.RawURLEncoding.EncodeToString(must(json.Marshal(v)))
}

func unsigned(header, claims map[string]any) string {
	return b64(header) + "." + b64(claims) + "."
}

func hs256(header, claims map[string]any, secret []byte) string {
	input := b64(header) + "." + b64(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// tamper swaps the payload of a signed token for another one, keeping the signature.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	var claims map[string]any
	_ = json.Unmarshal(must(base64.RawURLEncoding.DecodeString(parts[1])), &claims)
	claims["scope"] = "accounts:admin subaccounts:read subaccounts:write"
	parts[1] = b64(claims)
	return strings.Join(parts, ".")
}

func cursorOf(t *testing.T, id string) string {
	t.Helper()
	u := uuid.MustParse(id)
	return base64.RawURLEncoding.EncodeToString(u[:])
}
