package main

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	t.Parallel()
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"median of an odd count", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of an even count is the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p100 is the maximum", hundred, 100, 100 * time.Millisecond},
		{"p99 of 10 values is the maximum", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
		{"tiny q is the minimum", ms(1, 2, 3), 0.0001, time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := percentile(tt.sorted, tt.q); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	if got := median([]time.Duration{1, 2, 3, 4, 5}); got != 3 {
		t.Errorf("median = %v, want 3", got)
	}
	if got := median(nil); got != 0 {
		t.Errorf("median(nil) = %v, want 0", got)
	}
}

func TestLuhnCheckDigit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		payload string
		want    int
	}{
		{"7992739871", 3}, // the textbook example
		{"411111111111111", 1},
		{"555555555555444", 4},
		{"0", 0},
	}
	for _, tt := range tests {
		if got := luhnCheckDigit(tt.payload); got != tt.want {
			t.Errorf("luhnCheckDigit(%q) = %d, want %d", tt.payload, got, tt.want)
		}
	}
	for _, bad := range []string{"4111111111111112", "79927398710", "4111a11111111111", "4"} {
		if luhnValid(bad) {
			t.Errorf("luhnValid(%q) = true, want false", bad)
		}
	}
}

func TestGeneratePAN(t *testing.T) {
	t.Parallel()
	got := generatePAN("4", 1, 16)
	if len(got) != 16 || !strings.HasPrefix(got, "400000000000001") || !luhnValid(got) {
		t.Errorf("generatePAN(4, 1, 16) = a number of length %d that is not 4000…1 plus its check digit", len(got))
	}
	defer func() {
		if recover() == nil {
			t.Error("generatePAN with a sequence number too long did not panic")
		}
	}()
	generatePAN("51", 1e15, 16)
}

func TestPANSource(t *testing.T) {
	t.Parallel()
	var s panSource
	seen := map[string]bool{}
	visa, mc := 0, 0
	for i := range 10_000 {
		n := s.next()
		// Never print the number itself, not even in a failing test.
		switch {
		case len(n) != 16:
			t.Fatalf("number %d has %d digits, want 16", i, len(n))
		case !luhnValid(n):
			t.Fatalf("number %d fails the Luhn check", i)
		case seen[n]:
			t.Fatalf("number %d was handed out before", i)
		case strings.HasPrefix(n, "4"):
			visa++
		case strings.HasPrefix(n, "51"):
			mc++
		default:
			t.Fatalf("number %d is neither VISA (4…) nor MASTERCARD (51…)", i)
		}
		seen[n] = true
	}
	if visa != 5000 || mc != 5000 {
		t.Errorf("%d VISA and %d MASTERCARD numbers, want 5000 each", visa, mc)
	}
}

func TestParsePgbenchLog(t *testing.T) {
	t.Parallel()
	log := `0 1 926 0 1795337309 301518
0 2 170 0 1795337309 301707
1 1 4850 0 1795337309 301713 12
1 2 failed 0 1795337309 301800
2 1 skipped 0 1795337309 301900 0 1

3 1 1200 0 1795337309 302000 15 2
`
	lat, other, err := parsePgbenchLog(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{926 * time.Microsecond, 170 * time.Microsecond, 4850 * time.Microsecond, 1200 * time.Microsecond}
	if !slices.Equal(lat, want) {
		t.Errorf("latencies = %v, want %v", lat, want)
	}
	if other != 2 {
		t.Errorf("failed or skipped = %d, want 2", other)
	}

	for name, bad := range map[string]string{
		"too few fields":  "0 1 926 0\n",
		"latency garbage": "0 1 12x 0 1795337309 301518\n",
		"negative":        "0 1 -5 0 1795337309 301518\n",
	} {
		if _, _, err := parsePgbenchLog(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParsePgbenchSummary(t *testing.T) {
	t.Parallel()
	pg15 := `transaction type: single.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 31202
number of failed transactions: 3 (0.010%)
latency average = 0.063 ms
initial connection time = 17.009 ms
tps = 31645.832805 (without initial connection time)
`
	r, err := parsePgbenchSummary(pg15)
	if err != nil {
		t.Fatal(err)
	}
	if r.tps != 31645.832805 || r.processed != 31202 || r.failed != 3 {
		t.Errorf("got tps %v, processed %d, failed %d; want 31645.832805, 31202, 3", r.tps, r.processed, r.failed)
	}

	old := "tps = 812.5 (including connections establishing)\ntps = 820.25 (excluding connections establishing)\n"
	if r, err := parsePgbenchSummary(old); err != nil || r.tps != 820.25 {
		t.Errorf("PostgreSQL 13 report: tps %v, err %v; want 820.25 excluding connections", r.tps, err)
	}
	if _, err := parsePgbenchSummary("pgbench: error: connection failed\n"); err == nil {
		t.Error("a report without tps: no error")
	}
}

func TestPgbenchArgsHideRunValues(t *testing.T) {
	t.Parallel()
	r := pgbenchRun{name: "single", clients: 16, threads: 2, seconds: 10,
		vars: [][2]string{{"run", "2"}, {"acct", "0190-secret-ish"}, {"ncards", "2000"}}}
	got := strings.Join(r.args("/tmp/x", "postgres://u@h/db", true), " ")
	want := "-n -M prepared -c 16 -j 2 -T 10 -D run=2 -D acct=<acct> -D ncards=2000 -f single.sql -l --log-prefix <tmp>/single <bench database URL>"
	if got != want {
		t.Errorf("shown args\n got %s\nwant %s", got, want)
	}
	real := r.args("/tmp/x", "postgres://u@h/db", false)
	if real[len(real)-1] != "postgres://u@h/db" || !slices.Contains(real, "acct=0190-secret-ish") || !slices.Contains(real, "/tmp/x/single.sql") {
		t.Errorf("real args %q lack the database, the account or the script path", real)
	}
}

func TestRenderTable(t *testing.T) {
	t.Parallel()
	tab := tableData{
		header: []string{"metric", "service", "met?"},
		rows: [][]string{
			{"ingest", "1,234", "yes"},
			{"p99 ≤ 25 ms", "3.10 ms", "**no**"},
		},
	}
	want := `| metric      | service | met?   |
| ----------- | ------- | ------ |
| ingest      | 1,234   | yes    |
| p99 ≤ 25 ms | 3.10 ms | **no** |
`
	if got := tab.render(); got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
}

func TestTargets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		target   target
		ratio    float64
		value    time.Duration
		met, has bool
		text     string
	}{
		{"ratio met", target{minRatio: 1.5}, 1.5, 0, true, true, "≥ 1.5×"},
		{"ratio missed", target{minRatio: 0.6}, 0.59, 0, false, true, "≥ 0.6×"},
		{"ceiling met", target{maxValue: 25 * time.Millisecond}, 9, 25 * time.Millisecond, true, true, "≤ 25 ms"},
		{"ceiling missed", target{maxValue: time.Second}, 0.1, 1001 * time.Millisecond, false, true, "≤ 1 s"},
		{"none", target{}, 3, time.Hour, false, false, "—"},
		{"ratio ceiling met", target{maxRatio: 1.5}, 1.5, 0, true, true, "≤ 1.5×"},
		{"ratio ceiling missed", target{maxRatio: 1.5}, 1.51, 0, false, true, "≤ 1.5×"},
		{"CPU ceiling met", target{maxValue: 100 * time.Microsecond, micros: true}, 9, 100 * time.Microsecond, true, true, "≤ 100 µs"},
		{"CPU ceiling missed", target{maxValue: 20 * time.Microsecond, micros: true}, 0, 21 * time.Microsecond, false, true, "≤ 20 µs"},
	}
	for _, tt := range tests {
		met, has := tt.target.met(tt.ratio, tt.value)
		if met != tt.met || has != tt.has || tt.target.String() != tt.text {
			t.Errorf("%s: met %v has %v text %q; want %v %v %q", tt.name, met, has, tt.target.String(), tt.met, tt.has, tt.text)
		}
	}
}

func TestResultsTable(t *testing.T) {
	t.Parallel()
	lat := func(ms ...int) []time.Duration {
		var out []time.Duration
		for _, m := range ms {
			out = append(out, time.Duration(m)*time.Millisecond)
		}
		return out
	}
	r := &results{
		// The floor: 1,000 requests in 50 ms of CPU, 50 µs each.
		healthz: loadResult{ok: 1000, allOK: 1000, elapsed: time.Second, latencies: lat(1, 2), itemsPerReq: 1, serverCPU: 50 * time.Millisecond},
		single: pairResult{
			// 90 µs per message: 40 µs above the floor, within 100 µs.
			service:  loadResult{ok: 3000, allOK: 4000, elapsed: time.Second, latencies: lat(5, 10, 30), itemsPerReq: 1, serverCPU: 360 * time.Millisecond, pgCPU: 400 * time.Millisecond},
			baseline: pgbenchResult{tps: 1000, latencies: lat(2, 4, 8)},
		},
		// 3 replicas: 144 µs per message, 1.6× one replica's 90; PostgreSQL 150 µs, 1.5× 100.
		replicas: replicaResult{service: loadResult{ok: 2400, allOK: 2500, elapsed: time.Second, latencies: lat(40), itemsPerReq: 1,
			serverCPU: 360 * time.Millisecond, pgCPU: 375 * time.Millisecond, servers: 3}},
		// 25 µs per message in batches of 100: above 20 µs.
		batch100:  loadResult{ok: 500, allOK: 1000, elapsed: time.Second, latencies: lat(100), itemsPerReq: 100, serverCPU: 25 * time.Millisecond},
		batch1000: loadResult{ok: 800, elapsed: time.Second, latencies: lat(900)},
		batchBase: pgbenchResult{tps: 10, latencies: lat(50)},
		enrol: pairResult{
			// 150 µs per enrolment: within 200 µs.
			service:  loadResult{ok: 400, allOK: 400, elapsed: 2 * time.Second, latencies: lat(10, 20), itemsPerReq: 1, serverCPU: 60 * time.Millisecond},
			baseline: pgbenchResult{tps: 500, latencies: lat(5, 6)},
		},
		compliance: complianceResult{cards: 1_000_000, subaccounts: 100,
			times: lat(400, 450, 500, 600, 1200), queryTimes: lat(200, 210, 220, 230, 240)},
		// 2,700 messages/s is 0.90× of 3,000; 2,500 events over one second, p99 1.5 s.
		webhooks: webhookResult{service: loadResult{ok: 2700, elapsed: time.Second}, events: 2500, window: time.Second,
			lags: lat(100, 200, 1500)},
	}
	tab := r.table()
	met, service, ratio := map[string]string{}, map[string]string{}, map[string]string{}
	for _, row := range tab.rows {
		met[row[0]], service[row[0]], ratio[row[0]] = row[5], row[1], row[3]
	}
	want := map[string]string{
		"single-message ingest, 32 connections: messages/s":                                        "yes",    // 3.00×
		"single-message ingest: p99":                                                               "**no**", // 30 ms
		"batch ingest, 100 per request, 4 connections: messages/s":                                 "no",     // 0.50×
		"card enrolment, 32 connections: enrolments/s":                                             "no",     // 200/s is 0.40× of 500
		"compliance report, 1,000,000 cards in 100 subaccounts: median of 5":                       "yes",
		"batch ingest, 1000 per request, 4 connections: messages/s":                                "—",
		"compliance report: slowest":                                                               "—",
		"single-message ingest, one webhook endpoint subscribed to transaction.routed: messages/s": "yes",
		"webhook delivery to a local receiver, 2500 events/s offered: events/s":                    "yes",
		"webhook delivery at that rate: commit-to-receipt p99":                                     "no",
		"GET /healthz (the floor), 32 connections: requests/s":                                     "—",
		"GET /healthz: service CPU per request":                                                    "—",
		"single-message ingest: service CPU per message":                                           "yes",
		"single-message ingest, 3 replicas: service CPU per message (3 processes summed)":          "no",
		"single-message ingest, 3 replicas: PostgreSQL CPU per message":                            "—",
		"batch ingest, 100 per request: service CPU per message":                                   "no",
		"card enrolment: service CPU per enrolment":                                                "yes",
		// Not measured (no CPU time read): no verdict rather than a false "yes".
		"single-message ingest with that endpoint: service CPU per message": "—",
		"batch ingest, 1000 per request: service CPU per message":           "—",
	}
	for name, w := range want {
		got, ok := met[name]
		if !ok {
			t.Errorf("no row %q", name)
			continue
		}
		if strings.Trim(got, "*") != strings.Trim(w, "*") {
			t.Errorf("row %q: met? %q, want %q", name, got, w)
		}
	}
	figures := []struct{ row, service, ratio string }{
		{"GET /healthz: service CPU per request", "50 µs", "—"},
		{"GET /healthz: p50, p99", "1.00 ms, 2.00 ms", "—"},
		{"single-message ingest: service CPU per message", "90 µs (40 µs above the floor)", "1.80×"},
		{"single-message ingest, 3 replicas: service CPU per message (3 processes summed)", "144 µs (94 µs above the floor)", "1.60×"},
		{"single-message ingest, 3 replicas: PostgreSQL CPU per message", "150 µs", "1.50×"},
		// The floor's share of a batch of 100 is 0.5 µs per message.
		{"batch ingest, 100 per request: service CPU per message", "25 µs (25 µs above the floor)", "0.50×"},
		{"single-message ingest with that endpoint: service CPU per message", "—", "—"},
	}
	for _, f := range figures {
		if service[f.row] != f.service || ratio[f.row] != f.ratio {
			t.Errorf("row %q: %q, ratio %q; want %q, %q", f.row, service[f.row], ratio[f.row], f.service, f.ratio)
		}
	}
	if len(tab.missed) != 6 {
		t.Errorf("missed = %q, want 6 sentences", tab.missed)
	}
	missed := strings.Join(tab.missed, "\n")
	for _, want := range []string{
		"0.50× the baseline's 1,000 (pgbench, 4 clients, 100 rows per commit)",
		"1.60× the baseline's 90 µs (one replica); the target is ≤ 1.5×.",
		"batch ingest, 100 per request: service CPU per message: 25 µs (25 µs above the floor) (baseline 50 µs, GET /healthz, per request); the target is ≤ 20 µs.",
	} {
		if !strings.Contains(missed, want) {
			t.Errorf("missed sentences %q lack %q", tab.missed, want)
		}
	}
}

func TestBackendCPUDelta(t *testing.T) {
	t.Parallel()
	before := map[int]time.Duration{10: time.Second, 11: 2 * time.Second, 12: time.Second}
	// 10 grew by 0.5 s, 11 ended (lost), 12's pid is a new process (its CPU is below the
	// old one's), 13 started during the run.
	after := map[int]time.Duration{10: 1500 * time.Millisecond, 12: 300 * time.Millisecond, 13: 200 * time.Millisecond}
	if got, want := backendCPUDelta(before, after), time.Second; got != want {
		t.Errorf("backendCPUDelta = %v, want %v", got, want)
	}
	if got := backendCPUDelta(nil, nil); got != 0 {
		t.Errorf("no backends: %v", got)
	}
}

func TestReplaceEnv(t *testing.T) {
	t.Parallel()
	got := replaceEnv([]string{"A=1", "DATA_DIR=/one", "DATA_DIR_X=keep", "B=2"}, "DATA_DIR", "/two")
	if want := []string{"A=1", "DATA_DIR_X=keep", "B=2", "DATA_DIR=/two"}; !slices.Equal(got, want) {
		t.Errorf("replaceEnv = %q, want %q", got, want)
	}
}

func TestPerItem(t *testing.T) {
	t.Parallel()
	l := loadResult{allOK: 4, serverCPU: 400 * time.Microsecond, pgCPU: 0}
	if l.serverCPUPerItem() != 100*time.Microsecond || l.pgCPUPerItem() != 0 {
		t.Errorf("per item: service %v, PostgreSQL %v; want 100µs, 0 (not read)", l.serverCPUPerItem(), l.pgCPUPerItem())
	}
	if (loadResult{serverCPU: time.Second}).serverCPUPerItem() != 0 {
		t.Error("no item: want 0")
	}
}

func TestFormatting(t *testing.T) {
	t.Parallel()
	rates := map[float64]string{0: "0", 999.4: "999", 999.5: "1,000", 1234567: "1,234,567", -4321: "-4,321", math.NaN(): "—"}
	for f, want := range rates {
		if got := fmtRate(f); got != want {
			t.Errorf("fmtRate(%v) = %q, want %q", f, got, want)
		}
	}
	durs := map[time.Duration]string{
		1234 * time.Microsecond: "1.23 ms",
		25 * time.Millisecond:   "25.00 ms",
		1500 * time.Millisecond: "1.500 s",
	}
	for d, want := range durs {
		if got := fmtDur(d); got != want {
			t.Errorf("fmtDur(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestSeededViolations(t *testing.T) {
	t.Parallel()
	// Block 42 of 100 subaccounts is cards 4200…4299: one GBR card per subaccount,
	// on VISA or MASTERCARD depending on (i/3)%2.
	if n, g := seededViolations(10_000, 100); n != 100 || g != 100 {
		t.Errorf("10,000 cards: %d violations in %d groups, want 100 in 100", n, g)
	}
	if n, g := seededViolations(1_000_000, 100); n != 10_000 || g != 200 {
		t.Errorf("1,000,000 cards: %d violations in %d groups, want 10,000 (1%%) in 200", n, g)
	}
	if n, _ := seededViolations(4200, 100); n != 0 {
		t.Errorf("4,200 cards: %d violations, want 0", n)
	}
}

func TestMergeBenchmarks(t *testing.T) {
	t.Parallel()
	run1 := "## Run of day 1\n\n### Results\n\nfirst\n"
	first := mergeBenchmarks("", run1)
	if !strings.HasPrefix(first, "# Benchmarks\n") || !strings.Contains(first, runBegin+"\n## Run of day 1") {
		t.Fatalf("first file:\n%s", first)
	}
	if strings.Count(first, "## History") != 1 {
		t.Errorf("first file has no single History heading:\n%s", first)
	}

	// The lead explains a miss in the newest run and adds a note to History by hand.
	edited := strings.Replace(first, "first\n", "first\n\nWhy: the disk.\n", 1) + "\nA note kept by hand.\n"
	edited = strings.Replace(edited, runEnd+"\n", runEnd+"\n\nAn aside after the run.\n", 1)
	second := mergeBenchmarks(edited, "## Run of day 2\n\n### Results\n\nsecond\n")
	newest := second[strings.Index(second, runBegin):strings.Index(second, runEnd)]
	if !strings.Contains(newest, "day 2") || strings.Contains(newest, "day 1") {
		t.Errorf("newest run section:\n%s", newest)
	}
	history := second[strings.Index(second, "## History"):]
	for _, want := range []string{"### Run of day 1", "#### Results", "Why: the disk.", "An aside after the run.", "A note kept by hand."} {
		if !strings.Contains(history, want) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}
	if strings.Index(history, "day 1") > strings.Index(history, "A note kept by hand.") {
		t.Errorf("the moved run is not at the top of History:\n%s", history)
	}

	third := mergeBenchmarks(second, "## Run of day 3\n")
	h3 := third[strings.Index(third, "## History"):]
	i2, i1 := strings.Index(h3, "### Run of day 2"), strings.Index(h3, "### Run of day 1")
	if i2 < 0 || i1 < 0 || i2 > i1 || strings.Contains(h3, "#### Run of day 1") {
		t.Errorf("history after three runs is not newest first, demoted once:\n%s", h3)
	}
	if strings.Count(third, historyIntro) != 1 {
		t.Errorf("history intro repeated:\n%s", third)
	}
}

func TestMergeBenchmarksForeignFile(t *testing.T) {
	t.Parallel()
	old := "# Benchmarks\n\nHand-written numbers.\n\n## Notes\n\nkeep me\n\n## History\n\nOlder notes.\n"
	got := mergeBenchmarks(old, "## Run of today\n")
	h := got[strings.Index(got, "## History"):]
	for _, want := range []string{"Hand-written numbers.", "### Notes", "keep me", "Older notes."} {
		if !strings.Contains(h, want) {
			t.Errorf("history lacks %q:\n%s", want, got)
		}
	}
}

func TestDemoteHeadingsSkipsCode(t *testing.T) {
	t.Parallel()
	in := "## A\ntext #not\n```sh\n# a comment\n```\n### B\n#hashtag"
	want := "### A\ntext #not\n```sh\n# a comment\n```\n#### B\n#hashtag"
	if got := demoteHeadings(in); got != want {
		t.Errorf("demoteHeadings:\n%s\nwant:\n%s", got, want)
	}
}

func TestSummarizeLog(t *testing.T) {
	t.Parallel()
	log := `{"level":"INFO","msg":"request","method":"POST","route":"/v1/transactions","status":201,"duration_ms":2}
{"level":"INFO","msg":"request","method":"POST","route":"/v1/transactions","status":201,"duration_ms":3.0}
{"level":"INFO","msg":"request","method":"POST","route":"/v1/transactions","status":503,"duration_ms":1.000}
{"level":"ERROR","msg":"request failed","error":"card 4111111111111111 broke"}
{"level":"WARN","msg":"SQL executed","trace":{"duration":"612.500ms","sql":"SELECT g.subaccount_id\n  FROM cards"}}
{"level":"WARN","msg":"SQL executed","trace":{"duration":"700.250ms","sql":"SELECT g.subaccount_id FROM   cards"}}
not json
`
	s := summarizeLog([]byte(log))
	if s.lines != 7 || s.byLevel["INFO"] != 3 || s.byLevel["ERROR"] != 1 || s.byLevel["WARN"] != 2 || s.byLevel["(not JSON)"] != 1 {
		t.Errorf("lines %d, by level %v", s.lines, s.byLevel)
	}
	if got, want := s.routes["POST /v1/transactions"], []time.Duration{2 * time.Millisecond, 3 * time.Millisecond, time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("route durations %v, want %v", got, want)
	}
	if st := s.problems["INFO request /v1/transactions (status 503)"]; st == nil || st.count != 1 {
		t.Errorf("problems %v lack the 503", s.problems)
	}
	if st := s.problems["WARN SQL executed: SELECT g.subaccount_id FROM cards"]; st == nil || st.count != 2 || st.slowestMS != 700.25 {
		t.Errorf("slow SQL lines not counted together with their slowest duration: %v", s.problems)
	}
	for k := range s.problems {
		if strings.Contains(k, "4111111111111111") {
			t.Errorf("a problem key shows a card number: %q", k)
		}
	}
}

func TestFilterGoBench(t *testing.T) {
	t.Parallel()
	out := `goos: linux
goarch: amd64
pkg: example.com/x/policy
cpu: AMD EPYC
BenchmarkPermits/permitted-2   	255375186	         5.699 ns/op	       0 B/op	       0 allocs/op
PASS
ok  	example.com/x/policy	3.1s
--- SKIP: BenchmarkPostgres
    bench_test.go:12: TEST_DATABASE_URL is not set
PASS
`
	want := `pkg: example.com/x/policy
BenchmarkPermits/permitted-2   	255375186	         5.699 ns/op	       0 B/op	       0 allocs/op
--- SKIP: BenchmarkPostgres
    bench_test.go:12: TEST_DATABASE_URL is not set`
	if got := filterGoBench(out); got != want {
		t.Errorf("filterGoBench:\n%s\nwant:\n%s", got, want)
	}
}

func TestServerEnv(t *testing.T) {
	t.Parallel()
	env := serverEnv([]string{"PATH=/bin", "DATABASE_URL=postgres://elsewhere", "OIDC_ISSUER_URL=https://idp", "GROUP_COMMIT_MAX_WAIT=1ms", "CLIENT_RATE_LIMIT=5",
		"METRICS_ADDR=0.0.0.0:9090", "DATABASE_MAX_CONNS=5"},
		"postgres://here", "/tmp/data")
	// METRICS_ADDR is each process's own (startServer adds it); the pool keeps its default.
	for _, bad := range []string{"DATABASE_URL=postgres://elsewhere", "OIDC_ISSUER_URL=https://idp", "CLIENT_RATE_LIMIT=5", "METRICS_ADDR=0.0.0.0:9090", "DATABASE_MAX_CONNS=5"} {
		if slices.Contains(env, bad) {
			t.Errorf("env keeps %q", bad)
		}
	}
	// The load runs measure the service with its rate limits off.
	for _, want := range []string{"PATH=/bin", "GROUP_COMMIT_MAX_WAIT=1ms", "DATABASE_URL=postgres://here", "LISTEN_ADDR=127.0.0.1:0", "DATA_DIR=/tmp/data", "CLIENT_RATE_LIMIT=0", "TOKEN_FAILURE_LIMIT=0"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q", want)
		}
	}
}

func TestMachineParsers(t *testing.T) {
	t.Parallel()
	model, n := parseCPUInfo("processor\t: 0\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\nmodel name\t: AMD EPYC\n")
	if model != "AMD EPYC" || n != 2 {
		t.Errorf("parseCPUInfo = %q, %d", model, n)
	}
	if got := parseMemTotal("MemTotal:       24683520 kB\nMemFree: 1 kB\n"); got != "23.5 GiB" {
		t.Errorf("parseMemTotal = %q", got)
	}
	if got := parseOSRelease("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"); got != "Debian GNU/Linux 12 (bookworm)" {
		t.Errorf("parseOSRelease = %q", got)
	}
}

func TestRedactDigits(t *testing.T) {
	t.Parallel()
	if got := redactDigits(`{"number":"4000000000000002","n":12345}`); got != `{"number":"[digits]","n":12345}` {
		t.Errorf("redactDigits = %s", got)
	}
}

func TestParseProcStatCPU(t *testing.T) {
	t.Parallel()
	stat := "11107 (sub accountd) S 1 11107 11107 0 -1 4194560 12345 0 0 0 250 75 0 0 20 0 9 0 123 0 0"
	got, err := parseProcStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; got != want {
		t.Errorf("parseProcStatCPU = %v, want %v (325 ticks)", got, want)
	}
	if _, err := parseProcStatCPU("11107 (x) S 1 2"); err == nil {
		t.Error("a short line: no error")
	}
}
