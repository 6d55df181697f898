package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sprintAll(v any) string { return fmt.Sprintf("%v %+v %#v %s", v, v, v, v) }

// testPAN returns a distinct 16-digit number for row i; the fake API does not check
// Luhn digits.
func testPAN(i int) string { return fmt.Sprintf("4%015d", 100000000+i) }

// enrolment is a complete CardEnrolment, accepting the terms of use.
func enrolment(number string, month, year int, country string) cardEnrolment {
	return cardEnrolment{Number: &number, ExpMonth: &month, ExpYear: &year, CountryCode: &country, TermsOfUse: new(true)}
}

// cardJSON is a Card as the API would return it for an enrolment, which must be complete.
func cardJSON(id, sub string, e cardEnrolment) string {
	n := *e.Number
	return fmt.Sprintf(`{"id":%q,"accountId":"acc","subaccountId":%q,"network":"VISA","countryCode":%q,"firstNumbers":%q,"lastNumbers":%q,
		"expMonth":%d,"expYear":%d,"status":"active","policyStatus":"in-policy","metadata":{},"createdAt":"2026-11-22T10:00:00.000Z","updatedAt":"2026-11-22T10:00:00.000Z"}`,
		id, sub, *e.CountryCode, n[:6], n[len(n)-4:], *e.ExpMonth, *e.ExpYear)
}

// batchFake adds a batch route that enrols every card except those whose number is in
// refuse; each refusal's problem detail quotes the number, as a careless server might.
func batchFake(t *testing.T, refuse map[string]int) *fakeAPI {
	f := newFakeAPI(t)
	f.handle("POST /v1/subaccounts/{id}/cards/batch", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Cards []cardEnrolment `json:"cards"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("batch body: %v", err)
		}
		if r.PathValue("id") == "suspended-sub" {
			writeProblemDoc(w, 409, `{"type":"/problems/subaccount-suspended","title":"The subaccount is suspended","status":409}`)
			return
		}
		var results []string
		for i, c := range body.Cards {
			if c.TermsOfUse == nil || !*c.TermsOfUse || c.Number == nil {
				t.Errorf("card %d sent without termsOfUse or number", i)
				continue
			}
			if status, ok := refuse[*c.Number]; ok {
				results = append(results, fmt.Sprintf(`{"index":%d,"status":%d,"problem":{"type":"/problems/card-exists","title":"Card exists","status":%d,
					"detail":"card %s is already enrolled","cardId":"0190a0b0-0000-7000-8000-0000000000e%d"}}`, i, status, status, *c.Number, i%10))
				continue
			}
			results = append(results, fmt.Sprintf(`{"index":%d,"status":201,"card":%s}`, i, cardJSON(fmt.Sprintf("card-%d", i), r.PathValue("id"), c)))
		}
		writeJSONDoc(w, 200, `{"results":[`+strings.Join(results, ",")+`],"summary":{"enrolled":0,"failed":0}}`)
	})
	f.handle("POST /v1/subaccounts/{id}/cards", func(w http.ResponseWriter, r *http.Request) {
		var c cardEnrolment
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			t.Errorf("enrol body: %v", err)
		}
		if c.Number == nil {
			t.Errorf("enrolment sent without a number")
			return
		}
		if status, ok := refuse[*c.Number]; ok {
			writeProblemDoc(w, status, `{"type":"/problems/card-exists","title":"Card exists","status":409,"detail":"card `+*c.Number+` exists","cardId":"0190a0b0-0000-7000-8000-0000000000e1"}`)
			return
		}
		writeJSONDoc(w, 201, cardJSON("card-single", r.PathValue("id"), c))
	})
	return f
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEnrolFileChunks enrols 1,201 rows: three batch requests of 500, 500 and 201 cards,
// failures reported by their file row (header counted), a summary, exit 1, and a
// progress line per chunk on stderr (not a terminal here).
func TestEnrolFileChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("number,expMonth,expYear,countryCode\n")
	for i := range 1201 {
		fmt.Fprintf(&b, "%s,%d,2030,USA\n", testPAN(i), i%12+1)
	}
	// Data row i is on file row i+2; refuse rows 3 (i=1) and 703 (i=701, second chunk).
	f := batchFake(t, map[string]int{testPAN(1): 409, testPAN(701): 422})
	path := writeFile(t, "cards.csv", b.String())

	r := runCLI(t, f.env(), "", "cards", "enrol", "--subaccount", "sub-1", "--file", path)
	if r.code != exitFindings {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var sizes []int
	for _, req := range f.recordedRequests() {
		if req.path != "/v1/subaccounts/sub-1/cards/batch" {
			t.Errorf("unexpected request %s %s", req.method, req.path)
		}
		var body struct{ Cards []json.RawMessage }
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(body.Cards))
	}
	if fmt.Sprint(sizes) != "[500 500 201]" {
		t.Errorf("batch sizes %v", sizes)
	}
	for _, want := range []string{
		"row 3: 409: card-exists: card [redacted] is already enrolled; existing card 0190a0b0-0000-7000-8000-0000000000e1\n",
		"row 703: 422: card-exists:",
		"Enrolled 1199 of 1201 rows; 2 failed (0 invalid, not sent).\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Index(r.stdout, "row 3:") > strings.Index(r.stdout, "row 703:") {
		t.Error("failures are not in row order")
	}
	progressLines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if len(progressLines) != 3 || !strings.HasPrefix(progressLines[0], "enrolling 500/1201 cards (41%)") ||
		!strings.HasPrefix(progressLines[2], "enrolling 1201/1201 cards (100%)") || !strings.Contains(progressLines[2], "cards/s") {
		t.Errorf("progress on stderr:\n%s", r.stderr)
	}

	// A whole-batch refusal stops the run: exit 2, the problem, and what was not sent.
	r = runCLI(t, f.env(), "", "cards", "enrol", "--subaccount", "suspended-sub", "--file", path)
	if r.code != exitError || !strings.Contains(r.stderr, "409 The subaccount is suspended") ||
		!strings.Contains(r.stdout, "Enrolled 0 of 1201 rows; 0 failed (0 invalid, not sent); 1201 valid rows not sent after the error below.") {
		t.Errorf("suspended: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}

// TestEnrolFileCheck validates without credentials or requests: exit 1 with bad rows.
func TestEnrolFileCheck(t *testing.T) {
	path := writeFile(t, "cards.csv", visaPAN+",12,2030,USA\n"+mcPAN+",12,20,CAN\n")
	r := runCLI(t, map[string]string{"SUBACCOUNTS_URL": "http://127.0.0.1:1"}, "", "cards", "enrol", "--file", path, "--check")
	if r.code != exitFindings || r.stdout != "row 2: invalid: expYear must be a four-digit year 2000–2099\n2 rows: 1 valid, 1 invalid (nothing sent).\n" {
		t.Errorf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	path = writeFile(t, "ok.csv", visaPAN+",12,2030,USA\n")
	if r := runCLI(t, nil, "", "cards", "enrol", "--file", path, "--check"); r.code != exitOK {
		t.Errorf("valid file: exit %d %s", r.code, r.stderr)
	}
}

// TestNoPANInOutput runs every path a card number takes — single enrolment from stdin,
// CSV file (and CSV on stdin), human and JSON output, successes, API refusals whose
// details echo the number, local validation failures, a number given as a flag — and
// checks that no full number read by the CLI appears in stdout or stderr, while the
// numbers did reach the API.
func TestNoPANInOutput(t *testing.T) {
	refused := "4000056655665556"
	badRowPAN := "4111111111111129"
	f := batchFake(t, map[string]int{refused: 409})
	csvText := "number,expMonth,expYear,countryCode\n" + visaPAN + ",12,2030,USA\n" + refused + ",1,2031,USA\n" +
		badRowPAN + ",13,2030,USA\n" + "USA,12,2030," + mcPAN + "\n"
	path := writeFile(t, "cards.csv", csvText)
	pans := []string{visaPAN, mcPAN, refused, badRowPAN}

	runs := map[string]result{
		"single":             runCLI(t, f.env(), visaPAN+"\n", "cards", "enrol", "--subaccount", "s", "--country", "USA", "--exp", "12/2030", "--number-stdin"),
		"single spaced":      runCLI(t, f.env(), "5555 5555 5555 4444", "cards", "enrol", "--subaccount", "s", "--country", "CAN", "--exp", "1/2031"),
		"single json":        runCLI(t, f.env(), visaPAN, "--json", "cards", "enrol", "--subaccount", "s", "--country", "USA", "--exp", "12/2030"),
		"single refused":     runCLI(t, f.env(), refused, "cards", "enrol", "--subaccount", "s", "--country", "USA", "--exp", "12/2030"),
		"single two lines":   runCLI(t, f.env(), visaPAN+"\n"+mcPAN+"\n", "cards", "enrol", "--subaccount", "s", "--country", "USA", "--exp", "12/2030"),
		"single bad":         runCLI(t, f.env(), "41111111111111111111111", "cards", "enrol", "--subaccount", "s", "--country", "USA", "--exp", "12/2030"),
		"number flag":        runCLI(t, f.env(), "", "cards", "enrol", "--subaccount", "s", "--number", visaPAN),
		"number flag equals": runCLI(t, f.env(), "", "cards", "enrol", "-number="+visaPAN, "--subaccount", "s"),
		"file":               runCLI(t, f.env(), "", "cards", "enrol", "--subaccount", "s", "--file", path),
		"file json":          runCLI(t, f.env(), "", "cards", "enrol", "--subaccount", "s", "--file", path, "--json"),
		"file on stdin":      runCLI(t, f.env(), csvText, "cards", "enrol", "--subaccount", "s", "--file", "-"),
		"file check":         runCLI(t, f.env(), "", "cards", "enrol", "--file", path, "--check"),
	}
	for name, r := range runs {
		for _, pan := range pans {
			if strings.Contains(r.all(), pan) {
				t.Errorf("%s: output contains a card number:\n%s", name, r.all())
			}
		}
	}
	wantCodes := map[string]int{"single": 0, "single spaced": 0, "single json": 0, "single refused": 2, "single two lines": 2, "single bad": 2,
		"number flag": 2, "number flag equals": 2, "file": 1, "file json": 1, "file on stdin": 1, "file check": 1}
	for name, code := range wantCodes {
		if runs[name].code != code {
			t.Errorf("%s: exit %d, want %d\n%s", name, runs[name].code, code, runs[name].all())
		}
	}
	if !strings.Contains(runs["single"].stdout, "number:         411111******1111") {
		t.Errorf("single enrolment output:\n%s", runs["single"].stdout)
	}
	if !strings.Contains(runs["single refused"].stderr, "existing card: 0190a0b0-0000-7000-8000-0000000000e1") {
		t.Errorf("refused: %s", runs["single refused"].stderr)
	}
	if !strings.Contains(runs["number flag"].stderr, "never taken from a flag") {
		t.Errorf("number flag: %s", runs["number flag"].stderr)
	}
	for _, want := range []string{"row 3: 409: card-exists", "row 4: invalid: expMonth", "row 5: invalid: number must be 13–19 digits; countryCode", "Enrolled 1 of 4 rows; 3 failed (2 invalid, not sent)."} {
		if !strings.Contains(runs["file"].stdout, want) {
			t.Errorf("file output lacks %q:\n%s", want, runs["file"].stdout)
		}
	}
	var js struct {
		Rows []struct {
			Row     int             `json:"row"`
			Status  int             `json:"status"`
			Card    json.RawMessage `json:"card"`
			Problem json.RawMessage `json:"problem"`
			Error   string          `json:"error"`
		} `json:"rows"`
		Summary batchSummary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(runs["file json"].stdout), &js); err != nil {
		t.Fatalf("file --json: %v\n%s", err, runs["file json"].stdout)
	}
	if len(js.Rows) != 4 || js.Rows[0].Row != 2 || js.Rows[0].Status != 201 || js.Rows[1].Status != 409 || js.Rows[2].Status != 0 || js.Rows[2].Error == "" ||
		js.Summary != (batchSummary{Rows: 4, Enrolled: 1, Failed: 3, Invalid: 2}) {
		t.Errorf("file --json: %+v", js)
	}

	// The numbers did reach the API (so the checks above were not vacuous).
	var sent strings.Builder
	for _, req := range f.recordedRequests() {
		sent.Write(req.body)
	}
	for _, pan := range []string{visaPAN, mcPAN, refused} {
		if !strings.Contains(sent.String(), pan) {
			t.Errorf("%s was never sent", pan)
		}
	}
	if strings.Contains(sent.String(), badRowPAN) {
		t.Error("an invalid row was sent")
	}
}

// TestCardsMoveAndRemove: move posts the destination under its API name with the card
// id from anywhere among the flags; remove deletes; both print the card masked.
func TestCardsMoveAndRemove(t *testing.T) {
	f := newFakeAPI(t)
	e := enrolment(mcPAN, 4, 2032, "CAN")
	f.handle("POST /v1/cards/{id}/move", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		writeJSONDoc(w, 200, cardJSON(r.PathValue("id"), body["subaccountId"], e))
	})
	f.handle("DELETE /v1/cards/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeJSONDoc(w, 200, strings.Replace(cardJSON(r.PathValue("id"), "sub-1", e), `"active"`, `"removed"`, 1))
	})
	r := runCLI(t, f.env(), "", "cards", "move", "--to", "sub-9", "card-7")
	if r.code != exitOK || !strings.Contains(r.stdout, "subaccount:     sub-9") || !strings.Contains(r.stdout, "555555******4444") || !strings.Contains(r.stdout, "04/2032") {
		t.Errorf("move: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	req := f.recordedRequests()[0]
	if req.path != "/v1/cards/card-7/move" || string(req.body) != `{"subaccountId":"sub-9"}` {
		t.Errorf("move request %s %s", req.path, req.body)
	}
	r = runCLI(t, f.env(), "", "cards", "remove", "card-7")
	if r.code != exitOK || !strings.Contains(r.stdout, "status:         removed") {
		t.Errorf("remove: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// An id cannot reach another route: it stays one escaped path segment. An empty one
	// is refused before any request.
	r = runCLI(t, f.env(), "", "cards", "remove", "../subaccounts/x")
	if got := f.recordedRequests(); r.code != exitOK || got[len(got)-1].path != "/v1/cards/..%2Fsubaccounts%2Fx" || !strings.Contains(r.stdout, "../subaccounts/x") {
		t.Errorf("escaped id: exit %d; the request went to %s", r.code, got[len(got)-1].path)
	}
	n := len(f.recordedRequests())
	if r := runCLI(t, f.env(), "", "cards", "move", "", "--to", "s"); r.code != exitError || !strings.Contains(r.stderr, "empty argument") {
		t.Errorf("empty id: exit %d %s", r.code, r.stderr)
	}
	if len(f.recordedRequests()) != n {
		t.Error("an empty id was sent")
	}
}
