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
	got, ok := scrapeGroups(t.Context(), []*server{srv, srv})
	if !ok || got != (groupCounts{commits: 8, items: 40}) {
		t.Errorf("scrapeGroups = %+v, %v; want 8 commits of 40 items (two servers of 4 commits, 20 items)", got, ok)
	}
	if _, ok := scrapeGroups(t.Context(), []*server{{metricsAddr: "127.0.0.1:1"}}); ok {
		t.Error("a server without metrics counted")
	}
}
