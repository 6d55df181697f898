package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// groupCounts are the group commits a server reports on its /metrics: transactions and
// the items (messages and enrolments) they carried, since it started.
type groupCounts struct{ commits, items float64 }

func (g groupCounts) minus(o groupCounts) groupCounts {
	return groupCounts{commits: g.commits - o.commits, items: g.items - o.items}
}

// groupHistograms are the histograms whose sample counts are commits and whose sums are
// items.
var groupHistograms = []string{"subaccountd_group_commit_messages", "subaccountd_group_commit_enrolments"}

// scrapeGroups sums the group-commit histograms of servers' /metrics; the error says
// why one could not be read (no metrics listener), so a run reports none rather than a
// part.
func scrapeGroups(ctx context.Context, servers []*server) (groupCounts, error) {
	var sum groupCounts
	for _, s := range servers {
		g, err := scrapeGroupsOf(ctx, s.metricsAddr)
		if err != nil {
			return groupCounts{}, err
		}
		sum.commits += g.commits
		sum.items += g.items
	}
	return sum, nil
}

func scrapeGroupsOf(ctx context.Context, addr string) (groupCounts, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return groupCounts{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return groupCounts{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return groupCounts{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return groupCounts{}, err
	}
	var g groupCounts
	for _, name := range groupHistograms {
		if f := families[name]; f != nil {
			for _, m := range f.GetMetric() {
				if h := m.GetHistogram(); h != nil {
					g.commits += float64(h.GetSampleCount())
					g.items += h.GetSampleSum()
				}
			}
		}
	}
	return g, nil
}
