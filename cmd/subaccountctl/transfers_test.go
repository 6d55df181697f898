package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const (
	fakeAccountID = "0190a0b0-0000-7000-8000-0000000000a1"
	fakeSubID     = "0190a0b0-0000-7000-8000-0000000000b2"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// accountJSON is GET /v1/account of the fake's account in currency.
func accountJSON(currency string) string {
	return fmt.Sprintf(`{"id":%q,"name":"Acme","contract":{"configurations":[{"countries":["USA"],"networks":["VISA"]}],"maxSubaccounts":10,
		"version":3,"currency":%q,"pricing":{"cardEnrolment":150,"transaction":5}},
		"balance":-1234,"creditLimit":100000,"allocatedCredit":20000,"availableCredit":80000,"overLimit":false,
		"createdAt":"2026-01-01T00:00:00.000Z","updatedAt":"2026-01-02T00:00:00.000Z"}`, fakeAccountID, currency)
}

// serveAccount adds GET /v1/account in currency.
func (f *fakeAPI) serveAccount(currency string) {
	f.handle("GET /v1/account", func(w http.ResponseWriter, r *http.Request) {
		writeJSONDoc(w, 200, accountJSON(currency))
	})
}

// requestsTo returns the recorded requests with method and path.
func (f *fakeAPI) requestsTo(method, path string) []recorded {
	var out []recorded
	for _, r := range f.recordedRequests() {
		if r.method == method && r.path == path {
			out = append(out, r)
		}
	}
	return out
}

// transferFake answers transfers like the API: the body echoed back with an id, and the
// same transfer again, marked replayed, for a key it has seen.
func transferFake(t *testing.T) *fakeAPI {
	t.Helper()
	f := newFakeAPI(t)
	f.serveAccount("EUR")
	seen := map[string]string{}
	for _, kind := range []string{"credit", "balance"} {
		f.handle("POST /v1/"+kind+"-transfers", func(w http.ResponseWriter, r *http.Request) {
			var body map[string]any
			dec := json.NewDecoder(r.Body)
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				writeProblemDoc(w, 400, `{"type":"/problems/validation","title":"The request is not valid","status":400}`)
				return
			}
			key := r.Header.Get("Idempotency-Key")
			if doc, ok := seen[key]; ok {
				w.Header().Set("Idempotent-Replayed", "true")
				writeJSONDoc(w, 201, doc)
				return
			}
			sub := body["to"]
			if sub == fakeAccountID {
				sub = body["from"]
			}
			doc := fmt.Sprintf(`{"id":"0190a0b0-0000-7000-8000-%012d","amount":%s,"from":%q,"to":%q,"subaccountId":%q,"reference":%q,"createdAt":"2026-11-22T10:00:00.000Z"}`,
				len(seen)+1, body["amount"], body["from"], body["to"], sub, body["reference"])
			seen[key] = doc
			writeJSONDoc(w, 201, doc)
		})
	}
	return f
}

// TestTransfersCreate checks what transfers create sends (primary resolved to the
// account id, the amount as an exact integer, an Idempotency-Key) and shows.
func TestTransfersCreate(t *testing.T) {
	f := transferFake(t)
	r := runCLI(t, f.env(), "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", fakeSubID,
		"--amount", "999999999999999", "--reference", "Q3 credit line")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	posts := f.requestsTo("POST", "/v1/credit-transfers")
	if len(posts) != 1 {
		t.Fatalf("%d POSTs", len(posts))
	}
	// The amount goes out exactly as typed: never through a float64, which would round it.
	if want := `{"from":"` + fakeAccountID + `","to":"` + fakeSubID + `","amount":999999999999999,"reference":"Q3 credit line"}`; string(posts[0].body) != want {
		t.Errorf("body %s\nwant %s", posts[0].body, want)
	}
	key := posts[0].header.Get("Idempotency-Key")
	if !uuidRE.MatchString(key) {
		t.Fatalf("Idempotency-Key %q is not a UUID", key)
	}
	// The generated key is told before the answer, on stderr, and shown with the result.
	if !strings.Contains(r.stderr, "idempotency key "+key) || !strings.Contains(r.stderr, "--idempotency-key "+key) {
		t.Errorf("stderr does not give the key:\n%s", r.stderr)
	}
	for _, want := range []string{"kind:", "credit transfer", "from:", "primary (" + fakeAccountID + ")", "to:", fakeSubID,
		"amount:", "9999999999999.99 EUR (999999999999999 minor units)", "Q3 credit line", "idempotency key:", key} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "replayed") {
		t.Errorf("a first request shown as replayed:\n%s", r.stdout)
	}

	// Every run without --idempotency-key is a new transfer with a new key.
	r = runCLI(t, f.env(), "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", fakeSubID, "--amount", "1", "--reference", "again")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	posts = f.requestsTo("POST", "/v1/credit-transfers")
	if k2 := posts[1].header.Get("Idempotency-Key"); k2 == key || !uuidRE.MatchString(k2) {
		t.Errorf("second key %q (first %q)", k2, key)
	}
}

// TestTransfersCreateRetry: a given --idempotency-key is sent as given, not announced,
// and a repeat the API recognises is shown as the earlier transfer.
func TestTransfersCreateRetry(t *testing.T) {
	f := transferFake(t)
	args := []string{"transfers", "create", "--kind", "balance", "--from", fakeSubID, "--to", "PRIMARY", "--amount", "1250",
		"--reference", "back", "--idempotency-key", "retry-me-7"}
	first := runCLI(t, f.env(), "", args...)
	second := runCLI(t, f.env(), "", args...)
	for _, r := range []result{first, second} {
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "idempotency key") {
			t.Errorf("a given key was announced:\n%s", r.stderr)
		}
		if !strings.Contains(r.stdout, "12.50 EUR (1250 minor units)") || !strings.Contains(r.stdout, "to:               primary ("+fakeAccountID+")") {
			t.Errorf("output:\n%s", r.stdout)
		}
	}
	posts := f.requestsTo("POST", "/v1/balance-transfers")
	if len(posts) != 2 || posts[0].header.Get("Idempotency-Key") != "retry-me-7" || !bytes.Equal(posts[0].body, posts[1].body) {
		t.Fatalf("posts %+v", posts)
	}
	if strings.Contains(first.stdout, "replayed") || !strings.Contains(second.stdout, "replayed:") || !strings.Contains(second.stdout, "nothing moved again") {
		t.Errorf("first:\n%s\nsecond:\n%s", first.stdout, second.stdout)
	}
	if uuidLineOf(first.stdout) != uuidLineOf(second.stdout) {
		t.Errorf("the replay shows another transfer")
	}

	// --json: the API's document alone on stdout; the replay note goes to stderr.
	r := runCLI(t, f.env(), "", append(args, "--json")...)
	if m, ok := mustJSON(t, r.stdout).(map[string]any); !ok || m["amount"] != float64(1250) {
		t.Errorf("--json stdout %s", r.stdout)
	}
	if !strings.Contains(r.stderr, "was used before") {
		t.Errorf("--json stderr %q", r.stderr)
	}
}

func uuidLineOf(s string) string {
	m := uuidLine.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestTransfersCreateFailures: a refusal shows the problem with its reason and no retry
// advice; a server error and a lost answer tell how to retry with the same key.
func TestTransfersCreateFailures(t *testing.T) {
	f := newFakeAPI(t)
	f.serveAccount("EUR")
	f.handle("POST /v1/balance-transfers", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 422, `{"type":"/problems/invalid-transfers","title":"The transfer cannot be made","status":422,
			"detail":"The primary can give at most 500 (balance 500, unallocated credit 0).","reason":"insufficient-balance"}`)
	})
	f.handle("POST /v1/credit-transfers", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 500, `{"type":"/problems/internal","title":"Internal server error","status":500,"requestId":"req-9"}`)
	})
	r := runCLI(t, f.env(), "", "transfers", "create", "--kind", "balance", "--from", "primary", "--to", fakeSubID, "--amount", "501", "--reference", "r")
	if r.code != exitError || r.stdout != "" {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{"transfers create: POST /v1/balance-transfers failed:", "422 The transfer cannot be made (/problems/invalid-transfers)",
		"at most 500", "reason: insufficient-balance"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "hint:") {
		t.Errorf("a refusal came with retry advice:\n%s", r.stderr)
	}

	r = runCLI(t, f.env(), "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", fakeSubID, "--amount", "5", "--reference", "r")
	key := f.requestsTo("POST", "/v1/credit-transfers")[0].header.Get("Idempotency-Key")
	if r.code != exitError || !strings.Contains(r.stderr, "500 Internal server error") || !strings.Contains(r.stderr, "hint: the transfer may or may not have been made") ||
		!strings.Contains(r.stderr, "--idempotency-key "+key+":") {
		t.Errorf("500: exit %d stderr:\n%s", r.code, r.stderr)
	}

	// The connection drops before an answer.
	drop := newFakeAPI(t)
	drop.serveAccount("EUR")
	drop.handle("POST /v1/credit-transfers", func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	r = runCLI(t, drop.env(), "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", fakeSubID, "--amount", "5", "--reference", "r")
	key = drop.requestsTo("POST", "/v1/credit-transfers")[0].header.Get("Idempotency-Key")
	if r.code != exitError || !strings.Contains(r.stderr, "may or may not have been made") || !strings.Contains(r.stderr, "--idempotency-key "+key+":") {
		t.Errorf("dropped connection: exit %d stderr:\n%s", r.code, r.stderr)
	}
	// Whatever the transport retried, it retried with the same key.
	for _, p := range drop.requestsTo("POST", "/v1/credit-transfers") {
		if p.header.Get("Idempotency-Key") != key {
			t.Errorf("a retry with another key: %q", p.header.Get("Idempotency-Key"))
		}
	}
}

// TestMoneyUsageErrors: bad money command lines exit 2 with the synopsis and without
// getting a token or calling the API.
func TestMoneyUsageErrors(t *testing.T) {
	f := newFakeAPI(t)
	// create is a valid transfers create command line with some flags replaced
	// ("<omit>" leaves one out) or added.
	create := func(over ...string) []string {
		vals := map[string]string{"--kind": "credit", "--from": "primary", "--to": fakeSubID, "--amount": "100", "--reference": "r"}
		var extra []string
		for i := 0; i+1 < len(over); i += 2 {
			if _, ok := vals[over[i]]; ok {
				vals[over[i]] = over[i+1]
			} else {
				extra = append(extra, over[i], over[i+1])
			}
		}
		out := []string{"transfers", "create"}
		for _, k := range []string{"--kind", "--from", "--to", "--amount", "--reference"} {
			if vals[k] != "<omit>" {
				out = append(out, k, vals[k])
			}
		}
		return append(out, extra...)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no kind", create("--kind", "<omit>"), "--kind is required"},
		{"unknown kind", create("--kind", "debit"), `--kind must be credit or balance, not "debit"`},
		{"decimal amount", create("--amount", "12.50"), "--amount must be a positive integer of minor units"},
		{"zero amount", create("--amount", "0"), "--amount must be positive"},
		{"negative amount", create("--amount", "-5"), "--amount must be a positive integer"},
		{"huge amount", create("--amount", "99999999999999999999"), "is too large"},
		{"no amount", create("--amount", "<omit>"), "--amount is required"},
		{"no from", create("--from", "<omit>"), "--from and --to are required"},
		{"both primary", create("--to", "primary"), "both the primary"},
		{"no reference", create("--reference", "<omit>"), "--reference is required"},
		{"blank reference", create("--reference", "  "), "--reference is required"},
		{"empty key", create("--idempotency-key", ""), "--idempotency-key must be 1 to 255"},
		{"key with a space", create("--idempotency-key", "a b"), "visible ASCII"},
		{"long key", create("--idempotency-key", strings.Repeat("k", 256)), "--idempotency-key must be 1 to 255"},
		{"list without kind", []string{"transfers", "list"}, "--kind is required"},
		{"list bad time", []string{"transfers", "list", "--kind", "balance", "--from", "today"}, "--from must be an RFC 3339 time"},
		{"list bad limit", []string{"transfers", "list", "--kind", "balance", "--limit", "-2"}, "--limit must be"},
		{"transfers alone", []string{"transfers"}, "transfers needs a subcommand: create, list"},
		{"usage bad time", []string{"usage", "--to", "2026-13-01T00:00:00Z"}, "--to must be an RFC 3339 time"},
		{"usage limit with one subaccount", []string{"usage", "--subaccount", "s", "--limit", "5"}, "--limit applies to the list"},
		{"usage stray argument", []string{"usage", "s"}, `unexpected argument "s"`},
		{"account stray argument", []string{"account", "x"}, `unexpected argument "x"`},
		{"suspend without id", []string{"subaccounts", "suspend"}, "missing argument"},
		{"reactivate two ids", []string{"subaccounts", "reactivate", "a", "b"}, "too many arguments"},
		{"set nothing", []string{"subaccounts", "set", "s"}, "nothing to set"},
		{"set both modes", []string{"subaccounts", "set", "s", "--own-balance", "--shared-balance"}, "exclude each other"},
		{"set top-up on shared", []string{"subaccounts", "set", "s", "--shared-balance", "--auto-top-up", "0:100"}, "cannot go with --shared-balance"},
		{"set bad top-up", []string{"subaccounts", "set", "s", "--auto-top-up", "10.00:50.00"}, "--auto-top-up threshold"},
		{"set top-up without amount", []string{"subaccounts", "set", "s", "--auto-top-up", "100"}, "THRESHOLD:AMOUNT"},
		{"set negative quota", []string{"subaccounts", "set", "s", "--max-cards", "-1"}, "--max-cards must be 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, f.env(), "", c.args...)
			if r.code != exitError || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "usage: subaccountctl") || r.stdout != "" {
				t.Errorf("%q: exit %d stdout %q stderr:\n%s\nwant 2 and %q", c.args, r.code, r.stdout, r.stderr, c.want)
			}
		})
	}
	if n := len(f.tokenRequests()) + len(f.recordedRequests()); n != 0 {
		t.Errorf("%d requests for command lines that were refused", n)
	}
}

// TestTransfersList reads every page with the filters, shows "primary" for the account
// id and each amount both ways.
func TestTransfersList(t *testing.T) {
	f := pagedFake(t, "/v1/balance-transfers", 150, func(i int) string {
		from, to := fakeAccountID, fakeSubID
		if i%2 == 1 {
			from, to = to, from
		}
		return fmt.Sprintf(`{"id":"tr-%03d","amount":%d,"from":%q,"to":%q,"subaccountId":%q,"reference":"ref %d","createdAt":"2026-11-22T10:00:00.000Z"}`,
			i, i-1, from, to, fakeSubID, i)
	})
	f.serveAccount("JPY")
	r := runCLI(t, f.env(), "", "transfers", "list", "--kind", "balance", "--subaccount", fakeSubID, "--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 151 || !strings.HasPrefix(lines[0], "CREATED") {
		t.Fatalf("%d lines:\n%s", len(lines), r.stdout)
	}
	for i, want := range map[int][]string{1: {"tr-000", "primary", fakeSubID, "-1 JPY", "ref 0"}, 2: {"tr-001", "0 JPY"}, 150: {"tr-149", "148 JPY", "148"}} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d lacks %q: %q", i, w, lines[i])
			}
		}
	}
	if f := strings.Fields(lines[1]); f[2] != "primary" || f[3] != fakeSubID {
		t.Errorf("from/to of the first row: %q", lines[1])
	}
	var pages int
	for _, req := range f.requestsTo("GET", "/v1/balance-transfers") {
		pages++
		q, _ := url.ParseQuery(req.query)
		if q.Get("subaccountId") != fakeSubID || q.Get("from") != "2026-11-01T00:00:00Z" || q.Get("to") != "2026-12-01T00:00:00Z" {
			t.Errorf("filters not sent: %q", req.query)
		}
	}
	if pages != 2 {
		t.Errorf("%d pages, want 2", pages)
	}

	r = runCLI(t, f.env(), "", "--json", "transfers", "list", "--kind", "balance")
	if arr, ok := mustJSON(t, r.stdout).([]any); !ok || len(arr) != 150 {
		t.Errorf("--json: %d items", len(arr))
	}
	r = runCLI(t, f.env(), "", "transfers", "list", "--kind", "credit")
	if r.code != exitError || !strings.Contains(r.stderr, "GET /v1/credit-transfers") {
		t.Errorf("credit transfers go to their own route: exit %d %s", r.code, r.stderr)
	}
}

// TestTransfersListWithoutAccount: a client that may not read the account still gets its
// list, with bare minor units and ids after a warning.
func TestTransfersListWithoutAccount(t *testing.T) {
	f := pagedFake(t, "/v1/credit-transfers", 1, func(i int) string {
		return fmt.Sprintf(`{"id":"tr-1","amount":1250,"from":%q,"to":%q,"subaccountId":%q,"reference":"r","createdAt":"x"}`, fakeAccountID, fakeSubID, fakeSubID)
	})
	f.handle("GET /v1/account", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 403, `{"type":"/problems/insufficient-scope","title":"The access token lacks a required scope","status":403,"scope":"subaccounts:read"}`)
	})
	r := runCLI(t, f.env(), "", "transfers", "list", "--kind", "credit")
	if r.code != exitOK || !strings.Contains(r.stdout, "1250 minor units") || !strings.Contains(r.stdout, fakeAccountID) ||
		!strings.Contains(r.stderr, "warning: cannot read the account") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Resolving "primary" needs the account: then it is an error, before any money moves.
	f.handle("POST /v1/credit-transfers", func(w http.ResponseWriter, r *http.Request) { writeJSONDoc(w, 201, `{}`) })
	r = runCLI(t, f.env(), "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", fakeSubID, "--amount", "1", "--reference", "r")
	if r.code != exitError || !strings.Contains(r.stderr, `hint: "primary" is resolved to the account id`) || !strings.Contains(r.stderr, "403") {
		t.Errorf("exit %d stderr:\n%s", r.code, r.stderr)
	}
	if n := len(f.requestsTo("POST", "/v1/credit-transfers")); n != 0 {
		t.Errorf("%d transfers sent without a resolved primary", n)
	}
}
