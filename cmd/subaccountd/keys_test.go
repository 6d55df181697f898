package main

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, to build old databases
	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// testMasterKey is the master key of tests that configure one.
var testMasterKey = strings.Repeat("4d", 16) + strings.Repeat("6b", 16)

// Operator credentials of these tests, so no test has to read them from stdout.
const (
	keysOpID     = "ops"
	keysOpSecret = "ops-secret-0123456789"
)

// Test PANs, Luhn-valid VISA numbers.
const (
	panA = "4111111111111111"
	panB = "4012888888881881"
	panC = "4000056655665556"
)

// keysEnv returns a server environment on a new database of dialect; the embedded
// default's data directory is returned too.
func keysEnv(t *testing.T, dialect string) (map[string]string, string) {
	t.Helper()
	dir := t.TempDir()
	env := map[string]string{
		"DATA_DIR": dir, "PUBLIC_URL": "http://subaccounts.test",
		"ADMIN_CLIENT_ID": keysOpID, "ADMIN_CLIENT_SECRET": keysOpSecret,
	}
	if dialect == "postgres" {
		env["DATABASE_URL"] = storetest.PostgresURL(t)
	}
	return env, dir
}

// tenant is an account with one subaccount (USA/VISA) and a client holding every scope.
type tenant struct {
	account, sub, clientID, secret, tok string
}

func newTenant(t *testing.T, s *server) tenant {
	t.Helper()
	op := tokenFor(t, s.url, keysOpID, keysOpSecret)
	code, acct := call(t, "POST", s.url+"/v1/accounts", op, map[string]any{
		"name": "Acme", "contract": map[string]any{"maxSubaccounts": 10, "configurations": []any{
			map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}},
		}},
	})
	if code != 201 {
		t.Fatalf("create account: %d %v", code, acct)
	}
	tn := tenant{account: acct["id"].(string)}
	code, client := call(t, "POST", s.url+"/v1/accounts/"+tn.account+"/clients", op, map[string]any{
		"name": "backend", "scopes": []string{"subaccounts:read", "subaccounts:write", "cards:read", "cards:write", "transactions:read", "transactions:write"},
	})
	if code != 201 {
		t.Fatalf("create client: %d %v", code, client)
	}
	tn.clientID, tn.secret = client["clientId"].(string), client["clientSecret"].(string)
	tn.tok = tokenFor(t, s.url, tn.clientID, tn.secret)
	code, sub := call(t, "POST", s.url+"/v1/subaccounts", tn.tok, map[string]any{
		"name": "Shop", "configurations": []any{map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}}},
	})
	if code != 201 {
		t.Fatalf("create subaccount: %d %v", code, sub)
	}
	tn.sub = sub["id"].(string)
	return tn
}

// enrol enrols number and returns the status and body.
func (tn tenant) enrol(t *testing.T, s *server, number string) (int, map[string]any) {
	t.Helper()
	return call(t, "POST", s.url+"/v1/subaccounts/"+tn.sub+"/cards", tn.tok, map[string]any{
		"number": number, "expMonth": 12, "expYear": 2030, "countryCode": "USA", "termsOfUse": true,
	})
}

// mustEnrol enrols number and returns the card's id.
func (tn tenant) mustEnrol(t *testing.T, s *server, number string) string {
	t.Helper()
	code, body := tn.enrol(t, s, number)
	if code != 201 {
		t.Fatalf("enrol: %d %v", code, body)
	}
	return body["id"].(string)
}

// ingest sends a message naming number and returns the status (201 routed, 202 unrouted).
func (tn tenant) ingest(t *testing.T, s *server, number string) (int, map[string]any) {
	t.Helper()
	return call(t, "POST", s.url+"/v1/transactions", tn.tok, map[string]any{
		"networkTransactionId": "ntid-keys-" + digitFree(uuid.NewString()), "type": "auth", "cardNumber": number,
		"amount": 1250, "currency": "USD", "datetime": "2026-11-20T10:15:30.123Z", "authCode": "A1B2C3",
		"merchant": map[string]any{"name": "Diner", "mcc": "5812", "countryCode": "USA", "city": "Austin"},
	})
}

// expectKnown checks that number is found by card number: its message is routed to
// cardID and a second enrolment is refused as an existing card.
func (tn tenant) expectKnown(t *testing.T, s *server, number, cardID string) {
	t.Helper()
	code, body := tn.ingest(t, s, number)
	if code != 201 {
		t.Errorf("message by card number: %d %v, want 201 routed", code, body)
	} else if body["cardId"] != cardID {
		t.Errorf("message routed to card %v, want %s", body["cardId"], cardID)
	}
	if code, body := tn.enrol(t, s, number); code != 409 {
		t.Errorf("second enrolment: %d %v, want 409", code, body)
	}
}

// openStore opens the server's database while the server is stopped.
func openTestStore(t *testing.T, env map[string]string) *store.DB {
	t.Helper()
	db, err := openStore(context.Background(), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// rawExec runs one statement on the server's database outside the store, to build the
// state an earlier release left.
func rawExec(t *testing.T, env map[string]string, query string, args ...any) {
	t.Helper()
	driver, dsn := "sqlite3", "file:"+filepath.Join(env["DATA_DIR"], "subaccounts.db")+"?_pragma=busy_timeout(5000)"
	if env["DATABASE_URL"] != "" {
		driver, dsn = "pgx", env["DATABASE_URL"]
		query = toDollars(query)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// toDollars numbers the ? placeholders for PostgreSQL.
func toDollars(q string) string {
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + string(rune('0'+n)))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func mustRing(t *testing.T, masters ...keys.Master) *keys.Ring {
	t.Helper()
	r, err := keys.NewRing(masters[0], masters[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signingKeyOf opens the stored signing key with ring.
func signingKeyOf(t *testing.T, db *store.DB, ring *keys.Ring) (*rsa.PrivateKey, string, string) {
	t.Helper()
	ks, err := db.SigningKeys(context.Background())
	if err != nil || len(ks) != 1 {
		t.Fatalf("signing keys: %d, %v", len(ks), err)
	}
	der, _, err := ring.Open(ks[0].PrivateKey, []byte("signing-key/"+ks[0].KID))
	if err != nil {
		t.Fatalf("open the signing key: %v", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PrivateKey), ks[0].KID, ks[0].PrivateKey
}

func TestEmbeddedKeyFile(t *testing.T) {
	t.Parallel()
	env, dir := keysEnv(t, "sqlite")
	s := start(t, env)
	path := filepath.Join(dir, "keys", "master.key")
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{path, 0o600}, {filepath.Dir(path), 0o700}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatalf("key file: %v", err)
		}
		if got := fi.Mode().Perm(); got != c.want {
			t.Errorf("%s has mode %04o, want %04o", c.path, got, c.want)
		}
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, path) || !strings.Contains(logs, "a backup of the database alone does not contain it") {
		t.Errorf("the start-up log does not say where the key is and that a database backup lacks it:\n%s", logs)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	masters, err := keys.ParseMasters(string(first), 1)
	if err != nil || len(masters) != 1 {
		t.Fatalf("key file holds %d keys: %v", len(masters), err)
	}
	if strings.Contains(logs, hex.EncodeToString(masters[0].Key)) {
		t.Error("the master key reached the log")
	}
	tn := newTenant(t, s)
	card := tn.mustEnrol(t, s, panA)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	s = start(t, env)
	if again, _ := os.ReadFile(path); !bytes.Equal(again, first) {
		t.Error("a restart changed the key file")
	}
	tn.expectKnown(t, s, panA, card)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	recorded, err := openTestStore(t, env).FingerprintKeys(context.Background())
	if err != nil || len(recorded) != 1 || recorded[0].Secret != nil {
		t.Errorf("fingerprint_keys: %+v (%v), want version 1 without its secret", recorded, err)
	}
}

// TestGeneratedKeyMovedOut starts on a database as an earlier release left it: the
// generated fingerprint key in fingerprint_keys.secret and the signing key as plain PEM.
func TestGeneratedKeyMovedOut(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env, dir := keysEnv(t, dialect)
			key := mustHex(t, testMasterKey)
			ring := mustRing(t, keys.Master{Version: 1, Key: key})

			// Enrol under the key, then put the database back in the earlier release's state.
			env["MASTER_KEY"] = testMasterKey
			s := start(t, env)
			tn := newTenant(t, s)
			card := tn.mustEnrol(t, s, panA)
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			delete(env, "MASTER_KEY")
			signer, kid, _ := signingKeyOf(t, openTestStore(t, env), ring)
			der, err := x509.MarshalPKCS8PrivateKey(signer)
			if err != nil {
				t.Fatal(err)
			}
			rawExec(t, env, "UPDATE fingerprint_keys SET secret = ? WHERE version = 1", key)
			rawExec(t, env, "UPDATE signing_keys SET private_key = ?, activates_at = NULL", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))

			if dialect == "postgres" {
				// No key file on PostgreSQL: refused with the way out, then exported.
				err := run(context.Background(), []string{"subaccountd"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
				for _, want := range []string{"MASTER_KEY", "MASTER_KEY_FILE", "export-master-key"} {
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("start without a key: %v, want a refusal naming %s", err, want)
					}
				}
				out := filepath.Join(t.TempDir(), "master.key")
				var stdout bytes.Buffer
				if err := run(context.Background(), []string{"subaccountd", "export-master-key", "--out", out}, func(k string) string { return env[k] }, &stdout, io.Discard); err != nil {
					t.Fatalf("export-master-key: %v", err)
				}
				if strings.Contains(stdout.String(), testMasterKey) {
					t.Error("export-master-key printed the key")
				}
				env["MASTER_KEY_FILE"] = out
			}
			s = start(t, env)
			tn.expectKnown(t, s, panA, card)
			// The signing key kept its kid: a token signed before the move verifies.
			if code, body := call(t, "GET", s.url+"/v1/account", tn.tok, nil); code != 200 {
				t.Errorf("a token issued before the move: %d %v", code, body)
			}
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			if dialect == "sqlite" {
				moved, err := keys.ReadFile(filepath.Join(dir, "keys", "master.key"))
				if err != nil || len(moved) != 1 || moved[0].Version != 1 || !bytes.Equal(moved[0].Key, key) {
					t.Fatalf("key file: %v %v, want the generated key as version 1", moved, err)
				}
			}
			db := openTestStore(t, env)
			recorded, err := db.FingerprintKeys(context.Background())
			if err != nil || len(recorded) != 1 || recorded[0].Secret != nil {
				t.Errorf("fingerprint_keys: %+v (%v), want version 1 without its secret", recorded, err)
			}
			_, kidAfter, sealed := signingKeyOf(t, db, ring)
			if kidAfter != kid || !keys.IsSealed(sealed) {
				t.Errorf("signing key %s sealed %v, want %s sealed in place", kidAfter, keys.IsSealed(sealed), kid)
			}
		})
	}
}

func TestPostgresWithoutMasterKeyRefused(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/none?sslmode=disable", "DATA_DIR": t.TempDir()}
	err := run(context.Background(), []string{"subaccountd"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	for _, want := range []string{"MASTER_KEY", "MASTER_KEY_FILE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("start on PostgreSQL without a key: %v, want a refusal naming %s", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(env["DATA_DIR"], "keys")); err == nil {
		t.Error("a key file was generated for PostgreSQL")
	}
}

func TestDeprecatedFingerprintKey(t *testing.T) {
	t.Parallel()
	env, _ := keysEnv(t, "sqlite")
	env["CARD_FINGERPRINT_KEY"] = testMasterKey
	env["CARD_FINGERPRINT_KEY_VERSION"] = "1"
	s := start(t, env)
	if logs := s.stderr.String(); !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "CARD_FINGERPRINT_KEY and CARD_FINGERPRINT_KEY_VERSION are deprecated") {
		t.Errorf("no deprecation warning:\n%s", logs)
	}
	tn := newTenant(t, s)
	card := tn.mustEnrol(t, s, panA)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	// The fingerprint is the one earlier releases computed from CARD_FINGERPRINT_KEY.
	f, err := pan.NewFingerprinter(mustHex(t, testMasterKey), 1)
	if err != nil {
		t.Fatal(err)
	}
	n, err := pan.Parse(panA)
	if err != nil {
		t.Fatal(err)
	}
	cards, err := openTestStore(t, env).ActiveCardsByFingerprint(context.Background(), uuid.MustParse(tn.account), [][]byte{f.Fingerprint(uuid.MustParse(tn.account), n)})
	if err != nil || len(cards) != 1 || cards[0].ID.String() != card {
		t.Fatalf("card by the earlier release's fingerprint: %v %v", cards, err)
	}
	delete(env, "CARD_FINGERPRINT_KEY")
	delete(env, "CARD_FINGERPRINT_KEY_VERSION")
	env["MASTER_KEY"] = testMasterKey
	s = start(t, env)
	tn.expectKnown(t, s, panA, card)
}

// TestMasterKeyRotation enrols under version 1, then runs with version 2 current and
// version 1 still accepted, then with version 2 alone.
func TestMasterKeyRotation(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env, _ := keysEnv(t, dialect)
			v1, v2 := testMasterKey, strings.Repeat("a7", 32)
			env["MASTER_KEY"] = v1
			s := start(t, env)
			tn := newTenant(t, s)
			old := tn.mustEnrol(t, s, panA)
			idem := func(s *server) (int, string, string) {
				b, _ := json.Marshal(map[string]any{"name": "Idem", "configurations": []any{map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}}}})
				req, _ := http.NewRequest("POST", s.url+"/v1/subaccounts", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+tn.tok)
				req.Header.Set("Idempotency-Key", "rotation-1")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var m map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&m)
				id, _ := m["id"].(string)
				return resp.StatusCode, id, resp.Header.Get("Idempotent-Replayed")
			}
			code, idemID, _ := idem(s)
			if code != 201 {
				t.Fatalf("idempotent create: %d", code)
			}
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}

			env["MASTER_KEY"] = "2:" + v2 + ",1:" + v1
			s = start(t, env)
			tn.expectKnown(t, s, panA, old)
			fresh := tn.mustEnrol(t, s, panB)
			// A batch holding the old card and a new one: the old one is recognised.
			code, batch := call(t, "POST", s.url+"/v1/subaccounts/"+tn.sub+"/cards/batch", tn.tok, map[string]any{"cards": []any{
				map[string]any{"number": panA, "expMonth": 12, "expYear": 2030, "countryCode": "USA", "termsOfUse": true},
				map[string]any{"number": panC, "expMonth": 12, "expYear": 2030, "countryCode": "USA", "termsOfUse": true},
			}})
			results, _ := batch["results"].([]any)
			if code != 200 || len(results) != 2 {
				t.Fatalf("batch enrolment: %d %v", code, batch)
			}
			for i, want := range []float64{409, 201} {
				if got := results[i].(map[string]any)["status"]; got != want {
					t.Errorf("batch item %d: status %v, want %v", i, got, want)
				}
			}
			if code, id, replayed := idem(s); code != 201 || id != idemID || replayed != "true" {
				t.Errorf("idempotent retry after the rotation: %d %s replayed %q, want the first answer %s replayed", code, id, replayed, idemID)
			}
			if code, body := call(t, "GET", s.url+"/v1/account", tn.tok, nil); code != 200 {
				t.Errorf("a token of before the rotation: %d %v", code, body)
			}
			if err := s.stop(); err != nil {
				t.Fatal(err)
			}
			db := openTestStore(t, env)
			ctx := context.Background()
			for id, want := range map[string]int{old: 1, fresh: 2} {
				c, err := db.GetCard(ctx, uuid.MustParse(tn.account), uuid.MustParse(id), false)
				if err != nil || c.FingerprintKeyVersion != want {
					t.Errorf("card %s: fingerprint key version %d (%v), want %d", id, c.FingerprintKeyVersion, err, want)
				}
			}
			// The signing key was resealed under the current version.
			if _, _, sealed := signingKeyOf(t, db, mustRing(t, keys.Master{Version: 2, Key: mustHex(t, v2)})); !strings.HasPrefix(sealed, "kek1:2:") {
				t.Errorf("signing key not resealed under version 2")
			}
			db.Close()

			// Version 1 retired: the server starts, warns, and still finds the new card.
			env["MASTER_KEY"] = "2:" + v2
			s = start(t, env)
			if !strings.Contains(s.stderr.String(), "is not configured") {
				t.Errorf("no warning that cards of version 1 are no longer found:\n%s", s.stderr)
			}
			tn.expectKnown(t, s, panB, fresh)
			if code, _ := tn.ingest(t, s, panA); code != 202 {
				t.Errorf("message for a card of the retired version: %d, want 202 unrouted", code)
			}
		})
	}
}

// TestKeyMoveResumes covers a crash between the two steps of the move (the key file
// written, the column not yet emptied), and a column holding another key than the file.
func TestKeyMoveResumes(t *testing.T) {
	t.Parallel()
	env, dir := keysEnv(t, "sqlite")
	s := start(t, env)
	tn := newTenant(t, s)
	card := tn.mustEnrol(t, s, panA)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	file, err := keys.ReadFile(keys.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}

	// Crashed after the file was written: the next start empties the column.
	rawExec(t, env, "UPDATE fingerprint_keys SET secret = ? WHERE version = 1", file[0].Key)
	s = start(t, env)
	tn.expectKnown(t, s, panA, card)
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	recorded, err := openTestStore(t, env).FingerprintKeys(context.Background())
	if err != nil || len(recorded) != 1 || recorded[0].Secret != nil {
		t.Fatalf("fingerprint_keys: %+v (%v), want the secret emptied", recorded, err)
	}

	// Another key in the column than in the file: nothing is dropped, the start is refused.
	rawExec(t, env, "UPDATE fingerprint_keys SET secret = ? WHERE version = 1", bytes.Repeat([]byte{7}, 32))
	err = run(context.Background(), []string{"subaccountd"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "export-master-key") {
		t.Errorf("start with another key in the column: %v, want a refusal with the way out", err)
	}
	recorded, err = openTestStore(t, env).FingerprintKeys(context.Background())
	if err != nil || len(recorded) != 1 || recorded[0].Secret == nil {
		t.Errorf("the refused start dropped the key in the column: %+v (%v)", recorded, err)
	}
}

// digitFree spells s's digits as letters: a uuid's digits and dashes can form a run the
// card-number guard refuses (13 to 19 Luhn-valid digits with dashes), about once in a few
// thousand ids.
func digitFree(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return 'g' + (r - '0')
		}
		return r
	}, s)
}
