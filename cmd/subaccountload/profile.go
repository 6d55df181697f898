package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"
)

// topN is how many functions a profile's summary names, by flat and by cumulative CPU.
const topN = 10

// noEndpoint is the reason recorded when a server answers 404 or cannot be reached on
// its metrics address: a build without the pprof listener, which must not fail the run.
const noEndpoint = "the server has no pprof endpoint"

// errNoEndpoint is returned by fetchProfile for a 404 or an unreachable listener.
var errNoEndpoint = errors.New(noEndpoint)

// cpuProfile is the CPU profile of one load run's measured window: the servers' own
// profiles (merged when there are several replicas), or why there is none.
type cpuProfile struct {
	run     string // what was measured, as the table names it
	file    string // the file name, e.g. single-ingest.pprof
	path    string // where it is saved during the run; empty when there is none
	missing string // why there is none
	top     profileTop
}

// profileTop is what a CPU profile says in brief.
type profileTop struct {
	samples   int
	total     time.Duration // the CPU time the samples stand for
	flat, cum []profileEntry
}

// profileEntry is one function and its CPU in a profile: its share is of the profile's
// total.
type profileEntry struct {
	name  string
	cpu   time.Duration
	share float64
}

// profileCapture is a CPU profile being fetched from each of a run's servers.
type profileCapture struct {
	done []chan fetched
}

type fetched struct {
	data []byte
	err  error
}

// startProfiles asks each server for a CPU profile of seconds, starting at start (the
// measured window's beginning), and returns at once.
func startProfiles(ctx context.Context, servers []*server, start time.Time, seconds int) *profileCapture {
	pc := &profileCapture{}
	for _, s := range servers {
		ch := make(chan fetched, 1)
		pc.done = append(pc.done, ch)
		go func() {
			select {
			case <-time.After(time.Until(start)):
			case <-ctx.Done():
				ch <- fetched{err: ctx.Err()}
				return
			}
			data, err := fetchProfile(ctx, s.metricsAddr, seconds)
			ch <- fetched{data: data, err: err}
		}()
	}
	return pc
}

// profileSeconds is the length of the profile that covers a measured window: pprof
// takes whole seconds, so it is rounded up.
func profileSeconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// fetchProfile asks the net/http/pprof handler on addr for a CPU profile of seconds. A
// 404 or a listener that cannot be reached is errNoEndpoint.
func fetchProfile(ctx context.Context, addr string, seconds int) ([]byte, error) {
	if addr == "" {
		return nil, errNoEndpoint
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(seconds)*time.Second+30*time.Second)
	defer cancel()
	u := "http://" + addr + "/debug/pprof/profile?seconds=" + strconv.Itoa(seconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	// A client of its own: the load's connections stay the workers'.
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		var opErr *net.OpError
		if errors.As(err, &opErr) && opErr.Op == "dial" {
			return nil, errNoEndpoint
		}
		return nil, fmt.Errorf("GET /debug/pprof/profile: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, errNoEndpoint
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET /debug/pprof/profile answered %d: %s", resp.StatusCode, shorten(redactDigits(string(data)), 200))
	case err != nil:
		return nil, fmt.Errorf("GET /debug/pprof/profile: read the answer: %w", err)
	}
	return data, nil
}

// collect waits for the servers' profiles, merges them, and saves the result as a
// gzipped pprof file in dir. A run without a profile says why in missing; it is never an
// error, so a server without the endpoint does not fail the run.
func (pc *profileCapture) collect(dir, run, file string) cpuProfile {
	out := cpuProfile{run: run, file: file}
	var profiles []*profile.Profile
	for _, ch := range pc.done {
		f := <-ch
		if f.err != nil {
			out.missing = f.err.Error()
			continue
		}
		p, err := profile.ParseData(f.data)
		if err != nil {
			out.missing = "the endpoint's answer is not a profile: " + err.Error()
			continue
		}
		profiles = append(profiles, p)
	}
	if out.missing != "" {
		return out
	}
	p, err := profile.Merge(profiles)
	if err != nil {
		out.missing = "the replicas' profiles do not merge: " + err.Error()
		return out
	}
	if out.top, err = topEntries(p, topN); err != nil {
		out.missing = err.Error()
		return out
	}
	var buf bytes.Buffer
	if err := p.Write(&buf); err != nil { // gzipped, as pprof reads it
		out.missing = "could not encode the profile: " + err.Error()
		return out
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		out.missing = err.Error()
		return out
	}
	out.path = filepath.Join(dir, file)
	if err := os.WriteFile(out.path, buf.Bytes(), 0o644); err != nil {
		out.path, out.missing = "", err.Error()
	}
	return out
}

// topEntries returns the n functions with the most CPU in p by flat (the function's own
// code, the innermost frame of a sample) and by cumulative CPU (the function anywhere
// in a sample's stack, counted once per sample however often it recurses), as
// `go tool pprof -top` counts them: inlined functions are functions of their own.
func topEntries(p *profile.Profile, n int) (profileTop, error) {
	idx := slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == "cpu" })
	if idx < 0 {
		return profileTop{}, errors.New("the profile has no cpu sample type")
	}
	unit := time.Nanosecond
	if u := p.SampleType[idx].Unit; u != "nanoseconds" {
		return profileTop{}, fmt.Errorf("cpu samples in %q, want nanoseconds", u)
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	var total int64
	seen := map[string]bool{}
	for _, s := range p.Sample {
		v := s.Value[idx]
		total += v
		clear(seen)
		leaf := true
		for _, loc := range s.Location {
			for _, name := range frameNames(loc) {
				if leaf {
					flat[name] += v
					leaf = false
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	top := profileTop{samples: len(p.Sample), total: time.Duration(total) * unit}
	top.flat = largest(flat, total, n, unit)
	top.cum = largest(cum, total, n, unit)
	return top, nil
}

// frameNames are the functions of one location, innermost (inlined) first; a location
// without symbols is named by its address.
func frameNames(loc *profile.Location) []string {
	if len(loc.Line) == 0 {
		return []string{"0x" + strconv.FormatUint(loc.Address, 16)}
	}
	names := make([]string, 0, len(loc.Line))
	for _, ln := range loc.Line {
		if ln.Function == nil || ln.Function.Name == "" {
			names = append(names, "0x"+strconv.FormatUint(loc.Address, 16))
			continue
		}
		names = append(names, ln.Function.Name)
	}
	return names
}

// largest returns the n largest values of m with their shares of total, largest first
// (ties by name, so the order is stable).
func largest(m map[string]int64, total int64, n int, unit time.Duration) []profileEntry {
	out := make([]profileEntry, 0, len(m))
	for name, v := range m {
		share := 0.0
		if total > 0 {
			share = float64(v) / float64(total)
		}
		out = append(out, profileEntry{name: name, cpu: time.Duration(v) * unit, share: share})
	}
	slices.SortFunc(out, func(a, b profileEntry) int {
		return cmp.Or(cmp.Compare(b.cpu, a.cpu), strings.Compare(a.name, b.name))
	})
	return out[:min(n, len(out))]
}

// keepProfiles replaces the previous run's profiles in dir (every *.pprof file there)
// by this run's, so the directory holds the newest run's only.
func keepProfiles(dir string, profiles []cpuProfile) error {
	old, err := filepath.Glob(filepath.Join(dir, "*.pprof"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for i, p := range profiles {
		if p.path == "" {
			continue
		}
		data, err := os.ReadFile(p.path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		dst := filepath.Join(dir, p.file)
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return err
		}
		profiles[i].path = dst
	}
	return nil
}

// profileBrief is the profiles in a few lines, for the terminal: each run's three
// largest functions by flat CPU, or why it has no profile.
func (r *results) profileBrief() string {
	if len(r.profiles) == 0 {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("\nCPU profiles of the measured windows (top 3 by flat CPU):\n\n")
	for _, p := range r.profiles {
		if p.missing != "" {
			fmt.Fprintf(&sb, "- %s: no profile (%s)\n", p.run, p.missing)
			continue
		}
		var top []string
		for _, e := range p.top.flat[:min(3, len(p.top.flat))] {
			top = append(top, fmt.Sprintf("%s %.1f%%", e.name, 100*e.share))
		}
		fmt.Fprintf(&sb, "- %s (%s): %s\n", p.run, p.path, strings.Join(top, ", "))
	}
	return sb.String()
}

// profileMarkdown is the run's CPU profiles section of BENCHMARKS.md: each run's file
// (linked under links, the profile directory as the file sees it) and its topN
// functions by flat and by cumulative CPU, or why it has none.
func (r *results) profileMarkdown(links string) string {
	var sb strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&sb, format, a...) }
	p("### CPU profiles\n\n")
	p("Each server was asked for a CPU profile of every load run's measured window (`GET /debug/pprof/profile?seconds=%d` on its METRICS_ADDR, started as the window began; the three replicas' profiles are merged into one). Flat is CPU in the function's own code, cumulative includes what it called; shares are of the profile's samples. The files are gzipped pprof profiles (`go tool pprof -top <file>`), kept for the newest run only.\n\n",
		profileSeconds(r.opts.duration))
	if len(r.profiles) == 0 {
		p("No load run was profiled.\n\n")
		return sb.String()
	}
	for _, pr := range r.profiles {
		if pr.missing != "" {
			p("- %s: no profile (%s).\n", pr.run, pr.missing)
		}
	}
	if slices.ContainsFunc(r.profiles, func(pr cpuProfile) bool { return pr.missing != "" }) {
		p("\n")
	}
	for _, pr := range r.profiles {
		if pr.missing != "" {
			continue
		}
		p("#### %s\n\n", pr.run)
		file := "`" + pr.file + "`"
		if links != "" {
			file = "[" + pr.file + "](" + links + "/" + pr.file + ")"
		}
		p("%s: %s samples, %s of CPU.\n\n", file, fmtRate(float64(pr.top.samples)), fmtDur(pr.top.total))
		t := tableData{header: []string{"#", "by flat CPU", "flat", "by cumulative CPU", "cum"}}
		for i := range max(len(pr.top.flat), len(pr.top.cum)) {
			row := []string{strconv.Itoa(i + 1), "", "", "", ""}
			if i < len(pr.top.flat) {
				e := pr.top.flat[i]
				row[1], row[2] = "`"+e.name+"`", fmt.Sprintf("%.1f %%", 100*e.share)
			}
			if i < len(pr.top.cum) {
				e := pr.top.cum[i]
				row[3], row[4] = "`"+e.name+"`", fmt.Sprintf("%.1f %%", 100*e.share)
			}
			t.rows = append(t.rows, row)
		}
		sb.WriteString(t.render())
		p("\n")
	}
	return sb.String()
}

// kept counts the profiles that were saved.
func kept(profiles []cpuProfile) int {
	n := 0
	for _, p := range profiles {
		if p.path != "" {
			n++
		}
	}
	return n
}
