package main

import (
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

const compliantReport = `{"accountId":"0190a0b0-0000-7000-8000-000000000001","compliant":true,"checkedAt":"2026-11-22T10:00:00.000Z",
 "window":{"from":"2026-11-21T10:00:00.000Z","to":"2026-11-22T10:00:00.000Z"},
 "summary":{"subaccounts":2,"activeCards":5,"subaccountsOutsideContract":0,"cardsOutsideConfiguration":0,"transactionsOutOfPolicy":0},
 "violations":{"subaccountsOutsideContract":[],"cardsOutsideConfiguration":[],"transactionsOutOfPolicy":[]}}`

const violationsReport = `{"accountId":"0190a0b0-0000-7000-8000-000000000001","compliant":false,"checkedAt":"2026-11-22T10:00:00.000Z",
 "window":{"from":"2026-11-21T10:00:00.000Z","to":"2026-11-22T10:00:00.000Z"},
 "summary":{"subaccounts":2,"activeCards":5,"subaccountsOutsideContract":1,"cardsOutsideConfiguration":3,"transactionsOutOfPolicy":7},
 "violations":{
  "subaccountsOutsideContract":[{"subaccountId":"0190a0b0-0000-7000-8000-00000000000a","name":"Acme Corp","outsideContract":[{"country":"GBR","network":"MASTERCARD"}]}],
  "cardsOutsideConfiguration":[{"subaccountId":"0190a0b0-0000-7000-8000-00000000000b","country":"CAN","network":"VISA","cards":3,
    "cardIds":["0190a0b0-0000-7000-8000-0000000000c1"],"list":"/v1/cards?subaccountId=x"}],
  "transactionsOutOfPolicy":[{"subaccountId":"0190a0b0-0000-7000-8000-00000000000b","country":"CAN","network":"VISA","transactions":7}]}}`

// TestComplianceExitCodes maps each kind of answer to its exit code: compliant 0,
// violations 1, an error answer or no answer at all 2.
func TestComplianceExitCodes(t *testing.T) {
	f := newFakeAPI(t)
	report := compliantReport
	f.handle("GET /v1/compliance", func(w http.ResponseWriter, r *http.Request) {
		writeJSONDoc(w, 200, report)
	})
	f.handle("GET /v1/accounts/{id}/compliance", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "boom" {
			writeProblemDoc(w, 500, `{"type":"/problems/internal","title":"Internal server error","status":500,"requestId":"req-42"}`)
			return
		}
		writeJSONDoc(w, 200, violationsReport)
	})

	r := runCLI(t, f.env(), "", "compliance", "check")
	if r.code != exitOK || !strings.Contains(r.stdout, "COMPLIANT") || strings.Contains(r.stdout, "NOT COMPLIANT") {
		t.Errorf("compliant: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	report = violationsReport
	r = runCLI(t, f.env(), "", "compliance", "check", "--from", "2026-11-21T00:00:00Z", "--to", "2026-11-22T00:00:00Z", "--sample", "5")
	if r.code != exitFindings {
		t.Fatalf("violations: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"NOT COMPLIANT",
		"Subaccounts outside the account contract (1 subaccount):",
		"Acme Corp", "GBR on MASTERCARD",
		"Active cards outside their subaccount's configuration (1 group):",
		"0190a0b0-0000-7000-8000-0000000000c1",
		"Transactions out of policy in the window (1 group):",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("violations output lacks %q:\n%s", want, r.stdout)
		}
	}
	// The tables are aligned: each header column starts where its values do.
	lines := strings.Split(r.stdout, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "SUBACCOUNT  ") && strings.Contains(l, "TRANSACTIONS") {
			hdr, val := l, lines[i+1]
			if strings.Index(hdr, "COUNTRY") != strings.Index(val, "CAN") || strings.Index(hdr, "TRANSACTIONS") != strings.LastIndex(val, "7") {
				t.Errorf("misaligned table:\n%s\n%s", hdr, val)
			}
		}
	}
	reqs := f.recordedRequests()
	if q := reqs[len(reqs)-1].query; q != "from=2026-11-21T00%3A00%3A00Z&sample=5&to=2026-11-22T00%3A00%3A00Z" {
		t.Errorf("query sent: %q", q)
	}

	// --json prints the report as received, and the exit code still follows it.
	r = runCLI(t, f.env(), "", "compliance", "check", "--json")
	if r.code != exitFindings || !reflect.DeepEqual(mustJSON(t, r.stdout), mustJSON(t, violationsReport)) {
		t.Errorf("--json: exit %d, stdout %q", r.code, r.stdout)
	}

	// --account asks the operator route.
	r = runCLI(t, f.env(), "", "compliance", "check", "--account", "acct-1")
	reqs = f.recordedRequests()
	if r.code != exitFindings || reqs[len(reqs)-1].path != "/v1/accounts/acct-1/compliance" {
		t.Errorf("--account: exit %d, last path %q", r.code, reqs[len(reqs)-1].path)
	}

	// HTTP 500 is an error (2), shown with its problem details.
	r = runCLI(t, f.env(), "", "compliance", "check", "--account", "boom")
	if r.code != exitError || !strings.Contains(r.stderr, "500 Internal server error") || !strings.Contains(r.stderr, "request id: req-42") {
		t.Errorf("500: exit %d, stderr %q", r.code, r.stderr)
	}

	// A report without "compliant" is an error, not a silent verdict.
	report = `{"accountId":"x"}`
	r = runCLI(t, f.env(), "", "compliance", "check")
	if r.code != exitError || !strings.Contains(r.stderr, `no "compliant" field`) {
		t.Errorf("no verdict: exit %d, stderr %q", r.code, r.stderr)
	}

	// Connection refused: a port that was just free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	env := f.env()
	env["SUBACCOUNTS_URL"] = "http://" + addr
	r = runCLI(t, env, "", "compliance", "check")
	if r.code != exitError || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("connection refused: exit %d, stderr %q", r.code, r.stderr)
	}
	// The token came from the fake, the API is down.
	env["SUBACCOUNTS_TOKEN_URL"] = f.URL + "/oauth2/token"
	r = runCLI(t, env, "", "compliance", "check")
	if r.code != exitError || !strings.Contains(r.stderr, "GET /v1/compliance") || !strings.Contains(r.stderr, "connection refused") {
		t.Errorf("API down: exit %d, stderr %q", r.code, r.stderr)
	}
}
