package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// hs256 "signs" claims with HMAC-SHA256 keyed by secret, the classic confusion attack
// where the secret is the issuer's public key.
func hs256(t *testing.T, kid string, secret []byte, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
	if err != nil {
		t.Fatalf("hmac signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("hmac sign: %v", err)
	}
	return raw
}

func TestVerify(t *testing.T) {
	t.Parallel()
	a, b := key(t, "a"), key(t, "b")
	der, err := x509.MarshalPKIXPublicKey(&a.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&a.priv.PublicKey)})

	signed := func(edit func(map[string]any)) func(t *testing.T) string {
		return func(t *testing.T) string { return bearer(sign(t, a, claimsWith(edit), signOpts{})) }
	}
	withTyp := func(typ string) func(t *testing.T) string {
		return func(t *testing.T) string { return bearer(sign(t, a, baseClaims(), signOpts{typ: typ})) }
	}
	at := func(d time.Duration) int64 { return testNow.Add(d).Unix() }

	tests := []struct {
		name   string
		header func(t *testing.T) string
		// wantErr is "" for an accepted token, else a substring of the refusal; refused
		// alone expects a refusal with any description.
		wantErr string
		refused bool
		check   func(t *testing.T, tok Token)
	}{
		{
			name:   "valid with scope string",
			header: signed(nil),
			check: func(t *testing.T, tok Token) {
				p := tok.Principal
				if p.Subject != testClient || p.ClientID != testClient {
					t.Errorf("Subject, ClientID = %q, %q", p.Subject, p.ClientID)
				}
				if want := []string{"subaccounts:read", "subaccounts:write"}; !slices.Equal(p.Scopes, want) {
					t.Errorf("Scopes = %q, want %q", p.Scopes, want)
				}
				if tok.AccountErr != nil {
					t.Errorf("AccountErr = %v", tok.AccountErr)
				}
				if p.AccountID != uuid.MustParse(testAccount) {
					t.Errorf("AccountID = %v, want %s", p.AccountID, testAccount)
				}
				if p.SubaccountID != nil {
					t.Errorf("SubaccountID = %v, want nil", p.SubaccountID)
				}
			},
		},
		{
			name: "scp array",
			header: signed(func(c map[string]any) {
				delete(c, "scope")
				c["scp"] = []string{"subaccounts:read", "accounts:admin"}
			}),
			check: wantScopes("subaccounts:read", "accounts:admin"),
		},
		{
			name: "scp space-separated string",
			header: signed(func(c map[string]any) {
				delete(c, "scope")
				c["scp"] = "subaccounts:read  subaccounts:write"
			}),
			check: wantScopes("subaccounts:read", "subaccounts:write"),
		},
		{
			name: "scope and scp both",
			header: signed(func(c map[string]any) {
				c["scope"] = "subaccounts:read"
				c["scp"] = []string{"subaccounts:write"}
			}),
			check: wantScopes("subaccounts:read", "subaccounts:write"),
		},
		{
			name:   "no scopes",
			header: signed(func(c map[string]any) { delete(c, "scope") }),
			check:  wantScopes(),
		},
		{
			name:    "scope a number",
			header:  signed(func(c map[string]any) { c["scope"] = 42 }),
			wantErr: "scope must be a string",
		},
		{
			name:    "scp array of numbers",
			header:  signed(func(c map[string]any) { c["scp"] = []int{1, 2} }),
			wantErr: "scp must be an array of strings",
		},
		{
			name: "client id from azp",
			header: signed(func(c map[string]any) {
				delete(c, "client_id")
				c["azp"] = "azp-client"
			}),
			check: func(t *testing.T, tok Token) {
				if tok.Principal.ClientID != "azp-client" {
					t.Errorf("ClientID = %q, want azp-client", tok.Principal.ClientID)
				}
			},
		},
		{
			name:   "audience array containing ours",
			header: signed(func(c map[string]any) { c["aud"] = []string{"other", testAudience} }),
		},
		{
			name:   "bearer scheme case-insensitive",
			header: func(t *testing.T) string { return "bearer " + sign(t, a, baseClaims(), signOpts{}) },
		},
		{
			name:   "token without kid tries every key",
			header: func(t *testing.T) string { return bearer(sign(t, a, baseClaims(), signOpts{noKID: true})) },
		},
		{
			name: "alg none",
			header: func(t *testing.T) string {
				return bearer(unsignedJWT(t, map[string]any{"alg": "none", "typ": "JWT"}, baseClaims(), ""))
			},
			wantErr: "unsupported signing algorithm",
		},
		{
			name: "alg none with kid",
			header: func(t *testing.T) string {
				return bearer(unsignedJWT(t, map[string]any{"alg": "none", "kid": a.kid}, baseClaims(), ""))
			},
			wantErr: "unsupported signing algorithm",
		},
		{
			name: "alg none with a signature",
			header: func(t *testing.T) string {
				return bearer(unsignedJWT(t, map[string]any{"alg": "none"}, baseClaims(), "c2ln"))
			},
			wantErr: "unsupported signing algorithm",
		},
		{
			name:    "HS256 keyed with public key DER",
			header:  func(t *testing.T) string { return bearer(hs256(t, a.kid, der, baseClaims())) },
			wantErr: "unsupported signing algorithm",
		},
		{
			name:    "HS256 keyed with public key PEM",
			header:  func(t *testing.T) string { return bearer(hs256(t, a.kid, pemKey, baseClaims())) },
			wantErr: "unsupported signing algorithm",
		},
		{
			name:    "HS256 keyed with PKCS1 PEM",
			header:  func(t *testing.T) string { return bearer(hs256(t, a.kid, pkcs1PEM, baseClaims())) },
			wantErr: "unsupported signing algorithm",
		},
		{
			name: "HS256 hand-made with PEM",
			header: func(t *testing.T) string {
				unsigned := unsignedJWT(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": a.kid}, baseClaims(), "")
				mac := hmac.New(sha256.New, pemKey)
				mac.Write([]byte(strings.TrimSuffix(unsigned, ".")))
				return bearer(unsigned + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)))
			},
			wantErr: "unsupported signing algorithm",
		},
		{
			name:    "wrong issuer",
			header:  signed(func(c map[string]any) { c["iss"] = "https://evil.test" }),
			wantErr: "wrong issuer",
		},
		{
			name:    "issuer with trailing slash",
			header:  signed(func(c map[string]any) { c["iss"] = testIssuer + "/" }),
			wantErr: "wrong issuer",
		},
		{
			name:    "wrong audience",
			header:  signed(func(c map[string]any) { c["aud"] = "other-api" }),
			wantErr: "wrong audience",
		},
		{
			name:    "no audience",
			header:  signed(func(c map[string]any) { delete(c, "aud") }),
			wantErr: "wrong audience",
		},
		{
			name:    "expired",
			header:  signed(func(c map[string]any) { c["exp"] = at(-time.Second) }),
			wantErr: "token expired",
		},
		{
			name:    "no exp",
			header:  signed(func(c map[string]any) { delete(c, "exp") }),
			refused: true,
		},
		{
			name:    "no iat",
			header:  signed(func(c map[string]any) { delete(c, "iat") }),
			wantErr: "iat and exp are required",
		},
		{
			name:    "iat 120s in the future",
			header:  signed(func(c map[string]any) { c["iat"] = at(120 * time.Second) }),
			wantErr: "issued in the future",
		},
		{
			name:    "iat 61s in the future",
			header:  signed(func(c map[string]any) { c["iat"] = at(61 * time.Second) }),
			wantErr: "issued in the future",
		},
		{
			name:   "iat 60s in the future",
			header: signed(func(c map[string]any) { c["iat"] = at(60 * time.Second) }),
		},
		{
			name:   "iat 30s in the future",
			header: signed(func(c map[string]any) { c["iat"] = at(30 * time.Second) }),
		},
		{
			name: "lifetime exactly 24h",
			header: signed(func(c map[string]any) {
				c["iat"] = at(-time.Hour)
				c["exp"] = at(23 * time.Hour)
			}),
		},
		{
			name: "lifetime 24h and 1s",
			header: signed(func(c map[string]any) {
				c["iat"] = at(-time.Hour)
				c["exp"] = at(23*time.Hour + time.Second)
			}),
			wantErr: "lifetime exceeds 24h",
		},
		{
			name: "lifetime 30 days",
			header: signed(func(c map[string]any) {
				c["iat"] = at(-time.Hour)
				c["exp"] = at(30 * 24 * time.Hour)
			}),
			wantErr: "lifetime exceeds",
		},
		{
			name:    "exp at the largest int64",
			header:  signed(func(c map[string]any) { c["exp"] = int64(math.MaxInt64) }),
			refused: true,
		},
		{
			name:    "exp beyond int64",
			header:  signed(func(c map[string]any) { c["exp"] = 1e300 }),
			refused: true,
		},
		{
			name: "iat and exp beyond int64",
			header: signed(func(c map[string]any) {
				c["iat"] = 9.3e18
				c["exp"] = 9.3e18
			}),
			refused: true,
		},
		{
			name:    "iat far in the past",
			header:  signed(func(c map[string]any) { c["iat"] = -1e300 }),
			wantErr: "lifetime exceeds",
		},
		{
			name:    "no scheme",
			header:  func(t *testing.T) string { return sign(t, a, baseClaims(), signOpts{}) },
			wantErr: "Bearer token is required",
		},
		{
			name:    "basic scheme",
			header:  func(t *testing.T) string { return "Basic " + sign(t, a, baseClaims(), signOpts{}) },
			wantErr: "Bearer token is required",
		},
		{
			name:    "DPoP scheme",
			header:  func(t *testing.T) string { return "DPoP " + sign(t, a, baseClaims(), signOpts{}) },
			wantErr: "Bearer token is required",
		},
		{
			name:    "empty header",
			header:  func(*testing.T) string { return "" },
			wantErr: "Bearer token is required",
		},
		{
			name:    "bearer without token",
			header:  func(*testing.T) string { return "Bearer" },
			wantErr: "Bearer token is required",
		},
		{
			name:    "bearer with empty token",
			header:  func(*testing.T) string { return "Bearer " },
			wantErr: "Bearer token is required",
		},
		{
			name:    "two spaces",
			header:  func(t *testing.T) string { return "Bearer  " + sign(t, a, baseClaims(), signOpts{}) },
			wantErr: "Bearer token is required",
		},
		{
			name:    "trailing data",
			header:  func(t *testing.T) string { return bearer(sign(t, a, baseClaims(), signOpts{})) + " extra" },
			wantErr: "Bearer token is required",
		},
		{
			name:    "garbage token",
			header:  func(*testing.T) string { return "Bearer not.a.jwt" },
			wantErr: "malformed token",
		},
		{
			name:    "different key with the same kid",
			header:  func(t *testing.T) string { return bearer(sign(t, b, baseClaims(), signOpts{kid: a.kid})) },
			wantErr: "bad signature",
		},
		{
			name:    "different key without kid",
			header:  func(t *testing.T) string { return bearer(sign(t, b, baseClaims(), signOpts{noKID: true})) },
			wantErr: "bad signature",
		},
		{
			name: "signature of another token",
			header: func(t *testing.T) string {
				good := strings.Split(sign(t, a, baseClaims(), signOpts{}), ".")
				other := strings.Split(sign(t, a, claimsWith(func(c map[string]any) { c["scope"] = "accounts:admin" }), signOpts{}), ".")
				return bearer(good[0] + "." + other[1] + "." + good[2])
			},
			wantErr: "bad signature",
		},
		{name: "typ JWT", header: withTyp("JWT")},
		{name: "typ at+jwt", header: withTyp("at+jwt")},
		{name: "typ application/at+jwt", header: withTyp("application/at+jwt")},
		{name: "typ AT+JWT", header: withTyp("AT+JWT")},
		{name: "typ logout+jwt", header: withTyp("logout+jwt"), wantErr: "unexpected token type"},
		{name: "typ secevent+jwt", header: withTyp("secevent+jwt"), wantErr: "unexpected token type"},
		{
			name: "subaccount_id UUID",
			header: signed(func(c map[string]any) {
				c["subaccount_id"] = testSubacct
			}),
			check: func(t *testing.T, tok Token) {
				if tok.Principal.SubaccountID == nil || *tok.Principal.SubaccountID != uuid.MustParse(testSubacct) {
					t.Errorf("SubaccountID = %v, want %s", tok.Principal.SubaccountID, testSubacct)
				}
			},
		},
		{
			name:   "subaccount_id null",
			header: signed(func(c map[string]any) { c["subaccount_id"] = nil }),
			check: func(t *testing.T, tok Token) {
				if tok.Principal.SubaccountID != nil {
					t.Errorf("SubaccountID = %v, want nil", tok.Principal.SubaccountID)
				}
			},
		},
		{
			name:    "subaccount_id number",
			header:  signed(func(c map[string]any) { c["subaccount_id"] = 7 }),
			wantErr: "subaccount_id must be a string",
		},
		{
			name:    "subaccount_id array",
			header:  signed(func(c map[string]any) { c["subaccount_id"] = []string{testSubacct} }),
			wantErr: "subaccount_id must be a string",
		},
		{
			name:    "subaccount_id not a UUID",
			header:  signed(func(c map[string]any) { c["subaccount_id"] = "sub-1" }),
			wantErr: "subaccount_id must be a UUID",
		},
		{
			name:    "subaccount_id empty",
			header:  signed(func(c map[string]any) { c["subaccount_id"] = "" }),
			wantErr: "subaccount_id must be a UUID",
		},
		{
			name:   "account claim missing",
			header: signed(func(c map[string]any) { delete(c, testClaim) }),
			check:  wantAccountErr("missing"),
		},
		{
			name:   "account claim null",
			header: signed(func(c map[string]any) { c[testClaim] = nil }),
			check:  wantAccountErr("missing"),
		},
		{
			name:   "account claim number",
			header: signed(func(c map[string]any) { c[testClaim] = 12345 }),
			check:  wantAccountErr("must be a string"),
		},
		{
			name:   "account claim array",
			header: signed(func(c map[string]any) { c[testClaim] = []string{testAccount} }),
			check:  wantAccountErr("must be a string"),
		},
		{
			name:   "account claim empty",
			header: signed(func(c map[string]any) { c[testClaim] = "" }),
			check:  wantAccountErr("empty"),
		},
		{
			name:   "account claim not a UUID",
			header: signed(func(c map[string]any) { c[testClaim] = "acme" }),
			check:  wantAccountErr("must be a UUID"),
		},
		{
			name:   "account claim nil UUID",
			header: signed(func(c map[string]any) { c[testClaim] = uuid.Nil.String() }),
			check:  wantAccountErr("must be a UUID"),
		},
		{
			name:   "account claim braced UUID",
			header: signed(func(c map[string]any) { c[testClaim] = "{" + testAccount + "}" }),
			check: func(t *testing.T, tok Token) {
				// uuid.Parse accepts this form; what matters is that it names the same tenant.
				if tok.AccountErr == nil && tok.Principal.AccountID != uuid.MustParse(testAccount) {
					t.Errorf("AccountID = %v", tok.Principal.AccountID)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, jwks(a), nil)
			tok, err := f.verifier.Verify(context.Background(), tt.header(t))
			if tt.wantErr == "" && !tt.refused {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tt.check != nil {
					tt.check(t, tok)
				}
				return
			}
			assertRefused(t, err, tt.wantErr)
			if tok.Principal.Subject != "" || tok.Principal.Scopes != nil {
				t.Errorf("refused token returned a principal: %+v", tok.Principal)
			}
		})
	}
}

func wantScopes(want ...string) func(t *testing.T, tok Token) {
	return func(t *testing.T, tok Token) {
		t.Helper()
		if !slices.Equal(tok.Principal.Scopes, want) {
			t.Errorf("Scopes = %q, want %q", tok.Principal.Scopes, want)
		}
	}
}

// wantAccountErr checks that the token verified but its account claim was found wanting.
func wantAccountErr(desc string) func(t *testing.T, tok Token) {
	return func(t *testing.T, tok Token) {
		t.Helper()
		var ae *Error
		if !errors.As(tok.AccountErr, &ae) {
			t.Fatalf("AccountErr = %v (%T), want *auth.Error", tok.AccountErr, tok.AccountErr)
		}
		if !strings.Contains(ae.Description, testClaim) || !strings.Contains(ae.Description, desc) {
			t.Errorf("AccountErr = %q, want it to name %s and say %q", ae.Description, testClaim, desc)
		}
		if tok.Principal.AccountID != uuid.Nil {
			t.Errorf("AccountID = %v, want uuid.Nil", tok.Principal.AccountID)
		}
		if tok.Principal.ClientID != testClient {
			t.Errorf("ClientID = %q: the rest of the principal should still be filled", tok.Principal.ClientID)
		}
	}
}

// paddedHeader returns a valid Authorization header of exactly size bytes, padding the
// claims (and, to reach every length, the JOSE header).
func paddedHeader(t *testing.T, k testKey, size int) string {
	t.Helper()
	for extra := range 4 {
		o := signOpts{headers: map[jose.HeaderKey]any{"x": strings.Repeat("x", extra)}}
		base := len(bearer(sign(t, k, claimsWith(func(c map[string]any) { c["pad"] = "" }), o)))
		// Each padding byte adds 4/3 of a character; start a little short and walk up.
		for n := max(0, (size-base)*3/4-8); n < size; n++ {
			h := bearer(sign(t, k, claimsWith(func(c map[string]any) { c["pad"] = strings.Repeat("p", n) }), o))
			if len(h) == size {
				return h
			}
			if len(h) > size {
				break
			}
		}
	}
	t.Fatalf("could not build a header of exactly %d bytes", size)
	return ""
}

func TestVerifyHeaderSize(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	tests := []struct {
		name    string
		size    int
		wantErr string
	}{
		{name: "exactly the limit", size: MaxHeaderBytes},
		{name: "one byte over", size: MaxHeaderBytes + 1, wantErr: "too large"},
		{name: "far over", size: 64 << 10, wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clients := &fakeClients{active: true}
			f := newFixture(t, jwks(a), clients)
			h := paddedHeader(t, a, tt.size)
			_, err := f.verifier.Verify(context.Background(), h)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Verify(%d-byte header): %v", len(h), err)
				}
				return
			}
			assertRefused(t, err, tt.wantErr)
			// Refused before parsing: no key fetch, no client lookup.
			if n := f.issuer.Calls(); n != 0 {
				t.Errorf("key set fetched %d times for an oversized header", n)
			}
			if len(clients.asked) != 0 {
				t.Errorf("client checker consulted for an oversized header: %q", clients.asked)
			}
		})
	}
}

func TestVerifyClientChecker(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	boom := errors.New("database down")
	tests := []struct {
		name    string
		clients *fakeClients
		// refused: an *auth.Error; internal: a non-auth error wrapping boom.
		refused, internal bool
	}{
		{name: "active", clients: &fakeClients{active: true}},
		{name: "revoked", clients: &fakeClients{active: false}, refused: true},
		{name: "lookup fails", clients: &fakeClients{err: boom}, internal: true},
		{name: "lookup fails though active", clients: &fakeClients{active: true, err: boom}, internal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, jwks(a), tt.clients)
			tok, err := f.verifier.Verify(context.Background(), bearer(sign(t, a, baseClaims(), signOpts{})))
			switch {
			case tt.refused:
				assertRefused(t, err, "client revoked")
			case tt.internal:
				if err == nil {
					t.Fatal("Verify succeeded though the client lookup failed")
				}
				var ae *Error
				if errors.As(err, &ae) {
					t.Errorf("lookup failure reported as a refused token: %v", err)
				}
				if !errors.Is(err, boom) {
					t.Errorf("error %v does not wrap the lookup failure", err)
				}
			default:
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tok.Principal.ClientID != testClient {
					t.Errorf("ClientID = %q", tok.Principal.ClientID)
				}
			}
			if !slices.Equal(tt.clients.asked, []string{testClient}) {
				t.Errorf("checker asked about %q, want [%s]", tt.clients.asked, testClient)
			}
		})
	}
}

func TestVerifyDoesNotConsultCheckerForBadTokens(t *testing.T) {
	t.Parallel()
	a := key(t, "a")
	clients := &fakeClients{active: true}
	f := newFixture(t, jwks(a), clients)
	bad := bearer(sign(t, a, claimsWith(func(c map[string]any) { c["exp"] = testNow.Add(-time.Hour).Unix() }), signOpts{}))
	if _, err := f.verifier.Verify(context.Background(), bad); err == nil {
		t.Fatal("expired token accepted")
	}
	if len(clients.asked) != 0 {
		t.Errorf("checker consulted for an expired token: %q", clients.asked)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	err := error(&Error{Description: "token expired"})
	if got, want := err.Error(), "invalid token: token expired"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
