package main

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/metrics"
)

// The group counts come from the server's real /metrics handler: commits are the
// histograms' sample counts, items their sums, messages and enrolments together.
func TestScrapeGroups(t *testing.T) {
	m := metrics.New()
	for _, n := range []int{1, 5, 10} {
		m.GroupWritten(n, time.Millisecond)
	}
	m.EnrolmentGroupWritten(4, 0)
	ts := httptest.NewServer(m.Handler())
	defer ts.Close()
	srv := &server{metricsAddr: strings.TrimPrefix(ts.URL, "http://")}
	got, err := scrapeGroups(t.Context(), []*server{srv, srv})
	if err != nil || got != (groupCounts{commits: 8, items: 40}) {
		t.Errorf("scrapeGroups = %+v, %v; want 8 commits of 40 items (two servers of 4 commits, 20 items)", got, err)
	}
	if _, err := scrapeGroups(t.Context(), []*server{{metricsAddr: "127.0.0.1:1"}}); err == nil {
		t.Error("a server without metrics counted")
	}
}

// A run's notes say how its items shared transactions, where the servers told.
func TestNotesGroupCommits(t *testing.T) {
	r := &results{single: pairResult{service: loadResult{ok: 10, allOK: 10, requests: 10, elapsed: time.Second, itemsPerReq: 1,
		serverCPU: time.Second, groups: groupCounts{commits: 400, items: 3000}}}}
	notes := r.notes()
	if !strings.Contains(notes, "group commit (the servers' /metrics): 3,000 items in 400 transactions, 7.5 per commit") {
		t.Errorf("notes lack the group commits:\n%s", notes)
	}
	if strings.Count(notes, "per commit") != 1 {
		t.Errorf("a run without group figures claims some:\n%s", notes)
	}
}
