package main

import (
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cardseg/subaccounts/internal/routing"
)

// tableData is the results table: a header and rows of cells.
type tableData struct {
	header []string
	rows   [][]string
	missed []string // one sentence per target not reached
}

// render returns the table as Markdown with padded columns, readable as plain text too.
func (t tableData) render() string {
	width := make([]int, len(t.header))
	for i, h := range t.header {
		width[i] = runeLen(h)
	}
	for _, r := range t.rows {
		for i := range min(len(r), len(width)) {
			width[i] = max(width[i], runeLen(r[i]))
		}
	}
	var sb strings.Builder
	line := func(cells []string) {
		sb.WriteString("|")
		for i := range width {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			sb.WriteString(" " + c + strings.Repeat(" ", width[i]-runeLen(c)) + " |")
		}
		sb.WriteString("\n")
	}
	line(t.header)
	sep := make([]string, len(width))
	for i := range sep {
		sep[i] = strings.Repeat("-", width[i])
	}
	line(sep)
	for _, r := range t.rows {
		line(r)
	}
	return sb.String()
}

func runeLen(s string) int { return utf8.RuneCountInString(s) }

// deliveryFloor is the webhook delivery rate the issue asks for, events/s.
const deliveryFloor = 2000

// target is what a figure must reach.
type target struct {
	minRatio float64       // service ≥ minRatio × baseline, when > 0
	maxRatio float64       // service ≤ maxRatio × baseline, when > 0
	maxValue time.Duration // service ≤ maxValue, when > 0
	// micros shows maxValue in microseconds: the CPU-per-item targets.
	micros bool
}

func (t target) String() string {
	switch {
	case t.minRatio > 0:
		return "≥ " + strconv.FormatFloat(t.minRatio, 'f', -1, 64) + "×"
	case t.maxRatio > 0:
		return "≤ " + strconv.FormatFloat(t.maxRatio, 'f', -1, 64) + "×"
	case t.maxValue > 0 && t.micros:
		return "≤ " + fmtMicros(t.maxValue)
	case t.maxValue > 0:
		return "≤ " + fmtDurShort(t.maxValue)
	}
	return "—"
}

// met evaluates the target; ok is false when there is none.
func (t target) met(ratio float64, value time.Duration) (met, ok bool) {
	switch {
	case t.minRatio > 0:
		return ratio >= t.minRatio, true
	case t.maxRatio > 0:
		return ratio <= t.maxRatio, true
	case t.maxValue > 0:
		return value <= t.maxValue, true
	}
	return false, false
}

// The CPU-per-item targets of issue 12: the service's own CPU (every replica summed),
// warm-up included, per item answered 201.
const (
	singleCPUTarget  = 100 * time.Microsecond
	batchCPUTarget   = 20 * time.Microsecond
	enrolCPUTarget   = 200 * time.Microsecond
	replicasCPURatio = 1.5
)

// metric is one row before formatting.
type metric struct {
	name             string
	service          string
	baseline, baseBy string  // the baseline's figure, and what measured it
	ratio            float64 // service ÷ baseline; NaN when there is none
	value            time.Duration
	target           target
	// missing is set when the figure could not be measured (no CPU time read): the row
	// then has no verdict rather than a false one.
	missing bool
}

func (r *results) metrics() []metric {
	s, e, c, w := r.single, r.enrol, r.compliance, r.webhooks
	batchBase := r.batchBase.tps * batchRows
	rateRow := func(name string, svc, base float64, baseNote string, t target) metric {
		return metric{name: name, service: fmtRate(svc), baseline: fmtRate(base), baseBy: baseNote, ratio: svc / base, target: t}
	}
	durRow := func(name string, svc, base time.Duration, baseNote string, t target) metric {
		return metric{name: name, service: fmtDur(svc), baseline: fmtDur(base), baseBy: baseNote,
			ratio: float64(svc) / float64(base), value: svc, target: t}
	}
	// cpuRow is a CPU-per-item row: the service's figure with what it costs above floor
	// (GET /healthz's CPU per request, its share per item for a batch; none when 0),
	// compared with base.
	floor := r.healthz.serverCPUPerItem()
	cpuRow := func(name string, l loadResult, floor, base time.Duration, baseNote string, t target) metric {
		per := l.serverCPUPerItem()
		m := metric{name: name, service: fmtCPU(per), baseline: fmtCPU(base), baseBy: baseNote,
			ratio: float64(per) / float64(base), value: per, target: t, missing: per == 0}
		if per > 0 && floor > 0 && l.itemsPerReq > 0 {
			m.service += " (" + fmtMicros(per-floor/time.Duration(l.itemsPerReq)) + " above the floor)"
		}
		if base == 0 || per == 0 {
			m.ratio = math.NaN()
		}
		return m
	}
	cpuTarget := func(d time.Duration) target { return target{maxValue: d, micros: true} }
	floorNote := "GET /healthz, per request"
	rep := r.replicas.service
	cardsName := fmt.Sprintf("%s cards in %d subaccounts", fmtRate(float64(c.cards)), c.subaccounts)
	return []metric{
		rateRow(fmt.Sprintf("GET /healthz (the floor), %d connections: requests/s", ingestWorkers), r.healthz.rate(), math.NaN(), "", target{}),
		{name: "GET /healthz: p50, p99", service: fmtDur(r.healthz.p(50)) + ", " + fmtDur(r.healthz.p(99)), baseline: "—", ratio: math.NaN()},
		cpuRow("GET /healthz: service CPU per request", r.healthz, 0, 0, "", target{}),
		rateRow(fmt.Sprintf("single-message ingest, %d connections: messages/s", ingestWorkers),
			s.service.rate(), s.baseline.tps, fmt.Sprintf("pgbench, %d clients, 1 message per commit", pgbenchClients), target{minRatio: 1.5}),
		durRow("single-message ingest: p50", s.service.p(50), s.baseline.p(50), "pgbench", target{}),
		durRow("single-message ingest: p99", s.service.p(99), s.baseline.p(99), "pgbench", target{maxValue: 25 * time.Millisecond}),
		cpuRow("single-message ingest: service CPU per message", s.service, floor, floor, floorNote, cpuTarget(singleCPUTarget)),
		rateRow(fmt.Sprintf("single-message ingest, %d replicas on one database, %d connections round robin: messages/s", replicaCount, ingestWorkers),
			rep.rate(), s.service.rate(), "one replica, same run", target{}),
		durRow(fmt.Sprintf("single-message ingest, %d replicas: p99", replicaCount), rep.p(99), s.service.p(99), "one replica", target{}),
		cpuRow(fmt.Sprintf("single-message ingest, %d replicas: service CPU per message (%d processes summed)", replicaCount, replicaCount),
			rep, floor, s.service.serverCPUPerItem(), "one replica", target{maxRatio: replicasCPURatio}),
		pgCPURow(fmt.Sprintf("single-message ingest, %d replicas: PostgreSQL CPU per message", replicaCount), rep, s.service),
		rateRow("single-message ingest, one webhook endpoint subscribed to transaction.routed: messages/s",
			w.service.rate(), s.service.rate(), "the same run's ingest without one", target{minRatio: 0.8}),
		cpuRow("single-message ingest with that endpoint: service CPU per message", w.service, floor, s.service.serverCPUPerItem(), "without one", target{}),
		rateRow(fmt.Sprintf("webhook delivery to a local receiver, %d events/s offered: events/s", pacedRate), w.deliveryRate(), deliveryFloor,
			"the target rate", target{minRatio: 1}),
		durRow("webhook delivery at that rate: commit-to-receipt p99", percentile(w.lags, 99), percentile(w.lags, 50), "its p50", target{maxValue: time.Second}),
		rateRow(fmt.Sprintf("batch ingest, 100 per request, %d connections: messages/s", batchWorkers),
			r.batch100.rate(), batchBase, fmt.Sprintf("pgbench, %d clients, %d rows per commit", batchWorkers, batchRows), target{minRatio: 0.6}),
		cpuRow("batch ingest, 100 per request: service CPU per message", r.batch100, floor, floor, floorNote, cpuTarget(batchCPUTarget)),
		rateRow(fmt.Sprintf("batch ingest, 1000 per request, %d connections: messages/s", batchWorkers),
			r.batch1000.rate(), batchBase, "the same pgbench run", target{}),
		cpuRow("batch ingest, 1000 per request: service CPU per message", r.batch1000, floor, floor, floorNote, target{}),
		rateRow(fmt.Sprintf("card enrolment, %d connections: enrolments/s", ingestWorkers),
			e.service.rate(), e.baseline.tps, fmt.Sprintf("pgbench, %d clients, 1 card per commit", pgbenchClients), target{minRatio: 0.5}),
		durRow("card enrolment: p50", e.service.p(50), e.baseline.p(50), "pgbench", target{}),
		durRow("card enrolment: p99", e.service.p(99), e.baseline.p(99), "pgbench", target{}),
		cpuRow("card enrolment: service CPU per enrolment", e.service, floor, floor, floorNote, cpuTarget(enrolCPUTarget)),
		durRow(fmt.Sprintf("compliance report, %s: median of %d", cardsName, len(c.times)),
			median(c.times), median(c.queryTimes), "its aggregate query alone", target{maxValue: time.Second}),
		durRow("compliance report: slowest", last(c.times), last(c.queryTimes), "its aggregate query alone", target{}),
	}
}

// pgCPURow compares the PostgreSQL backends' CPU per message of a run with another's.
func pgCPURow(name string, l, base loadResult) metric {
	per, b := l.pgCPUPerItem(), base.pgCPUPerItem()
	m := metric{name: name, service: fmtCPU(per), baseline: fmtCPU(b), baseBy: "one replica", ratio: float64(per) / float64(b), value: per, missing: per == 0}
	if b == 0 || per == 0 {
		m.ratio = math.NaN()
	}
	return m
}

// last is the largest of sorted durations; 0 for none.
func last(sorted []time.Duration) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[len(sorted)-1]
}

func (r *results) table() tableData {
	t := tableData{header: []string{"metric", "service", "baseline (same run)", "ratio", "target", "met?"}}
	for _, m := range r.metrics() {
		ratio := "—"
		if !math.IsNaN(m.ratio) && !math.IsInf(m.ratio, 0) {
			ratio = fmt.Sprintf("%.2f×", m.ratio)
		}
		met := "—"
		if ok, has := m.target.met(m.ratio, m.value); has && !m.missing {
			met = "yes"
			if !ok {
				met = "**no**"
				t.missed = append(t.missed, missedSentence(m))
			}
		}
		base := m.baseline
		if m.baseBy != "" {
			base += " (" + m.baseBy + ")"
		}
		t.rows = append(t.rows, []string{m.name, m.service, base, ratio, m.target.String(), met})
	}
	return t
}

func missedSentence(m metric) string {
	if m.target.minRatio > 0 || m.target.maxRatio > 0 {
		return fmt.Sprintf("%s: %s, %.2f× the baseline's %s (%s); the target is %s.", m.name, m.service, m.ratio, m.baseline, m.baseBy, m.target)
	}
	return fmt.Sprintf("%s: %s (baseline %s, %s); the target is %s.", m.name, m.service, m.baseline, m.baseBy, m.target)
}

// notes are what the table does not show: answers other than the expected ones, the
// report's findings, the server's log.
func (r *results) notes() string {
	var sb strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	load := func(name string, l loadResult) {
		p("- %s: %s requests measured in %s (%d per request) → %s", name, fmtRate(float64(l.requests)), fmtDur(l.elapsed), l.itemsPerReq, fmtStatuses(l.statuses))
		if len(l.itemStatus) > 0 {
			p("; items not answered 201: %s", fmtStatuses(l.itemStatus))
		}
		if l.errors > 0 {
			p("; %d without an answer (first: %s)", l.errors, shorten(l.firstError, 200))
		}
		if l.serverCPU > 0 && l.allOK > 0 {
			per := func(d time.Duration) string { return fmtMicros(d / time.Duration(l.allOK)) }
			procs := "subaccountd"
			if l.servers > 1 {
				procs = fmt.Sprintf("subaccountd (%d processes)", l.servers)
			}
			p(". CPU over the run's %s (warm-up included, %s items): %s %.1f s (%s per item), the PostgreSQL backends of the run's database %.1f s (%s per item, %d backends at the end), the load generator %.1f s (%s per item)",
				fmtDur(l.elapsed+r.opts.warmup), fmtRate(float64(l.allOK)), procs, l.serverCPU.Seconds(), per(l.serverCPU),
				l.pgCPU.Seconds(), per(l.pgCPU), l.pgBackends, l.clientCPU.Seconds(), per(l.clientCPU))
		}
		if g := l.groups; g.commits > 0 {
			p("; group commit (the servers' /metrics): %s items in %s transactions, %.1f per commit", fmtRate(g.items), fmtRate(g.commits), g.items/g.commits)
		}
		p(".\n")
	}
	pg := func(name string, b pgbenchResult) {
		p("- %s: pgbench processed %s transactions, %d failed; %s logged.\n", name, fmtRate(float64(b.processed)), b.failed, fmtRate(float64(len(b.latencies))))
	}
	p("Answers:\n\n")
	load("GET /healthz (the floor)", r.healthz)
	load("single-message ingest", r.single.service)
	pg("single-message baseline", r.single.baseline)
	rr := r.replicas
	load(fmt.Sprintf("single-message ingest on %d replicas", replicaCount), rr.service)
	p("- the %d replicas kept DATABASE_MAX_CONNS %d (the default) each: %d × %d = %d connections at most, against max_connections %d, with %d client connections to other databases of the server when they started.\n",
		replicaCount, rr.maxConns, replicaCount, rr.maxConns, replicaCount*rr.maxConns, rr.maxConnections, rr.others)
	load("single-message ingest with a webhook endpoint", r.webhooks.service)
	wh := r.webhooks
	p("- webhook deliveries of that ingest run: %s events, each received; commit-to-receipt p50 %s, p99 %s, slowest %s.\n",
		fmtRate(float64(wh.ingestEvents)), fmtDur(percentile(wh.ingestLags, 50)), fmtDur(percentile(wh.ingestLags, 99)), fmtDur(percentile(wh.ingestLags, 100)))
	p("- webhook deliveries, paced phase: %s events received once each over %s (%d received more than once over the whole run); commit-to-receipt p50 %s, p99 %s, slowest %s.\n",
		fmtRate(float64(wh.events)), fmtDur(wh.window), wh.dups,
		fmtDur(percentile(wh.lags, 50)), fmtDur(percentile(wh.lags, 99)), fmtDur(percentile(wh.lags, 100)))
	load("batch ingest, 100 per request", r.batch100)
	load("batch ingest, 1000 per request", r.batch1000)
	pg("batch baseline", r.batchBase)
	load("card enrolment", r.enrol.service)
	pg("enrolment baseline", r.enrol.baseline)
	c := r.compliance
	rep := c.report.Summary
	wantCards, wantGroups := seededViolations(c.cards, c.subaccounts)
	p("- compliance report: %d subaccounts, %s active cards, %s cards outside their subaccount's configuration in %d groups (seeded: %s in GBR, in %d groups); its aggregate query alone returned %d groups. Seeding and VACUUM ANALYZE took %s.\n",
		rep.Subaccounts, fmtRate(float64(rep.ActiveCards)), fmtRate(float64(rep.CardsOutsideConfiguration)), c.violationGroups,
		fmtRate(float64(wantCards)), wantGroups, c.queryGroups, fmtDur(c.seedTime))
	p("- compliance report times: %s; aggregate query alone: %s.\n", fmtDurs(c.times), fmtDurs(c.queryTimes))

	p("\nServer log (stderr): ")
	writeLogSummary(&sb, r.serverLog, true)
	p("\nThe other replicas' logs (stderr, both together): ")
	writeLogSummary(&sb, r.replicas.logs, false)
	return sb.String()
}

// writeLogSummary writes what a server log held; withRoutes adds the load routes' time
// inside the server.
func writeLogSummary(sb *strings.Builder, sl logSummary, withRoutes bool) {
	p := func(format string, a ...any) { fmt.Fprintf(sb, format, a...) }
	if sl.err != nil {
		p("could not be read: %v\n", sl.err)
		return
	}
	p("%s lines", fmtRate(float64(sl.lines)))
	if len(sl.byLevel) > 0 {
		p(" (%s)", fmtCounts(sl.byLevel))
	}
	p(".\n\n")
	if withRoutes && len(sl.routes) > 0 {
		p("Time inside the server, from its request log (warm-ups included):\n\n")
		for _, route := range slices.Sorted(maps.Keys(sl.routes)) {
			d := slices.Sorted(slices.Values(sl.routes[route]))
			p("- `%s`: p50 %s, p99 %s, %s requests\n", route, fmtDur(percentile(d, 50)), fmtDur(percentile(d, 99)), fmtRate(float64(len(d))))
		}
		p("\n")
	}
	if len(sl.problems) == 0 {
		p("No warning, error or answer of 400 or more in the log.\n")
		return
	}
	p("Warnings, errors and answers of 400 or more in the log:\n\n")
	for _, k := range slices.Sorted(maps.Keys(sl.problems)) {
		st := sl.problems[k]
		p("- %d × `%s`", st.count, strings.ReplaceAll(k, "`", "'"))
		if st.slowestMS > 0 {
			p(" (slowest %s)", fmtDur(time.Duration(st.slowestMS*float64(time.Millisecond))))
		}
		p("\n")
	}
}

// seededViolations mirrors seedCardsSQL: how many of its cards it issues in GBR, and
// in how many (subaccount, network) groups they fall.
func seededViolations(cards, subs int) (n, groups int) {
	seen := map[[2]int]bool{}
	for i := range cards {
		if (i/subs)%100 == 42 {
			n++
			seen[[2]int{i % subs, (i / 3) % 2}] = true
		}
	}
	return n, len(seen)
}

func fmtStatuses(m map[int]int) string {
	if len(m) == 0 {
		return "no answer"
	}
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s × %d", fmtRate(float64(m[s])), s))
	}
	return strings.Join(parts, ", ")
}

func fmtCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %s", fmtRate(float64(m[k])), k))
	}
	return strings.Join(parts, ", ")
}

// fmtRate formats a count or rate rounded to a whole number with thousands separators.
func fmtRate(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	s := strconv.FormatInt(int64(math.Round(f)), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// fmtDur formats a latency: milliseconds with two decimals below a second, seconds with
// three above.
func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.3f s", d.Seconds())
}

// fmtCPU formats CPU per item in microseconds; "—" when it was not measured.
func fmtCPU(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmtMicros(d)
}

// fmtMicros formats a small duration in microseconds.
func fmtMicros(d time.Duration) string {
	return fmtRate(float64(d)/float64(time.Microsecond)) + " µs"
}

// fmtDurShort formats a target: "25 ms", "1 s".
func fmtDurShort(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', -1, 64) + " ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

func fmtDurs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmtDur(d)
	}
	return strings.Join(parts, ", ")
}

func sortDurations(ds []time.Duration) { slices.Sort(ds) }

// median of sorted durations; the lower middle one for an even count.
func median(sorted []time.Duration) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[(len(sorted)-1)/2]
}

// filterGoBench keeps the lines of `go test -bench` output worth recording: the
// package names, the benchmark lines, and skips or failures with their reasons.
func filterGoBench(out string) string {
	var keep []string
	inReport := false
	for line := range strings.SplitSeq(out, "\n") {
		line = strings.TrimRight(line, "\r ")
		switch {
		case strings.HasPrefix(line, "pkg: "), strings.HasPrefix(line, "Benchmark"), strings.HasPrefix(line, "FAIL"):
			keep = append(keep, line)
			inReport = false
		case strings.HasPrefix(line, "--- "):
			keep = append(keep, line)
			inReport = true
		case inReport && strings.HasPrefix(line, "    "):
			keep = append(keep, line)
		default:
			inReport = false
		}
	}
	return strings.Join(keep, "\n")
}

// markdown is the run's section of BENCHMARKS.md.
func (r *results) markdown(t tableData) string {
	var sb strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	m := r.machine
	o := r.opts
	p("## Run of %s\n\n", r.started.UTC().Format("2006-01-02 15:04 UTC"))
	p("`make bench`: the Go benchmarks, then `go run ./cmd/subaccountload` (-duration %s, -warmup %s, -cards %d, -history %d)", o.duration, o.warmup, o.cards, o.history)
	if m.revision != "" {
		p(" on commit %s", m.revision)
	}
	p(".\n\n### Machine\n\n")
	p("- CPU: %s × %d. **The load generator, subaccountd and PostgreSQL all share these %d CPUs**, so every figure below includes the others' work on them.\n", m.cpuModel, m.cpus, m.cpus)
	if m.loadavg != "" {
		p("- Load average (1, 5, 15 min) when the load run began: %s (it includes the builds and Go benchmarks just before, and anything else running here)\n", m.loadavg)
	}
	p("- Memory: %s\n", m.memory)
	p("- OS: %s, %s\n", m.os, m.kernel)
	p("- Go: %s\n", m.goVer)
	p("- PostgreSQL: %s, on the same machine, reached over TCP loopback\n", m.postgres.version)
	var settings []string
	for _, s := range m.postgres.settings {
		settings = append(settings, s[0]+" = "+s[1])
	}
	p("- PostgreSQL settings: %s\n", strings.Join(settings, ", "))
	p("- subaccountd: %s\n\n", serverSettings())

	p("### Method\n\n")
	p(methodText, o.warmup, o.duration, ingestWorkers, fmtRate(float64(r.setupCards)), pgbenchClients,
		batchWorkers, batchWorkers, batchRows, ingestWorkers, benchSubs, pgbenchClients,
		o.subaccounts, fmtRate(float64(o.cards)), reportRepeats, reportRepeats, fmtRate(float64(r.setupCards)), fmtRate(float64(o.history)))
	p(methodAddendum, ingestWorkers, replicaCount, replicaCount-1, defaultMaxConns)
	p("\npgbench invocations (`<acct>` is the ingest account's id, `<keyversion>` the card fingerprint key version; each is preceded by a %s warm-up invocation with another `run`):\n\n```sh\n", o.warmup)
	for _, b := range []pgbenchResult{r.single.baseline, r.batchBase, r.enrol.baseline} {
		p("%s\n", b.invocation)
	}
	p("```\n\n")
	for _, s := range []struct{ name, text string }{{"single.sql", singleScript}, {"batch.sql", batchScript}, {"enrol.sql", enrolScript}} {
		p("<details><summary>%s</summary>\n\n```sql\n%s```\n\n</details>\n\n", s.name, s.text)
	}
	p("<details><summary>bench schema (in the run's database, beside the service's tables)</summary>\n\n```sql%s\n```\n\n</details>\n\n", benchSchema)

	p("### Results\n\n")
	p("Ratio is the service's figure divided by the baseline's (for latencies, above 1 is slower).\n\n")
	sb.WriteString(t.render())
	p("\n%s\n", r.notes())
	sb.WriteString(r.profileMarkdown(r.profileLinks))

	p("### Targets not reached\n\n")
	if len(t.missed) == 0 {
		p("None: every target was met in this run.\n\n")
	} else {
		for _, s := range t.missed {
			p("- %s\n", s)
		}
		p("\n")
	}

	p("### Go benchmarks\n\n")
	if r.goBench == "" {
		p("Not recorded in this run (`make bench` passes them with -gobench).\n")
	} else {
		p("`go test -run='^$' -bench=. -benchmem -count=1 ./...` in the same `make bench`")
		if os.Getenv("TEST_DATABASE_URL") == "" {
			p(" (TEST_DATABASE_URL unset, so only the embedded database's benchmarks)")
		}
		p(":\n\n```\n%s\n```\n", r.goBench)
	}
	return sb.String()
}

// serverSettings describes the server's tuning: the group commit as configured in our
// environment (which the server inherits) or its defaults.
func serverSettings() string {
	get := func(name, def string) string {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			return v + ", from the environment"
		}
		return def + ", the default"
	}
	return fmt.Sprintf("built from this checkout and started with DATABASE_URL on the run's database and the built-in issuer; LOG_LEVEL %s (at INFO it writes one JSON line per request, here to a file); group commit: GROUP_COMMIT_MAX_BATCH %s; GROUP_COMMIT_MAX_WAIT %s; %d writers; DATABASE_MAX_CONNS %d, the default; METRICS_ADDR a free port on 127.0.0.1 of its own (for the CPU profiles)",
		get("LOG_LEVEL", "INFO"), get("GROUP_COMMIT_MAX_BATCH", "256"), get("GROUP_COMMIT_MAX_WAIT", "2ms"), routing.DefaultGroupCommit.Writers, defaultMaxConns)
}

// methodAddendum is formatted with: ingest workers, replicas, extra replicas, their
// pool size.
const methodAddendum = `- **GET /healthz (the floor)**: first of all, %[1]d workers GET /healthz one after another through the same server: its engine's middleware (request id, one request log line, deadline) and HTTP stack, no token, no handler work, no database. Its CPU per request is the floor each hot route's CPU per item is compared to: a row's "above the floor" is its CPU per item less the floor's per request (divided by the items per request for a batch), the route's own cost.
- **Single-message ingest on %[2]d replicas**: right after the single-message ingest, %[3]d more servers are started on the same database with the first one's environment (its master key, and its address as PUBLIC_URL so its tokens verify on every replica; each its own port and METRICS_ADDR; DATABASE_MAX_CONNS %[4]d, the default, in each: the pools open connections on demand, and %[2]d × %[4]d stays below max_connections, see Answers); the same %[1]d workers post the same messages, worker i to replica i mod %[2]d, and the extra replicas are stopped afterwards. Its CPU per message sums the %[2]d processes; the target is at most 1.5× the single-replica run's.

CPU per item is the CPU time (user + system, from /proc/<pid>/stat) a process used over the whole run, warm-up included, divided by the items answered 201 in it, warm-up included. For the service it is subaccountd's (every replica's, summed); for PostgreSQL it is the backends of the run's database (from pg_stat_activity before and after the run: the growth of those present before, all of those started meanwhile), not the cluster's shared processes (WAL writer, checkpointer), which other databases use too. The CPU profiles' sampling (100 Hz) is part of the service's figure.
`

// methodText is formatted with: warm-up, duration, ingest workers, setup
// cards, pgbench clients, batch workers (twice), batch rows, enrolment workers, bench
// subaccounts, pgbench clients, compliance subaccounts, cards, repeats (twice), setup
// cards, earlier transactions.
const methodText = `Everything runs against one database created for the run (and dropped after it) on the PostgreSQL server above; subaccountd migrated it at start-up, and pgbench runs against the same database and the same tables (cards, subaccounts, transactions) with all their indexes and constraints.

Setup through the API: an operator token; an account whose contract permits USA, CAN and GBR on VISA and MASTERCARD (maxSubaccounts 200); a tenant client with every tenant scope and its token (tokens last one hour); 10 subaccounts permitting the whole contract; %[16]s cards enrolled with POST /v1/subaccounts/{id}/cards/batch (generated Luhn-valid VISA 4… and MASTERCARD 51… numbers, issued in USA). No card number is printed or written anywhere. The account then gets %[17]s earlier routed transactions over the past 30 days, inserted with SQL, so the runs meet a table in use whose statistics describe it.

Each run is measured for %[2]s after an unmeasured warm-up of %[1]s (pgbench: a separate warm-up invocation). Before each measured run, the rows the previous runs added to the ingest account (transactions but the earlier ones, cards beyond the set-up ones) are deleted, transactions and cards are vacuumed, and a CHECKPOINT is taken, so the service and pgbench meet the same tables. A service figure counts the requests started in the measured window and divides by the time until the last of them was answered. Latency percentiles are exact (nearest rank over every measured request, whatever its answer); pgbench's are computed the same way from its per-transaction logs (-l), and its throughput is its own tps without the initial connection time. The HTTP client keeps connections alive (one per worker).

- **Single-message ingest**: %[3]d workers POST /v1/transactions one message after another: a unique networkTransactionId, type auth, a random one of the %[4]s cards (by cardId), an amount, USD, the current time, merchant {name, mcc 5812, USA}. Messages/s counts 201 answers only. Baseline: pgbench, %[5]d clients, one message per commit: look the card and its subaccount's configuration version up, insert the routed transaction (single.sql). The service also checks for a stored duplicate first, which the baseline does not.
- **Single-message ingest with a webhook endpoint**: the same load, next, with one account-wide endpoint subscribed to transaction.routed (so every routed message also writes its event and a delivery in its transaction), pointing at a receiver in the load generator on 127.0.0.1 that answers 204 at once; compared with the run without. The deliveries are followed until every routed message's event has arrived: events/s is the events received once each divided by the time from the first receipt to the last, and commit-to-receipt is the receipt time minus the event's timestamp (taken in the change's transaction just before its commit). Then the delivery rate: for the run's duration, one POST /v1/transactions/batch of 100 messages every 40 ms, each sent on time by its own goroutine (2,500 messages/s offered), and the events/s the receiver got them at (first receipt to last) with their commit-to-receipt times.
- **Batch ingest**: %[6]d workers POST /v1/transactions/batch with 100, then 1,000, such messages per request; messages/s counts the items answered 201. Baseline: pgbench, %[7]d clients, the same rows %[8]d per commit in one INSERT … SELECT that looks each row's card up (batch.sql).
- **Card enrolment**: %[9]d workers POST /v1/subaccounts/{id}/cards, each with a new generated number, cycling through the %[10]d subaccounts; enrolments/s counts 201 answers. Baseline: pgbench, %[11]d clients, one card per commit: share-lock the live subaccount, insert the card with a unique fingerprint (enrol.sql).
- **Compliance report**: a second account with the same contract, a tenant client, and %[12]d subaccounts permitting USA and CAN on both networks are created through the API (so their entitlement rows are the service's own); %[13]s active cards are then inserted into them with one INSERT … SELECT FROM generate_series, 1%% of them issued in GBR (outside their subaccount's configuration), followed by VACUUM ANALYZE cards. GET /v1/compliance with that account's token is timed %[14]d times in a row at the client. Baseline: the report's main query (active cards grouped by subaccount and pair, anti-joined with the entitlement rows, as internal/store/compliance.go runs it) run directly through pgx %[15]d times.
`
