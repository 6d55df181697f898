package auth

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// BenchmarkVerify is the token check of every request. "uncached" is a token's first
// use: header checks, go-oidc's parse and claim checks, the signature, and this package's
// claim checks. "cached" is every later use of the same token: a SHA-256 and a map
// lookup, plus the client check both always do.
func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		size int
	}{{"uncached", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			k := key(b, "a")
			f := newFixture(b, jwks(k), &fakeClients{active: true})
			f.verifier = NewVerifier(Config{
				Issuer: testIssuer, Audience: testAudience, AccountClaim: testClaim, MaxLifetime: testLifetime,
				KeySet: f.keys, Clients: &fakeClients{active: true}, Now: func() time.Time { return testNow }, CacheSize: bc.size,
			})
			header := bearer(sign(b, k, baseClaims(), signOpts{typ: "at+jwt"}))
			ctx := context.Background()
			for range 2 {
				if _, err := f.verifier.Verify(ctx, header); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.verifier.Verify(ctx, header); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRSAVerifyBaseline is the floor under BenchmarkVerify: the bare RS256 signature
// check of the same token, with nothing parsed.
func BenchmarkRSAVerifyBaseline(b *testing.B) {
	k := key(b, "a")
	raw := sign(b, k, baseClaims(), signOpts{typ: "at+jwt"})
	i := strings.LastIndexByte(raw, '.')
	sig, err := base64.RawURLEncoding.DecodeString(raw[i+1:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &k.priv.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		sum := sha256.Sum256([]byte(raw[:i]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
			b.Fatal(err)
		}
	}
}
