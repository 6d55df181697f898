package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// usageJSON is one SubaccountUsage in JPY, charged 150 per enrolment and 5 per
// transaction.
func usageJSON(i int) string {
	return fmt.Sprintf(`{"subaccountId":"sub-%03d","name":"Shop %d","from":"2026-11-01T00:00:00.000Z","to":"2026-12-01T00:00:00.000Z",
		"currency":"JPY","enrolments":%d,"activeCards":%d,"transactions":{"count":3,"byCurrency":[{"currency":"EUR","count":2,"volume":1999},{"currency":"JPY","count":1,"volume":500}]},
		"charges":{"cardEnrolments":%d,"transactions":15},"totalUsage":%d,"paidByPrimary":%v}`,
		i, i, i, i, 150*i, 150*i+15, i%2 == 0)
}

// TestUsageOne shows one subaccount's usage with each amount in its own currency.
func TestUsageOne(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /v1/subaccounts/{id}/usage", func(w http.ResponseWriter, r *http.Request) {
		writeJSONDoc(w, 200, usageJSON(2))
	})
	r := runCLI(t, f.env(), "", "usage", "--subaccount", "sub-002", "--from", "2026-11-01T00:00:00Z", "--to", "2026-12-01T00:00:00Z")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"subaccount:           sub-002", "name:                 Shop 2", "card enrolments:      2", "active cards:         2",
		"transactions:         3", "volume:               19.99 EUR (2); 500 JPY (1)", "enrolment charges:    300 JPY (300 minor units)",
		"transaction charges:  15 JPY (15 minor units)", "total usage:          315 JPY (315 minor units)", "paid from:            primary balance"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("usage lacks %q:\n%s", want, r.stdout)
		}
	}
	req := f.requestsTo("GET", "/v1/subaccounts/sub-002/usage")
	if len(req) != 1 {
		t.Fatalf("requests %+v", f.recordedRequests())
	}
	if q, _ := url.ParseQuery(req[0].query); q.Get("from") != "2026-11-01T00:00:00Z" || q.Get("to") != "2026-12-01T00:00:00Z" || q.Has("limit") {
		t.Errorf("query %q", req[0].query)
	}
	r = runCLI(t, f.env(), "", "--json", "usage", "--subaccount", "sub-002")
	if m, _ := mustJSON(t, r.stdout).(map[string]any); m["totalUsage"] != float64(315) {
		t.Errorf("--json: %s", r.stdout)
	}
}

// TestUsageAll pages through every subaccount's usage into one table.
func TestUsageAll(t *testing.T) {
	f := pagedFake(t, "/v1/usage", 120, usageJSON)
	r := runCLI(t, f.env(), "", "usage", "--from", "2026-11-01T00:00:00Z")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 122 || lines[0] != "Usage from 2026-11-01T00:00:00.000Z to 2026-12-01T00:00:00.000Z" || !strings.HasPrefix(lines[1], "SUBACCOUNT") {
		t.Fatalf("%d lines:\n%s", len(lines), r.stdout)
	}
	for _, want := range []string{"sub-119", "Shop 119", "17850 JPY", "15 JPY", "17865 JPY", "own balance", "19.99 EUR (2); 500 JPY (1)"} {
		if !strings.Contains(lines[121], want) {
			t.Errorf("last row lacks %q: %q", want, lines[121])
		}
	}
	reqs := f.requestsTo("GET", "/v1/usage")
	if len(reqs) != 2 {
		t.Errorf("%d pages, want 2", len(reqs))
	}
	for _, req := range reqs {
		if q, _ := url.ParseQuery(req.query); q.Get("from") != "2026-11-01T00:00:00Z" {
			t.Errorf("query %q", req.query)
		}
	}

	empty := pagedFake(t, "/v1/usage", 0, usageJSON)
	r = runCLI(t, empty.env(), "", "usage")
	if r.code != exitOK || strings.TrimSpace(r.stdout) != "No subaccounts." {
		t.Errorf("no subaccounts: exit %d %q", r.code, r.stdout)
	}
}
