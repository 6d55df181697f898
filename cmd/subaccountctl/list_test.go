package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// pagedFake serves n items on path in pages of the requested limit, with cursors that
// are the next offset; item(i) renders item i.
func pagedFake(t *testing.T, path string, n int, item func(i int) string) *fakeAPI {
	f := newFakeAPI(t)
	f.handle("GET "+path, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		limit, err := strconv.Atoi(q.Get("limit"))
		if err != nil || limit < 1 || limit > 100 {
			writeProblemDoc(w, 400, `{"type":"/problems/validation","title":"The request is not valid","status":400,"errors":[{"parameter":"limit","detail":"must be 1–100"}]}`)
			return
		}
		off, _ := strconv.Atoi(q.Get("cursor"))
		var items []string
		for i := off; i < n && i < off+limit; i++ {
			items = append(items, item(i))
		}
		next := "null"
		if off+limit < n {
			next = strconv.Quote(strconv.Itoa(off + limit))
		}
		writeJSONDoc(w, 200, `{"items":[`+strings.Join(items, ",")+`],"nextCursor":`+next+`}`)
	})
	return f
}

// TestListFollowsPages: subaccounts list reads every page with the filters on each
// request, and prints one aligned table.
func TestListFollowsPages(t *testing.T) {
	f := pagedFake(t, "/v1/subaccounts", 230, func(i int) string {
		return fmt.Sprintf(`{"id":"sub-%03d","accountId":"a","name":"Acme %d","configurations":[{"countries":["USA","CAN"],"networks":["VISA"]}],
			"configVersion":1,"metadata":{},"suspended":%v,"createdAt":"x","updatedAt":"y"}`, i, i, i == 7)
	})
	r := runCLI(t, f.env(), "", "subaccounts", "list", "--name", "Acme", "--country", "usa")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 231 || !strings.HasPrefix(lines[0], "ID  ") || !strings.Contains(lines[230], "sub-229") {
		t.Fatalf("got %d lines:\n%s", len(lines), r.stdout)
	}
	if !strings.Contains(lines[8], "USA,CAN:VISA") || !strings.HasSuffix(lines[8], "yes") {
		t.Errorf("row of sub-007: %q", lines[8])
	}
	reqs := f.recordedRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3 pages", len(reqs))
	}
	for i, want := range []string{"", "100", "200"} {
		q, _ := url.ParseQuery(reqs[i].query)
		if q.Get("cursor") != want || q.Get("name") != "Acme" || q.Get("country") != "USA" || q.Get("limit") != "100" {
			t.Errorf("page %d query %q", i, reqs[i].query)
		}
	}

	// --json prints one array of every item.
	r = runCLI(t, f.env(), "", "subaccounts", "list", "--json")
	if arr, ok := mustJSON(t, r.stdout).([]any); !ok || len(arr) != 230 {
		t.Errorf("--json: %d items", len(arr))
	}
}

// TestTransactionsLimit: --limit N asks for no more than needed and stops at N.
func TestTransactionsLimit(t *testing.T) {
	f := pagedFake(t, "/v1/transactions", 1000, func(i int) string {
		return fmt.Sprintf(`{"id":"tx-%d","subaccountId":"s","cardId":"c","networkTransactionId":"ntid-%d","type":"auth","amount":%d,"currency":"USD",
			"datetime":"2026-11-22T10:00:00.000Z","merchant":{"name":"Pizza Place","mcc":"5812","countryCode":"USA"},
			"routedAt":"x","configVersion":1,"policyStatus":"in-policy","receivedAt":"y"}`, i, i, 1000+i)
	})
	r := runCLI(t, f.env(), "", "transactions", "list", "--limit", "150", "--card", "c", "--from", "2026-11-01T00:00:00Z")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 151 || !strings.Contains(lines[150], "tx-149") || !strings.Contains(lines[1], "Pizza Place") || !strings.Contains(lines[1], "1000") {
		t.Errorf("%d lines; first %q last %q", len(lines), lines[1], lines[len(lines)-1])
	}
	var limits []string
	for _, req := range f.recordedRequests() {
		q, _ := url.ParseQuery(req.query)
		limits = append(limits, q.Get("limit"))
		if q.Get("cardId") != "c" || q.Get("from") != "2026-11-01T00:00:00Z" {
			t.Errorf("filters not sent: %q", req.query)
		}
	}
	if strings.Join(limits, ",") != "100,50" {
		t.Errorf("page limits %v, want 100,50", limits)
	}
}

// TestCardsListMasked: cards show as first six, asterisks, last four, with network,
// country and both statuses; filters go out under the API's parameter names.
func TestCardsListMasked(t *testing.T) {
	f := pagedFake(t, "/v1/cards", 2, func(i int) string {
		e := enrolment([]string{visaPAN, mcPAN}[i], 3, 2030, "USA")
		return cardJSON(fmt.Sprintf("card-%d", i), "sub-1", e)
	})
	r := runCLI(t, f.env(), "", "cards", "list", "--subaccount", "sub-1", "--status", "active", "--policy-status", "in-policy")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"411111******1111", "555555******4444", "NETWORK", "VISA", "USA", "03/2030", "active", "in-policy"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cards list lacks %q:\n%s", want, r.stdout)
		}
	}
	q, _ := url.ParseQuery(f.recordedRequests()[0].query)
	if q.Get("subaccountId") != "sub-1" || q.Get("status") != "active" || q.Get("policyStatus") != "in-policy" {
		t.Errorf("query %v", q)
	}
}

// TestListStopsOnEmptyPageWithCursor guards against a server that never ends a list.
func TestListStopsOnEmptyPageWithCursor(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /v1/cards", func(w http.ResponseWriter, r *http.Request) {
		b, _ := json.Marshal(map[string]any{"items": []any{}, "nextCursor": "again"})
		writeJSONDoc(w, 200, string(b))
	})
	r := runCLI(t, f.env(), "", "cards", "list")
	if r.code != exitError || !strings.Contains(r.stderr, "empty page with a next cursor") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}
