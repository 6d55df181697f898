package main

import (
	"regexp"
	"strings"
)

// BENCHMARKS.md holds the newest run between two markers, then a History section with
// the earlier runs, newest first. A new run replaces the newest one, which moves to the
// top of History with its headings one level down; whatever History held is kept as it
// is, including anything written there by hand.
const (
	benchmarksHeader = `# Benchmarks

` + "`make bench`" + ` runs the Go benchmarks and then ` + "`go run ./cmd/subaccountload`" + `, which starts the
service on a fresh PostgreSQL database, measures it under load next to baselines taken in
the same run against the same tables, and records the run here: the newest run first,
earlier ones under History. Nothing in ` + "`make test`" + ` asserts on time.
`
	runBegin     = "<!-- subaccountload: newest run begins -->"
	runEnd       = "<!-- subaccountload: newest run ends -->"
	historyIntro = "Earlier runs, newest first."
)

var (
	historyHeading = regexp.MustCompile(`(?m)^## History[ \t]*$`)
	titleLine      = regexp.MustCompile(`(?m)\A\s*# [^\n]*\n`)
	// profileLink is a link to a CPU profile file, which only the newest run keeps.
	profileLink = regexp.MustCompile(`\[([^\]\n]+)\]\(([^)\s]+\.pprof)\)`)
)

// mergeBenchmarks returns the new BENCHMARKS.md: run as the newest run, and old's runs
// and history below it.
func mergeBenchmarks(old, run string) string {
	var prev, history string
	if loc := historyHeading.FindStringIndex(old); loc != nil {
		history = old[loc[1]:]
		old = old[:loc[0]]
	}
	if i := strings.Index(old, runBegin); i >= 0 {
		if j := strings.Index(old, runEnd); j > i {
			// Anything added by hand after the run stays with it.
			prev = old[i+len(runBegin):j] + "\n" + old[j+len(runEnd):]
		}
	} else {
		// A file we did not write: keep what it says (but its title) as a history entry.
		prev = titleLine.ReplaceAllString(old, "")
	}
	prev = strings.TrimSpace(prev)
	history = strings.TrimSpace(history)
	history = strings.TrimSpace(strings.TrimPrefix(history, historyIntro))

	var sb strings.Builder
	sb.WriteString(benchmarksHeader)
	sb.WriteString("\n" + runBegin + "\n")
	sb.WriteString(strings.TrimSpace(run))
	sb.WriteString("\n" + runEnd + "\n\n## History\n\n" + historyIntro + "\n")
	if prev != "" {
		sb.WriteString("\n" + unlinkProfiles(demoteHeadings(prev)) + "\n")
	}
	if history != "" {
		sb.WriteString("\n" + history + "\n")
	}
	return sb.String()
}

// demoteHeadings moves every Markdown heading of s one level down, leaving code blocks
// alone.
func demoteHeadings(s string) string {
	lines := strings.Split(s, "\n")
	fenced := false
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if !fenced && strings.HasPrefix(l, "#") && strings.HasPrefix(strings.TrimLeft(l, "#"), " ") {
			lines[i] = "#" + l
		}
	}
	return strings.Join(lines, "\n")
}

// unlinkProfiles turns the links to profile files of a run moving to History into
// plain names: the next run's files of the same names replace them, and a link would
// show that run's profile under this one's figures.
func unlinkProfiles(s string) string {
	return profileLink.ReplaceAllString(s, "`$1` (not kept)")
}
