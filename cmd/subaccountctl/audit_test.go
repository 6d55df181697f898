package main

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

var intactChain = `{"accountId":"0190a0b0-0000-7000-8000-000000000001","valid":true,"eventsChecked":3,
 "head":{"seq":3,"hash":"` + hash64 + `"},"firstBroken":null}`

var brokenChain = `{"accountId":"0190a0b0-0000-7000-8000-000000000001","valid":false,"eventsChecked":4,
 "head":{"seq":9,"hash":"` + hash64 + `"},
 "firstBroken":{"seq":5,"eventId":"0190a0b0-0000-7000-8000-0000000000e5","reason":"hash mismatch"}}`

var pendingChain = `{"accountId":"0190a0b0-0000-7000-8000-000000000001","valid":true,"eventsChecked":3,
 "head":{"seq":3,"hash":"` + hash64 + `"},"firstBroken":null,"pending":2}`

const gapChain = `{"accountId":"0190a0b0-0000-7000-8000-000000000001","valid":false,"eventsChecked":5,"head":null,
 "firstBroken":{"seq":6,"eventId":null,"reason":"missing event (gap in sequence)"}}`

var hash64 = strings.Repeat("ab", 32)

// TestAuditVerifyExitCodes maps each kind of answer to its exit code: intact 0, broken 1
// with the broken link shown, an error answer or a malformed one 2.
func TestAuditVerifyExitCodes(t *testing.T) {
	f := newFakeAPI(t)
	answer := intactChain
	status := 200
	f.handle("GET /v1/audit-events/verify", func(w http.ResponseWriter, r *http.Request) {
		if status != 200 {
			writeProblemDoc(w, status, answer)
			return
		}
		writeJSONDoc(w, 200, answer)
	})
	tests := []struct {
		name   string
		status int
		answer string
		args   []string
		code   int
		want   []string
	}{
		{"intact", 200, intactChain, nil, exitOK, []string{"INTACT", "events checked:", "3", "seq 3, hash " + hash64}},
		{"intact, some not yet chained", 200, pendingChain, nil, exitOK, []string{"INTACT", "not yet chained:", "2 events"}},
		{"broken", 200, brokenChain, nil, exitFindings, []string{"BROKEN", "first broken link:", "seq 5: hash mismatch", "0190a0b0-0000-7000-8000-0000000000e5"}},
		{"gap", 200, gapChain, nil, exitFindings, []string{"BROKEN", "seq 6: missing event (gap in sequence)", "- (missing)", "- (no events)"}},
		{"confined client", 403, `{"type":"/problems/forbidden","title":"This client may not do that","status":403,"detail":"The audit log belongs to the whole account."}`,
			nil, exitError, []string{"403 This client may not do that", "whole account"}},
		{"no verdict", 200, `{"accountId":"x"}`, nil, exitError, []string{`no "valid" field`}},
		{"broken without a link", 200, `{"accountId":"x","valid":false}`, nil, exitError, []string{"names no broken link"}},
		{"unexpected argument", 200, intactChain, []string{"extra"}, exitError, []string{"usage: subaccountctl audit verify"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, status = tt.answer, tt.status
			r := runCLI(t, f.env(), "", append([]string{"audit", "verify"}, tt.args...)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stdout %q, stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.all(), w) {
					t.Errorf("output lacks %q:\n%s", w, r.all())
				}
			}
		})
	}

	// --json prints the answer as received, and the exit code still follows it.
	answer, status = brokenChain, 200
	r := runCLI(t, f.env(), "", "audit", "verify", "--json")
	if r.code != exitFindings || !reflect.DeepEqual(mustJSON(t, r.stdout), mustJSON(t, brokenChain)) {
		t.Errorf("--json: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestAuditList sends the filters on every page and prints one table.
func TestAuditList(t *testing.T) {
	f := pagedFake(t, "/v1/audit-events", 150, func(i int) string {
		return fmt.Sprintf(`{"id":"ev-%03d","accountId":"a","seq":%d,"actor":{"sub":"op","clientId":"op-client"},"action":"client.create",
			"resourceType":"client","resourceId":"c-%d","before":null,"after":{"clientId":"c-%d"},"reference":"","requestId":"req-%d",
			"createdAt":"2026-11-22T10:00:00.000Z","prevHash":"p","hash":"h"}`, i, i+1, i, i, i)
	})
	r := runCLI(t, f.env(), "", "audit", "list", "--action", "client.create", "--resource-type", "client", "--resource-id", "c-1",
		"--actor", "op", "--from", "2026-11-21T00:00:00Z", "--to", "2026-11-23T00:00:00Z")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 151 || !strings.HasPrefix(lines[0], "SEQ ") || !strings.Contains(lines[150], "ev-149") {
		t.Fatalf("got %d lines:\n%s", len(lines), r.stdout)
	}
	if row := lines[2]; !strings.Contains(row, "client c-1") || !strings.Contains(row, "op-client") || !strings.Contains(row, "req-1") {
		t.Errorf("row of event 2: %q", row)
	}
	reqs := f.recordedRequests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 pages", len(reqs))
	}
	for _, req := range reqs {
		for _, want := range []string{"action=client.create", "resourceType=client", "resourceId=c-1", "actor=op", "from=2026-11-21T00%3A00%3A00Z", "to=2026-11-23T00%3A00%3A00Z"} {
			if !strings.Contains(req.query, want) {
				t.Errorf("query %q lacks %s", req.query, want)
			}
		}
	}

	r = runCLI(t, f.env(), "", "--json", "audit", "list", "--limit", "3")
	if arr, _ := mustJSON(t, r.stdout).([]any); r.code != exitOK || len(arr) != 3 {
		t.Errorf("--json --limit 3: exit %d, %d items", r.code, len(arr))
	}

	for _, args := range [][]string{
		{"--resource-id", "x"},
		{"--from", "yesterday"},
		{"--limit", "-1"},
	} {
		r := runCLI(t, f.env(), "", append([]string{"audit", "list"}, args...)...)
		if r.code != exitError || !strings.Contains(r.stderr, "usage: subaccountctl audit list") {
			t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}
