package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// TestDatabaseDumpHoldsNoKey is a recovery attempt on a copy of the database: after cards,
// an unrouted message, a client and an idempotent request were written, every byte of the
// database (the SQLite files; pg_dump of PostgreSQL) is searched for the master key,
// every key derived from it and the signing key's private parts, in the encodings a
// database or a dump would show them; and every private key that can be read out of the
// dump is tried for forging an operator token, which the server must refuse.
func TestDatabaseDumpHoldsNoKey(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env, dir := keysEnv(t, dialect)
			if dialect == "postgres" {
				env["MASTER_KEY"] = testMasterKey
			}
			s := start(t, env)
			tn := newTenant(t, s)
			for _, n := range []string{panA, panB} {
				tn.mustEnrol(t, s, n)
			}
			if code, _ := tn.ingest(t, s, panC); code != 202 {
				t.Fatalf("message for an unknown card: %d, want 202 unrouted", code)
			}
			req, _ := http.NewRequest("POST", s.url+"/v1/accounts/"+tn.account+"/clients",
				strings.NewReader(`{"name":"second","scopes":["cards:read"]}`))
			req.Header.Set("Authorization", "Bearer "+tokenFor(t, s.url, keysOpID, keysOpSecret))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", "dump-1")
			resp, err := http.DefaultClient.Do(req)
			if err != nil || resp.StatusCode != 201 {
				t.Fatalf("idempotent client creation: %v %v", resp, err)
			}
			resp.Body.Close()
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}

			master := mustHex(t, testMasterKey)
			if dialect == "sqlite" {
				m, err := keys.ReadFile(keys.DefaultFile(dir))
				if err != nil {
					t.Fatal(err)
				}
				master = m[0].Key
			}
			m := keys.Master{Version: 1, Key: master}
			ring := mustRing(t, m)
			signer, kid, _ := signingKeyOf(t, openTestStore(t, env), ring)

			dump := databaseBytes(t, env)
			if len(dump) < 10_000 {
				t.Fatalf("the dump is %d bytes: nothing was read", len(dump))
			}
			for name, secret := range secretsOf(t, m, uuid.MustParse(tn.account), signer) {
				for enc, text := range encodings(secret) {
					if bytes.Contains(dump, text) {
						t.Errorf("the dump holds %s (%s)", name, enc)
					}
				}
			}
			for _, n := range []string{panA, panB, panC} {
				if bytes.Contains(dump, []byte(n)) {
					t.Errorf("the dump holds a card number")
				}
			}

			candidates := privateKeysIn(dump)
			if len(candidates) > 0 {
				t.Errorf("%d private key(s) could be read from the dump", len(candidates))
			}
			// Every key read out of the dump forges a token; the server must refuse each,
			// while the real key (the control) is accepted.
			s = start(t, env)
			forged := func(k *rsa.PrivateKey) int {
				sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k, KeyID: kid}}, (&jose.SignerOptions{}).WithType("at+jwt"))
				if err != nil {
					t.Fatal(err)
				}
				now := time.Now()
				raw, err := jwt.Signed(sig).Claims(map[string]any{
					"iss": env["PUBLIC_URL"], "aud": "subaccounts-api", "sub": keysOpID, "client_id": keysOpID,
					"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": uuid.NewString(), "scope": "accounts:admin",
				}).Serialize()
				if err != nil {
					t.Fatal(err)
				}
				code, _ := call(t, "GET", s.url+"/v1/accounts", raw, nil)
				return code
			}
			if code := forged(signer); code != 200 {
				t.Fatalf("control: a token signed with the real key got %d, want 200", code)
			}
			for _, k := range candidates {
				if code := forged(k); code != 401 {
					t.Errorf("a token forged with a key from the dump got %d, want 401", code)
				}
			}
		})
	}
}

// databaseBytes returns every byte of the database: the SQLite files (the key file
// beside them excluded: it is not the database), or pg_dump's output.
func databaseBytes(t *testing.T, env map[string]string) []byte {
	t.Helper()
	if url := env["DATABASE_URL"]; url != "" {
		out, err := exec.Command("pg_dump", "--no-owner", url).Output()
		if err != nil {
			t.Fatalf("pg_dump: %v", err)
		}
		return out
	}
	var all []byte
	entries, err := os.ReadDir(env["DATA_DIR"])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(env["DATA_DIR"], e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// secretsOf lists the key material that must not be in the database.
func secretsOf(t *testing.T, m keys.Master, account uuid.UUID, k *rsa.PrivateKey) map[string][]byte {
	t.Helper()
	out := map[string][]byte{"the master key": m.Key}
	for _, label := range []string{keys.LabelIdempotencyRequestHash, keys.LabelIdempotencyKey, keys.LabelResponseSeal, keys.LabelKEK} {
		out["derived key "+label] = keys.Derive(m, label)
	}
	// The account's fingerprint key (package pan's derivation) and the HMAC-derived
	// idempotency keys of earlier releases, still read.
	h := hmac.New(sha256.New, m.Key)
	h.Write([]byte("cardseg/fingerprint/account/" + account.String()))
	out["the account's fingerprint key"] = h.Sum(nil)
	f, err := pan.NewFingerprinter(m.Key, m.Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"idempotency/request-hash", "idempotency/response-seal", "idempotency/key"} {
		out["legacy derived key "+l] = f.DeriveKey(l)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	out["the signing key (PKCS #8)"] = pkcs8
	out["the signing key (PKCS #1)"] = x509.MarshalPKCS1PrivateKey(k)
	out["the signing key's d"] = k.D.Bytes()
	out["the signing key's p"] = k.Primes[0].Bytes()
	out["the signing key's q"] = k.Primes[1].Bytes()
	return out
}

// encodings returns secret as it could appear in a file or a dump.
func encodings(secret []byte) map[string][]byte {
	return map[string][]byte{
		"raw":              secret,
		"hex":              []byte(hex.EncodeToString(secret)),
		"HEX":              []byte(strings.ToUpper(hex.EncodeToString(secret))),
		"base64":           []byte(base64.StdEncoding.EncodeToString(secret)),
		"base64url (JWK)":  []byte(base64.RawURLEncoding.EncodeToString(secret)),
		"base64, unpadded": []byte(base64.RawStdEncoding.EncodeToString(secret)),
	}
}

var (
	pemBlock = regexp.MustCompile(`-----BEGIN [A-Z ]+-----[A-Za-z0-9+/=\s\\n]+-----END [A-Z ]+-----`)
	b64Run   = regexp.MustCompile(`[A-Za-z0-9+/_-]{200,}={0,2}`)
	hexRun   = regexp.MustCompile(`[0-9a-fA-F]{200,}`)
)

// privateKeysIn returns every RSA private key that can be read out of b: PEM blocks,
// long base64 or hex runs, and DER sequences at any offset.
func privateKeysIn(b []byte) []*rsa.PrivateKey {
	var blobs [][]byte
	for _, p := range pemBlock.FindAll(b, -1) {
		p = bytes.ReplaceAll(p, []byte(`\n`), []byte("\n"))
		if block, _ := pem.Decode(p); block != nil {
			blobs = append(blobs, block.Bytes)
		}
	}
	for _, r := range b64Run.FindAll(b, -1) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(string(r)); err == nil {
				blobs = append(blobs, d)
			}
		}
	}
	for _, r := range hexRun.FindAll(b, -1) {
		if d, err := hex.DecodeString(string(r[:len(r)&^1])); err == nil {
			blobs = append(blobs, d)
		}
	}
	blobs = append(blobs, b)
	var out []*rsa.PrivateKey
	seen := map[string]bool{}
	for _, blob := range blobs {
		for i := 0; i+4 < len(blob); i++ {
			if blob[i] != 0x30 || blob[i+1] != 0x82 {
				continue
			}
			n := 4 + (int(blob[i+2])<<8 | int(blob[i+3]))
			if i+n > len(blob) {
				continue
			}
			der := blob[i : i+n]
			var k *rsa.PrivateKey
			if p8, err := x509.ParsePKCS8PrivateKey(der); err == nil {
				k, _ = p8.(*rsa.PrivateKey)
			} else if p1, err := x509.ParsePKCS1PrivateKey(der); err == nil {
				k = p1
			}
			if k != nil && !seen[string(k.N.Bytes())] {
				seen[string(k.N.Bytes())] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// TestPrivateKeysInFindsKeys shows that the recovery attempt above would find a key
// stored the way earlier releases stored it, or in any other common encoding.
func TestPrivateKeysInFindsKeys(t *testing.T) {
	t.Parallel()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	junk := "INSERT INTO x VALUES ('junk');\n"
	tests := map[string]string{
		"PEM in a text column":       junk + pemText + junk,
		"PEM with escaped newlines":  junk + strings.ReplaceAll(pemText, "\n", `\n`) + junk,
		"DER in a binary column":     junk + string(der) + junk,
		"DER as pg_dump's bytea hex": junk + `\x` + hex.EncodeToString(der) + junk,
		"PKCS #1 DER base64 encoded": junk + base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(k)) + junk,
	}
	for name, dump := range tests {
		t.Run(name, func(t *testing.T) {
			got := privateKeysIn([]byte(dump))
			if len(got) != 1 || !got[0].Equal(k) {
				t.Errorf("found %d keys, want the one key", len(got))
			}
		})
	}
}
