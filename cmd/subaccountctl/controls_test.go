package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// subFake is one subaccount behind GET and PATCH /v1/subaccounts/{id} with versioned
// ETags, honouring If-Match as the API does. bump simulates a change by someone else
// between the CLI's read and its write.
type subFake struct {
	*fakeAPI
	mu      sync.Mutex
	version int
	doc     map[string]any
	bump    bool
	noETag  bool
}

func newSubFake(t *testing.T, doc string) *subFake {
	t.Helper()
	f := &subFake{fakeAPI: newFakeAPI(t), version: 7}
	if err := json.Unmarshal([]byte(doc), &f.doc); err != nil {
		t.Fatal(err)
	}
	f.serveAccount("EUR")
	path := "/v1/subaccounts/" + fakeSubID
	f.handle("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.noETag {
			w.Header().Set("ETag", fmt.Sprintf(`"%d"`, f.version))
		}
		b, _ := json.Marshal(f.doc)
		writeJSONDoc(w, 200, string(b))
		if f.bump {
			f.version++
		}
	})
	f.handle("PATCH "+path, func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if im := r.Header.Get("If-Match"); im != "" && im != fmt.Sprintf(`"%d"`, f.version) {
			writeProblemDoc(w, 412, `{"type":"/problems/precondition-failed","title":"The resource changed since the version in If-Match","status":412,
				"detail":"The resource changed since the version in If-Match; fetch it again and retry."}`)
			return
		}
		var patch map[string]any
		if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
			writeProblemDoc(w, 400, `{"type":"/problems/validation","title":"The request is not valid","status":400}`)
			return
		}
		for k, v := range patch {
			f.doc[k] = v
		}
		if patch["usePrimaryAccountBalance"] == false && f.doc["balance"] == nil {
			f.doc["balance"], f.doc["creditLimit"] = 0, 0
		}
		f.version++
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, f.version))
		b, _ := json.Marshal(f.doc)
		writeJSONDoc(w, 200, string(b))
	})
	return f
}

func subJSON(suspended bool) string {
	return fmt.Sprintf(`{"id":%q,"accountId":%q,"name":"Shop","configurations":[{"countries":["USA"],"networks":["VISA"]}],
		"configVersion":1,"metadata":{},"suspended":%v,"usePrimaryAccountBalance":true,"balance":null,"creditLimit":null,
		"overLimit":false,"autoTopUp":null,"maxCards":0,"createdAt":"x","updatedAt":"y"}`, fakeSubID, fakeAccountID, suspended)
}

// TestSuspendReactivate: each reads the subaccount, sends only the suspension with
// If-Match naming the version read, and prints the result; a subaccount already in the
// wanted state is left alone.
func TestSuspendReactivate(t *testing.T) {
	f := newSubFake(t, subJSON(false))
	path := "/v1/subaccounts/" + fakeSubID

	r := runCLI(t, f.env(), "", "subaccounts", "suspend", fakeSubID)
	if r.code != exitOK || !strings.Contains(r.stdout, "suspended:") || !strings.Contains(r.stdout, "yes") {
		t.Fatalf("suspend: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	patches := f.requestsTo("PATCH", path)
	if len(patches) != 1 || patches[0].header.Get("If-Match") != `"7"` || string(patches[0].body) != `{"suspended":true}` {
		t.Fatalf("PATCH %+v", patches)
	}

	r = runCLI(t, f.env(), "", "subaccounts", "suspend", fakeSubID)
	if r.code != exitOK || !strings.Contains(r.stderr, "is already suspended; nothing was changed") || !strings.Contains(r.stdout, fakeSubID) {
		t.Errorf("suspend again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := len(f.requestsTo("PATCH", path)); n != 1 {
		t.Errorf("%d PATCHes after suspending a suspended subaccount", n)
	}

	r = runCLI(t, f.env(), "", "--json", "subaccounts", "reactivate", fakeSubID)
	if r.code != exitOK {
		t.Fatalf("reactivate: exit %d %s", r.code, r.stderr)
	}
	if m, _ := mustJSON(t, r.stdout).(map[string]any); m["suspended"] != false {
		t.Errorf("reactivate --json: %s", r.stdout)
	}
	patches = f.requestsTo("PATCH", path)
	if len(patches) != 2 || patches[1].header.Get("If-Match") != `"8"` || string(patches[1].body) != `{"suspended":false}` {
		t.Errorf("reactivate PATCH %+v", patches[len(patches)-1])
	}
}

// TestSetSubaccount sends exactly the controls given, with If-Match, and shows the
// balance fields of the result in the account's currency.
func TestSetSubaccount(t *testing.T) {
	f := newSubFake(t, subJSON(false))
	r := runCLI(t, f.env(), "", "subaccounts", "set", fakeSubID, "--own-balance", "--auto-top-up", "-500:2500", "--max-cards", "0")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	patches := f.requestsTo("PATCH", "/v1/subaccounts/"+fakeSubID)
	want := `{"usePrimaryAccountBalance":false,"autoTopUp":{"threshold":-500,"amount":2500},"maxCards":0}`
	if len(patches) != 1 || string(patches[0].body) != want || patches[0].header.Get("If-Match") != `"7"` {
		t.Fatalf("PATCH %+v, want body %s", patches, want)
	}
	for _, want := range []string{"balance:", "0.00 EUR (0 minor units)", "credit limit:", "over limit:", "auto top-up:",
		"25.00 EUR from the primary whenever the balance is below -5.00 EUR", "max cards:", "no quota"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCLI(t, f.env(), "", "subaccounts", "set", fakeSubID, "--shared-balance", "--auto-top-up", "off", "--max-cards", "25")
	patches = f.requestsTo("PATCH", "/v1/subaccounts/"+fakeSubID)
	want = `{"usePrimaryAccountBalance":true,"autoTopUp":{"threshold":0,"amount":0},"maxCards":25}`
	if r.code != exitOK || string(patches[1].body) != want || patches[1].header.Get("If-Match") != `"8"` {
		t.Errorf("exit %d body %s", r.code, patches[1].body)
	}
	r = runCLI(t, f.env(), "", "subaccounts", "set", fakeSubID, "--max-cards", "3")
	if patches = f.requestsTo("PATCH", "/v1/subaccounts/"+fakeSubID); string(patches[2].body) != `{"maxCards":3}` {
		t.Errorf("only --max-cards: body %s", patches[2].body)
	}
}

// TestPatchConflict: when the subaccount changes between the read and the write the
// command fails with exit 2 and says so, and when the read carries no ETag it writes
// nothing at all.
func TestPatchConflict(t *testing.T) {
	f := newSubFake(t, subJSON(false))
	f.bump = true
	r := runCLI(t, f.env(), "", "subaccounts", "suspend", fakeSubID)
	if r.code != exitError || r.stdout != "" {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{"PATCH /v1/subaccounts/" + fakeSubID + " failed:", "412", "/problems/precondition-failed",
		"hint: subaccount " + fakeSubID + " was changed by someone else after this command read it, so nothing was changed",
		"subaccountctl subaccounts get " + fakeSubID} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if f.doc["suspended"] != false {
		t.Error("the conflicting change was applied")
	}

	f = newSubFake(t, subJSON(false))
	f.noETag = true
	r = runCLI(t, f.env(), "", "subaccounts", "set", fakeSubID, "--max-cards", "3")
	if r.code != exitError || !strings.Contains(r.stderr, "carries no ETag") {
		t.Errorf("no ETag: exit %d stderr %s", r.code, r.stderr)
	}
	if n := len(f.requestsTo("PATCH", "/v1/subaccounts/"+fakeSubID)); n != 0 {
		t.Errorf("%d PATCHes without a precondition", n)
	}
}

// TestSubaccountGetBalance shows a subaccount's own balance, credit and auto top-up, and
// says when it shares the primary balance.
func TestSubaccountGetBalance(t *testing.T) {
	f := newSubFake(t, strings.Replace(subJSON(true), `"usePrimaryAccountBalance":true,"balance":null,"creditLimit":null,
		"overLimit":false,"autoTopUp":null,"maxCards":0`, `"usePrimaryAccountBalance":false,"balance":-1050,"creditLimit":5000,
		"overLimit":true,"autoTopUp":{"threshold":0,"amount":0},"maxCards":12`, 1))
	r := runCLI(t, f.env(), "", "subaccounts", "get", fakeSubID)
	for _, want := range []string{"balance:         -10.50 EUR (-1050 minor units)", "credit limit:    50.00 EUR (5000 minor units)",
		"over limit:      yes", "auto top-up:     off", "max cards:       12", "suspended:       yes"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("get lacks %q:\n%s", want, r.stdout)
		}
	}
	f = newSubFake(t, subJSON(false))
	r = runCLI(t, f.env(), "", "subaccounts", "get", fakeSubID)
	if !strings.Contains(r.stdout, "balance:         shared: spends from the primary balance") || strings.Contains(r.stdout, "credit limit:") {
		t.Errorf("shared balance:\n%s", r.stdout)
	}
	if n := len(f.requestsTo("GET", "/v1/account")); n != 0 {
		t.Errorf("the account was read for a subaccount without amounts to show")
	}
}

// TestAccount shows the primary's money in the contract currency.
func TestAccount(t *testing.T) {
	f := newFakeAPI(t)
	f.serveAccount("USD")
	r := runCLI(t, f.env(), "", "account")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"id:                " + fakeAccountID, "currency:          USD",
		"balance:           -12.34 USD (-1234 minor units)", "credit limit:      1000.00 USD (100000 minor units)",
		"allocated credit:  200.00 USD (20000 minor units)", "available credit:  800.00 USD (80000 minor units)",
		"over limit:        no", "card enrolment 1.50 USD, transaction 0.05 USD"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("account lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, f.env(), "", "account", "--json")
	if m, _ := mustJSON(t, r.stdout).(map[string]any); r.code != exitOK || m["availableCredit"] != float64(80000) {
		t.Errorf("--json: %s", r.stdout)
	}
}
