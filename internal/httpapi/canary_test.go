package httpapi_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib"       // the "pgx" driver, for reading the test database directly
	_ "github.com/ncruces/go-sqlite3/driver" // the "sqlite3" driver, for breaking the test database
)

// The PAN canary drives card numbers through every path that receives one, then searches
// everything the service could have kept or shown for them: the responses, the logs and
// the database itself.

// Canary PANs: Luhn-valid, both networks, 13 to 19 digits, built from digit runs nothing
// else in the suite uses, so that any hit is a leak of these numbers.
var (
	canaryEnrolled   = luhnPAN("4739", 86153972640, 16)    // enrolled, then duplicate, then messages
	canaryPolicy     = luhnPAN("5173", 92864015372, 16)    // refused by policy, queued unrouted, enrolled, retried
	canaryExpiry     = luhnPAN("4739", 27481963058, 16)    // bad expiry and other malformed bodies
	canaryCVV        = luhnPAN("2221", 73648195026, 16)    // sent with a CVV, track data, an unknown field
	canarySuspended  = luhnPAN("4739", 51827364901528, 19) // into a suspended subaccount
	canaryLuhn       = luhnPAN("4739", 61029384756, 16)    // its one-digit-off twin fails the Luhn check
	canaryBatch13    = luhnPAN("4739", 38291746, 13)       // batch enrolment (13 digits)
	canaryBatchMC    = luhnPAN("5173", 40592817364, 16)    // batch enrolment, refused by policy
	canaryUnknown    = luhnPAN("5173", 18374659201, 16)    // message batch, card never enrolled
	canaryQuery      = luhnPAN("4739", 95017283645, 16)    // in query strings
	canaryDBError    = luhnPAN("5173", 63920184756, 16)    // while the database fails
	canaryPathSeg    = luhnPAN("4739", 70418263955, 16)    // in a URL path segment (see below)
	canaryFreeText   = luhnPAN("5173", 27182818284, 16)    // in every free-text field
	canaryControlPAN = luhnPAN("4739", 11235813213, 16)    // positive control: written on purpose
)

// luhnTwin is pan with its check digit changed: one digit off, and no longer Luhn-valid.
func luhnTwin(pan string) string {
	last := pan[len(pan)-1]
	return pan[:len(pan)-1] + string('0'+(last-'0'+1)%10)
}

// canaryNeedles are the forms in which pan would show if it leaked, most telling first:
// whole, grouped in fours, hex-encoded (as a bytea dump shows bytes), and with either end
// masked away, so a masked-but-too-wide leak is caught too. A masked form is searched
// only when it keeps ten digits or more, so that a short run cannot match an id or a
// duration by chance.
func canaryNeedles(pan string) [][2]string {
	var groups []string
	for i := 0; i < len(pan); i += 4 {
		groups = append(groups, pan[i:min(i+4, len(pan))])
	}
	n := [][2]string{
		{"whole", pan},
		{"spaced", strings.Join(groups, " ")},
		{"dashed", strings.Join(groups, "-")},
		{"dotted", strings.Join(groups, ".")},
		{"hex", hex.EncodeToString([]byte(pan))},
	}
	if len(pan)-6 >= 10 {
		n = append(n, [2]string{"without its first six digits", pan[6:]})
	}
	if len(pan)-4 >= 10 {
		n = append(n, [2]string{"without its last four digits", pan[:len(pan)-4]})
	}
	return n
}

// canaryHits lists where in haystack each of pans shows, in its most telling form.
func canaryHits(haystack []byte, pans ...string) []string {
	var hits []string
	for _, pan := range pans {
		for _, n := range canaryNeedles(pan) {
			if i := bytes.Index(haystack, []byte(n[1])); i >= 0 {
				lo, hi := max(0, i-100), min(len(haystack), i+len(n[1])+60)
				hits = append(hits, fmt.Sprintf("%s (%s) at byte %d: …%q…", pan, n[0], i, haystack[lo:hi]))
				break
			}
		}
	}
	return hits
}

// canaryRecorder keeps every response a test received, body and headers.
type canaryRecorder struct {
	responses []response
	labels    []string
}

func (r *canaryRecorder) do(e *env, method, path, token string, body any, want int) response {
	e.t.Helper()
	return r.doHeaders(e, method, path, token, body, nil, want)
}

func (r *canaryRecorder) doHeaders(e *env, method, path, token string, body any, headers map[string]string, want int) response {
	e.t.Helper()
	resp := e.doHeaders(method, path, token, body, headers)
	r.responses = append(r.responses, resp)
	r.labels = append(r.labels, fmt.Sprintf("%s %s → %d", method, path, resp.Status))
	if want != 0 {
		e.expect(resp, want)
	}
	return resp
}

// hits searches every recorded response for pans.
func (r *canaryRecorder) hits(pans ...string) []string {
	var out []string
	for i, resp := range r.responses {
		var hdr bytes.Buffer
		_ = resp.Header.Write(&hdr)
		for _, h := range canaryHits(slices.Concat(hdr.Bytes(), []byte("\n"), resp.Body), pans...) {
			out = append(out, r.labels[i]+": "+h)
		}
	}
	return out
}

// canaryDump returns the raw content of the test databases of t's envs, by source. On
// SQLite that is the database file and its WAL (storetest puts each in a t.TempDir()
// beside the ones t makes); on PostgreSQL, a pg_dump and a row_to_json dump of every
// table of each database holding one of accountIDs.
func canaryDump(t *testing.T, dialect string, accountIDs ...string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	switch dialect {
	case "sqlite":
		files, err := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "subaccounts.db*"))
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		if !slices.ContainsFunc(files, func(f string) bool { return strings.HasSuffix(f, "-wal") }) || len(all) == 0 {
			t.Fatalf("SQLite files %v: want the database and its WAL", files)
		}
		out["SQLite files "+strings.Join(files, ", ")] = all
	case "postgres":
		for _, u := range canaryPostgresURLs(t, accountIDs...) {
			out["row_to_json of "+u] = canaryTableDump(t, u)
			pgDump, err := exec.LookPath("pg_dump")
			if err != nil {
				pgDump = "/usr/bin/pg_dump"
			}
			if _, err := os.Stat(pgDump); err != nil {
				t.Logf("no pg_dump (%v): the row_to_json dump stands alone", err)
				continue
			}
			b, err := exec.Command(pgDump, "--no-owner", "--no-privileges", "--dbname="+u).Output()
			if err != nil {
				// A pg_dump older than the server refuses to run; the row_to_json dump
				// still holds every row.
				t.Logf("pg_dump: %v: the row_to_json dump stands alone", err)
				continue
			}
			out["pg_dump of "+u] = b
		}
	}
	return out
}

// canaryPostgresURLs finds the test databases holding the accounts. storetest does not
// expose the URL of the database pgtestdb cloned for an env, so this looks among the
// clones on the server for the ones whose accounts table holds these account ids.
func canaryPostgresURLs(t *testing.T, accountIDs ...string) []string {
	t.Helper()
	base, err := url.Parse(os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	server, err := sql.Open("pgx", base.String())
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	rows, err := server.Query(`SELECT datname FROM pg_database WHERE datname LIKE 'testdb\_tpl\_%\_inst\_%' ORDER BY datname`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, name := range names {
		u := *base
		u.Path = "/" + name
		db, err := sql.Open("pgx", u.String())
		if err != nil {
			continue
		}
		// Other tests' databases come and go meanwhile: an error only means "not ours".
		ours := false
		for _, id := range accountIDs {
			var n int
			if db.QueryRow(`SELECT count(*) FROM accounts WHERE account_id = $1`, id).Scan(&n) == nil && n > 0 {
				ours = true
			}
		}
		_ = db.Close()
		if ours {
			found = append(found, u.String())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d databases hold accounts %v, want 1", len(found), accountIDs)
	}
	return found
}

// canaryTableDump returns every row of every table of the public schema as JSON text.
func canaryTableDump(t *testing.T, dbURL string) []byte {
	t.Helper()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// cards may be renamed (canaryBreakCards); the rest must be there.
	for _, want := range []string{"accounts", "subaccounts", "subaccount_entitlements", "transactions"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("tables %v: no %s", tables, want)
		}
	}
	var out bytes.Buffer
	for _, table := range tables {
		// The table names come from the catalogue, quoted as identifiers.
		rs, err := db.QueryContext(ctx, "SELECT row_to_json(t)::text FROM "+pgx.Identifier{table}.Sanitize()+" t")
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for rs.Next() {
			var row string
			if err := rs.Scan(&row); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s: %s\n", table, row)
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
		_ = rs.Close()
	}
	return out.Bytes()
}

// canaryBreakCards renames the cards table under a running service, so that the next
// statement touching it fails inside the handler, with the PAN in hand.
func canaryBreakCards(t *testing.T, dialect, accountID string) {
	t.Helper()
	canaryExec(t, dialect, accountID, "ALTER TABLE cards RENAME TO cards_gone")
}

// canaryExec runs stmt on the database of the test's service, behind its back.
func canaryExec(t *testing.T, dialect, accountID, stmt string) {
	t.Helper()
	var dsn, driver string
	switch dialect {
	case "sqlite":
		files, err := filepath.Glob(filepath.Join(filepath.Dir(t.TempDir()), "*", "subaccounts.db"))
		if err != nil || len(files) != 1 {
			t.Fatalf("SQLite database of this test: %v %v", files, err)
		}
		driver, dsn = "sqlite3", "file:"+filepath.ToSlash(files[0])+"?_pragma=busy_timeout(10000)"
	case "postgres":
		driver, dsn = "pgx", canaryPostgresURLs(t, accountID)[0]
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(stmt); err != nil {
		t.Fatal(err)
	}
}

// TestPANCanary: a card number is never stored, logged or returned, on any path that
// receives one — success, every refusal, message ingestion by number, query strings and
// database failures.
func TestPANCanary(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		dialect := e.db.Dialect()
		var rec canaryRecorder
		acct := e.newAccount("Canary", usaCanContract(10))
		tok := e.tenantToken(acct)
		shop := e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")})
		visaOnly := e.newSubaccount(tok, "Visa only", []any{cfg([]string{"USA"}, "VISA")})
		frozen := e.newSubaccount(tok, "Frozen", []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")})
		e.expect(e.do("PATCH", "/v1/subaccounts/"+frozen, tok, map[string]any{"suspended": true}), 200)
		enrolPath := func(sub string) string { return "/v1/subaccounts/" + sub + "/cards" }

		t.Run("enrolment", func(t *testing.T) {
			e := e.at(t)
			card := rec.do(e, "POST", enrolPath(shop), tok, cardBody(canaryEnrolled, "USA"), 201).json(t)
			// What may be shown of a PAN is shown: the first six and last four digits.
			if card["firstNumbers"] != canaryEnrolled[:6] || card["lastNumbers"] != canaryEnrolled[len(canaryEnrolled)-4:] {
				t.Errorf("card %v", card)
			}
			rec.do(e, "GET", "/v1/cards/"+card["id"].(string), tok, nil, 200)
			rec.do(e, "GET", "/v1/cards?limit=100", tok, nil, 200)
			for _, sub := range []string{shop, visaOnly} {
				if p := rec.do(e, "POST", enrolPath(sub), tok, cardBody(canaryEnrolled, "USA"), 409); p.problem(t).Type != "/problems/card-exists" {
					t.Errorf("duplicate: %s", p.Body)
				}
			}
			if p := rec.do(e, "POST", enrolPath(visaOnly), tok, cardBody(canaryPolicy, "USA"), 422); p.problem(t).Type != "/problems/policy-violation" {
				t.Errorf("policy: %s", p.Body)
			}
			if p := rec.do(e, "POST", enrolPath(frozen), tok, cardBody(canarySuspended, "USA"), 409); p.problem(t).Type != "/problems/subaccount-suspended" {
				t.Errorf("suspended: %s", p.Body)
			}
			rec.do(e, "POST", enrolPath(shop), tok, cardBody(luhnTwin(canaryLuhn), "USA"), 400)
		})

		t.Run("malformed enrolments", func(t *testing.T) {
			e := e.at(t)
			with := func(pan string, mod func(m map[string]any)) map[string]any {
				m := cardBody(pan, "USA")
				mod(m)
				return m
			}
			for name, body := range map[string]any{
				"month 13":             with(canaryExpiry, func(m map[string]any) { m["expMonth"] = 13 }),
				"expired":              with(canaryExpiry, func(m map[string]any) { m["expYear"] = 2001 }),
				"number as a number":   with(canaryExpiry, func(m map[string]any) { m["number"] = json.Number(canaryExpiry) }),
				"number with spaces":   with(canaryNeedles(canaryExpiry)[1][1], func(map[string]any) {}),
				"number too long":      with(canaryExpiry+"3", func(map[string]any) {}),
				"cvv":                  with(canaryCVV, func(m map[string]any) { m["cvv"] = "123" }),
				"track data":           with(canaryCVV, func(m map[string]any) { m["track2"] = ";" + canaryCVV + "=29121010000?" }),
				"PAN in unknown field": with(canaryCVV, func(m map[string]any) { m["pan"] = canaryCVV }),
			} {
				if p := rec.do(e, "POST", enrolPath(shop), tok, body, 400); p.problem(t).Type != "/problems/validation" {
					t.Errorf("%s: %s", name, p.Body)
				}
			}
		})

		t.Run("batch enrolment", func(t *testing.T) {
			e := e.at(t)
			expired := cardBody(canaryExpiry, "USA")
			expired["expYear"] = 2001
			r := rec.do(e, "POST", enrolPath(visaOnly)+"/batch", tok, map[string]any{"cards": []any{
				cardBody(canaryBatch13, "USA"),        // enrolled
				cardBody(canaryBatchMC, "USA"),        // outside the configuration
				cardBody(canaryEnrolled, "USA"),       // enrolled before
				cardBody(luhnTwin(canaryLuhn), "USA"), // fails the Luhn check
				cardBody(canaryBatch13, "USA"),        // repeats item 0
				expired,                               // expired
				cardBody(canarySuspended, "CAN"),      // outside the configuration
			}}, 200)
			var res struct {
				Results []struct{ Status int } `json:"results"`
			}
			r.decode(t, &res)
			var got []int
			for _, it := range res.Results {
				got = append(got, it.Status)
			}
			if want := []int{201, 422, 409, 400, 409, 400, 422}; !slices.Equal(got, want) {
				t.Errorf("batch statuses %v, want %v", got, want)
			}
			// Refused whole: a CVV in any item, and a suspended subaccount.
			withCVV := cardBody(canaryBatchMC, "USA")
			withCVV["CVC2"] = "999"
			rec.do(e, "POST", enrolPath(shop)+"/batch", tok, map[string]any{"cards": []any{cardBody(canaryBatchMC, "USA"), withCVV}}, 400)
			rec.do(e, "POST", enrolPath(frozen)+"/batch", tok, map[string]any{"cards": []any{cardBody(canaryBatchMC, "USA")}}, 409)
		})

		t.Run("messages by card number", func(t *testing.T) {
			e := e.at(t)
			first := message(canaryEnrolled, "auth")
			tx := rec.do(e, "POST", "/v1/transactions", tok, first, 201).json(t)
			rec.do(e, "POST", "/v1/transactions", tok, first, 200)
			rec.do(e, "GET", "/v1/transactions/"+tx["id"].(string), tok, nil, 200)

			// Unknown card: queued, then routed once the card is enrolled.
			queued := rec.do(e, "POST", "/v1/transactions", tok, message(canaryPolicy, "auth"), 202).json(t)
			rec.do(e, "POST", "/v1/transactions/unrouted/"+queued["id"].(string)+"/retry", tok, nil, 202)
			rec.do(e, "GET", "/v1/transactions/unrouted", tok, nil, 200)
			rec.do(e, "POST", enrolPath(shop), tok, cardBody(canaryPolicy, "USA"), 201)
			routed := rec.do(e, "POST", "/v1/transactions/unrouted/"+queued["id"].(string)+"/retry", tok, nil, 201).json(t)
			if routed["id"] != queued["id"] {
				t.Errorf("retry routed %v, want the queued id %v", routed["id"], queued["id"])
			}

			bad := message(luhnTwin(canaryLuhn), "auth")
			rec.do(e, "POST", "/v1/transactions", tok, bad, 400)
			both := message(canaryEnrolled, "auth")
			both["cardId"] = tx["cardId"]
			rec.do(e, "POST", "/v1/transactions", tok, both, 400)

			again := message(canaryEnrolled, "clearing")
			r := rec.do(e, "POST", "/v1/transactions/batch", tok, map[string]any{"messages": []any{
				again,                                 // routed
				message(canaryUnknown, "auth"),        // card never enrolled: queued
				message(luhnTwin(canaryLuhn), "auth"), // invalid
				message(canaryBatch13, "auth"),        // routed
				again,                                 // repeats item 0
			}}, 200)
			var res struct {
				Results []struct{ Status int } `json:"results"`
			}
			r.decode(t, &res)
			var got []int
			for _, it := range res.Results {
				got = append(got, it.Status)
			}
			if want := []int{201, 202, 400, 201, 200}; !slices.Equal(got, want) {
				t.Errorf("message batch statuses %v, want %v", got, want)
			}
			rec.do(e, "GET", "/v1/transactions?limit=100", tok, nil, 200)
			rec.do(e, "GET", "/v1/transactions/unrouted", tok, nil, 200)
		})

		t.Run("query strings", func(t *testing.T) {
			e := e.at(t)
			// A number where none belongs: the parameter is not one the routes read.
			for _, path := range []string{"/v1/cards?number=" + canaryQuery, "/v1/transactions?cardNumber=" + canaryQuery} {
				if r := rec.do(e, "GET", path, tok, nil, 0); r.Status >= 500 {
					t.Errorf("%s: %d", path, r.Status)
				}
			}
			// The access log records the path without its query.
			var lines int
			for _, line := range strings.Split(e.logs.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "request" || m["route"] != "/v1/cards" || m["method"] != "GET" {
					continue
				}
				lines++
				if m["path"] != "/v1/cards" {
					t.Errorf("access log path %v", m["path"])
				}
			}
			if lines == 0 {
				t.Error("no access log line for GET /v1/cards")
			}
		})

		t.Run("PAN in a path segment", func(t *testing.T) {
			e := e.at(t)
			var pathRec canaryRecorder
			// A client looking a card up by its number.
			pathRec.do(e, "GET", "/v1/cards/"+canaryPathSeg, tok, nil, 400)
			pathRec.do(e, "GET", "/v1/transactions/"+canaryPathSeg, tok, nil, 400)
			// The access log and a problem's instance show the path with card-number-like
			// digit runs masked.
			for _, h := range pathRec.hits(canaryPathSeg) {
				t.Errorf("PAN in a path segment returned: %s", h)
			}
			for _, h := range canaryHits([]byte(e.logs.String()), canaryPathSeg) {
				t.Errorf("PAN in a path segment logged: %s", h)
			}
		})

		t.Run("free-text fields", func(t *testing.T) {
			e := e.at(t)
			canaryFreeTextFields(t, e, &rec, acct, tok, shop)
		})

		// Positive control: a PAN written on purpose, into a subaccount's name behind the
		// service's back (no request may store one) and into the request id, must be found
		// by the very searches that find no canary.
		canaryExec(t, dialect, acct, "UPDATE subaccounts SET name = name || ' "+canaryControlPAN+"' WHERE name = 'Shop'")
		rec.doHeaders(e, "GET", "/v1/subaccounts/"+shop, tok, nil, map[string]string{"X-Request-Id": canaryControlPAN}, 200)
		canaries := []string{
			canaryEnrolled, canaryPolicy, canaryExpiry, canaryCVV, canarySuspended, canaryLuhn, luhnTwin(canaryLuhn),
			canaryBatch13, canaryBatchMC, canaryUnknown, canaryQuery, canaryDBError, canaryExpiry + "3", canaryFreeText,
		}

		t.Run("database errors", func(t *testing.T) {
			// A service of its own, whose database fails under it.
			e2 := newEnv(t, dialect)
			var rec2 canaryRecorder
			acct2 := e2.newAccount("Broken", usaCanContract(10))
			tok2 := e2.tenantToken(acct2)
			sub2 := e2.newSubaccount(tok2, "Shop", []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")})
			e2.enrol(tok2, sub2, visaPAN, "USA") // warms the caches on the token path

			canaryBreakCards(t, dialect, acct2)
			rec2.do(e2, "POST", enrolPath(sub2), tok2, cardBody(canaryDBError, "USA"), 500)
			rec2.do(e2, "POST", enrolPath(sub2)+"/batch", tok2, map[string]any{"cards": []any{cardBody(canaryDBError, "USA")}}, 500)
			rec2.do(e2, "POST", "/v1/transactions", tok2, message(canaryDBError, "auth"), 500)
			rec2.do(e2, "POST", "/v1/transactions/batch", tok2, map[string]any{"messages": []any{message(canaryDBError, "auth")}}, 500)
			dump := canaryDump(t, dialect, acct2)
			if err := e2.db.Close(); err != nil {
				t.Fatal(err)
			}
			rec2.do(e2, "POST", enrolPath(sub2), tok2, cardBody(canaryDBError, "USA"), 500)
			rec2.do(e2, "POST", "/v1/transactions", tok2, message(canaryDBError, "clearing"), 500)

			for _, r := range rec2.responses {
				if p := r.problem(t); p.Type != "/problems/internal" {
					t.Errorf("database failure answered %+v", p)
				}
			}
			var logged []string
			for _, line := range strings.Split(e2.logs.String(), "\n") {
				if strings.Contains(line, `"level":"ERROR"`) {
					logged = append(logged, line)
				}
			}
			if len(logged) < len(rec2.responses) {
				t.Errorf("%d errors logged for %d failed requests:\n%s", len(logged), len(rec2.responses), strings.Join(logged, "\n"))
			}
			t.Logf("errors logged:\n%s", strings.Join(logged, "\n"))
			for _, h := range rec2.hits(canaries...) {
				t.Errorf("response: %s", h)
			}
			for _, h := range canaryHits([]byte(e2.logs.String()), canaries...) {
				t.Errorf("log: %s", h)
			}
			for src, b := range dump {
				for _, h := range canaryHits(b, canaries...) {
					t.Errorf("%s: %s", src, h)
				}
			}
		})

		// The searches work: the control PAN is in the responses, the logs and every dump.
		dump := canaryDump(t, dialect, acct)
		if len(rec.hits(canaryControlPAN)) == 0 {
			t.Error("positive control: the control PAN is not found in the responses")
		}
		// A request id that looks like a card number is replaced, so nothing the server
		// logs carries the control; the log search is checked on the logs plus one line
		// that does.
		if len(canaryHits([]byte(e.logs.String()), canaryControlPAN)) != 0 {
			t.Error("a card-number-like request id was logged")
		}
		if len(canaryHits([]byte(e.logs.String()+`{"msg":"x","v":"`+canaryControlPAN+`"}`), canaryControlPAN)) == 0 {
			t.Error("positive control: the log search misses a PAN that is there")
		}
		for src, b := range dump {
			if len(canaryHits(b, canaryControlPAN)) == 0 {
				t.Errorf("positive control: the control PAN is not found in %s", src)
			}
		}
		if len(dump) == 0 {
			t.Fatal("no database dump")
		}

		// And they find no canary.
		for _, h := range rec.hits(canaries...) {
			t.Errorf("response: %s", h)
		}
		for _, h := range canaryHits([]byte(e.logs.String()), canaries...) {
			t.Errorf("log: %s", h)
		}
		for src, b := range dump {
			for _, h := range canaryHits(b, append(canaries, canaryPathSeg)...) {
				t.Errorf("%s: %s", src, h)
			}
		}
		t.Logf("searched %d responses, %d bytes of logs and %d database dumps for %d PANs", len(rec.responses), len(e.logs.String()), len(dump), len(canaries))
	})
}

// canaryFreeTextFields sends canaryFreeText, written in each way a person writes a card
// number, in every free-text field a request can carry, and card security fields at every
// depth: each is refused with 400 naming the field, and nothing is stored.
func canaryFreeTextFields(t *testing.T, e *env, rec *canaryRecorder, acct, tok, shop string) {
	t.Helper()
	written := canaryWritings(canaryFreeText)
	card := func(mod func(m map[string]any)) map[string]any {
		m := cardBody(canaryEnrolled, "USA") // enrolled already: only the refusal matters
		mod(m)
		return m
	}
	msg := func(mod func(m map[string]any)) map[string]any {
		m := message(canaryEnrolled, "auth")
		mod(m)
		return m
	}
	merchant := func(field, v string) func(m map[string]any) {
		return func(m map[string]any) { m["merchant"].(map[string]any)[field] = v }
	}
	type request struct {
		name, method, path, token string
		body                      func(pan string) any
		pointer                   string
	}
	requests := []request{
		{"account name", "POST", "/v1/accounts", e.opToken, func(p string) any {
			return map[string]any{"name": "Acme " + p, "contract": usaCanContract(1)}
		}, "/name"},
		{"account rename", "PATCH", "/v1/accounts/" + acct, e.opToken, func(p string) any { return map[string]any{"name": p} }, "/name"},
		{"client name", "POST", "/v1/accounts/" + acct + "/clients", e.opToken, func(p string) any {
			return map[string]any{"name": "client " + p, "scopes": []string{"subaccounts:read"}}
		}, "/name"},
		{"subaccount name", "POST", "/v1/subaccounts", tok, func(p string) any { return map[string]any{"name": p} }, "/name"},
		{"subaccount rename", "PATCH", "/v1/subaccounts/" + shop, tok, func(p string) any { return map[string]any{"name": "Shop " + p} }, "/name"},
		{"subaccount metadata value", "POST", "/v1/subaccounts", tok, func(p string) any {
			return map[string]any{"name": "Meta", "metadata": map[string]string{"note": "card " + p}}
		}, "/metadata/note"},
		{"subaccount metadata key", "PATCH", "/v1/subaccounts/" + shop, tok, func(p string) any {
			return map[string]any{"metadata": map[string]string{p: "x"}}
		}, "/metadata"},
		{"card metadata value", "POST", "/v1/subaccounts/" + shop + "/cards", tok, func(p string) any {
			return card(func(m map[string]any) { m["metadata"] = map[string]string{"holder": p} })
		}, "/metadata/holder"},
		{"card metadata key", "POST", "/v1/subaccounts/" + shop + "/cards", tok, func(p string) any {
			return card(func(m map[string]any) { m["metadata"] = map[string]string{p: "x"} })
		}, "/metadata"},
		{"merchant name", "POST", "/v1/transactions", tok, func(p string) any { return msg(merchant("name", "Diner "+p)) }, "/merchant/name"},
		{"merchant city", "POST", "/v1/transactions", tok, func(p string) any { return msg(merchant("city", p)) }, "/merchant/city"},
		{"network transaction id", "POST", "/v1/transactions", tok, func(p string) any {
			return msg(func(m map[string]any) { m["networkTransactionId"] = "ntid-" + p })
		}, "/networkTransactionId"},
		{"transfer reference", "POST", "/v1/credit-transfers", tok, func(p string) any {
			return map[string]any{"from": acct, "to": shop, "amount": 1, "reference": "inv " + p}
		}, "/reference"},
		// Not free text, but refused values that used to be quoted back.
		{"configuration country", "POST", "/v1/subaccounts", tok, func(p string) any {
			return map[string]any{"name": "Cfg", "configurations": []any{cfg([]string{p}, "VISA")}}
		}, "/configurations/0/countries/0"},
		{"client scope", "POST", "/v1/accounts/" + acct + "/clients", e.opToken, func(p string) any {
			return map[string]any{"name": "client", "scopes": []string{p}}
		}, "/scopes/0"},
		{"top-up reference", "POST", "/v1/accounts/" + acct + "/top-ups", e.opToken, func(p string) any {
			return map[string]any{"amount": 1, "reference": p}
		}, "/reference"},
	}
	for _, r := range requests {
		for how, p := range written {
			// A key holding a card number is named by its map, so as not to echo it.
			resp := rec.do(e, r.method, r.path, r.token, r.body(p), 400)
			if got := resp.problem(t).pointers(); !slices.Equal(got, []string{r.pointer}) {
				t.Errorf("%s, %s: pointers %v, want [%s]", r.name, how, got, r.pointer)
			}
		}
	}

	// In a batch, the item is refused in its own result, naming the field.
	batches := []struct {
		name, path, member string
		item               any
		pointer            string
	}{
		{"card batch metadata", "/v1/subaccounts/" + shop + "/cards/batch", "cards",
			card(func(m map[string]any) { m["metadata"] = map[string]string{"holder": written["spaced"]} }), "/cards/0/metadata/holder"},
		{"message batch merchant", "/v1/transactions/batch", "messages", msg(merchant("name", written["dashed"])), "/messages/0/merchant/name"},
	}
	for _, b := range batches {
		resp := rec.do(e, "POST", b.path, tok, map[string]any{b.member: []any{b.item}}, 200)
		var res struct {
			Results []struct {
				Status  int        `json:"status"`
				Problem problemDoc `json:"problem"`
			} `json:"results"`
		}
		resp.decode(t, &res)
		if len(res.Results) != 1 || res.Results[0].Status != 400 || !slices.Equal(res.Results[0].Problem.pointers(), []string{b.pointer}) {
			t.Errorf("%s: results %+v, want one 400 naming %s", b.name, res.Results, b.pointer)
		}
	}

	// Card security fields are refused at any depth, metadata keys included, in any case.
	forbidden := []struct {
		name, method, path string
		body               any
		pointer            string
	}{
		{"subaccount metadata cvv", "POST", "/v1/subaccounts", map[string]any{"name": "Meta", "metadata": map[string]string{"cvv": "123"}}, "/metadata/cvv"},
		{"card metadata PIN", "POST", "/v1/subaccounts/" + shop + "/cards", card(func(m map[string]any) { m["metadata"] = map[string]string{"PIN": "1234"} }), "/metadata/PIN"},
		{"merchant track data", "POST", "/v1/transactions", msg(merchant("Track_2", ";"+canaryFreeText+"=2912")), "/merchant/Track_2"},
		{"batch item CVC", "POST", "/v1/subaccounts/" + shop + "/cards/batch", map[string]any{"cards": []any{card(func(m map[string]any) {
			m["metadata"] = map[string]string{"cvc": "999"}
		})}}, "/cards/0/metadata/cvc"},
	}
	for _, f := range forbidden {
		resp := rec.do(e, f.method, f.path, tok, f.body, 400)
		if got := resp.problem(t).pointers(); !slices.Equal(got, []string{f.pointer}) {
			t.Errorf("%s: pointers %v, want [%s]", f.name, got, f.pointer)
		}
	}
}

// canaryWritings are the ways a person writes pan: whole, and grouped in fours with
// spaces, dashes or dots.
func canaryWritings(pan string) map[string]string {
	var groups []string
	for i := 0; i < len(pan); i += 4 {
		groups = append(groups, pan[i:min(i+4, len(pan))])
	}
	return map[string]string{
		"whole": pan, "spaced": strings.Join(groups, " "), "dashed": strings.Join(groups, "-"), "dotted": strings.Join(groups, "."),
	}
}
