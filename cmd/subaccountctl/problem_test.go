package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// TestRenderProblem checks that every part of a problem document a person needs is shown:
// status and title, type, detail, each failing pointer or parameter with its detail, the
// extensions, and the request id.
func TestRenderProblem(t *testing.T) {
	ptr, root := "/configurations/0/countries/1", ""
	cardID := "0190a0b0-0000-7000-8000-0000000000c1"
	e := &apiError{context: "POST /v1/subaccounts", status: 422, problem: &problem{
		Type: "/problems/policy-violation", Title: "The request would break the account contract", Status: 422,
		Detail: "The configurations permit pairs outside the account contract.", RequestID: "req-7",
		Errors: []fieldError{
			{Pointer: &ptr, Detail: "GBR on MASTERCARD is outside the account contract"},
			{Pointer: &root, Detail: "body is wrong"},
			{Parameter: "limit", Detail: "must be 1–100"},
		},
		OutsideContract: []pair{{Country: "GBR", Network: "MASTERCARD"}, {Country: "DEU", Network: "VISA"}},
		Pair:            &pair{Country: "GBR", Network: "MASTERCARD"},
		Permitted:       &[]configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}},
		CardID:          &cardID,
		Scope:           "cards:write",
		Reason:          "insufficient-balance",
	}}
	var b bytes.Buffer
	renderProblem(&b, e)
	want := `  422 The request would break the account contract (/problems/policy-violation)
  The configurations permit pairs outside the account contract.
  reason: insufficient-balance
  /configurations/0/countries/1: GBR on MASTERCARD is outside the account contract
  (body): body is wrong
  parameter limit: must be 1–100
  outside the contract: GBR on MASTERCARD, DEU on VISA
  refused pair: GBR on MASTERCARD
  permitted: USA:VISA
  existing card: 0190a0b0-0000-7000-8000-0000000000c1
  missing scope: cards:write
  request id: req-7
`
	if b.String() != want {
		t.Errorf("rendered:\n%s\nwant:\n%s", b.String(), want)
	}

	// An answer without a problem document still says what happened.
	b.Reset()
	renderProblem(&b, &apiError{context: "GET /x", status: 502})
	if !strings.Contains(b.String(), "HTTP 502 Bad Gateway (no problem document in the answer)") {
		t.Errorf("no document: %q", b.String())
	}

	// Anything shaped like a card number is hidden, wherever the server put it.
	b.Reset()
	renderProblem(&b, &apiError{status: 400, problem: &problem{Title: "Bad", Detail: "number 4111111111111111 is bad"}})
	if strings.Contains(b.String(), "4111111111111111") || !strings.Contains(b.String(), "number [redacted] is bad") {
		t.Errorf("redaction: %q", b.String())
	}
}

// TestProblemThroughRun drives an API error through run: exit 2, what was being done,
// and the problem's lines on stderr, nothing on stdout.
func TestProblemThroughRun(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("POST /v1/subaccounts", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 400, `{"type":"/problems/validation","title":"The request is not valid","status":400,
			"detail":"1 invalid member","errors":[{"pointer":"/name","detail":"must not be empty"}]}`)
	})
	f.handle("GET /v1/subaccounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html>proxy error</html>"))
	})
	r := runCLI(t, f.env(), "", "subaccounts", "create", "--name", "x", "--config", "USA:VISA")
	if r.code != exitError || r.stdout != "" {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{"subaccountctl subaccounts create: POST /v1/subaccounts failed:\n", "400 The request is not valid (/problems/validation)", "1 invalid member", "/name: must not be empty"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	r = runCLI(t, f.env(), "", "subaccounts", "get", "some-id")
	if r.code != exitError || !strings.Contains(r.stderr, "HTTP 502 Bad Gateway") || strings.Contains(r.stderr, "proxy error") {
		t.Errorf("502: exit %d stderr %q", r.code, r.stderr)
	}
}
