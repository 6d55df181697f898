package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	httppprof "net/http/pprof"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// spin burns CPU in its own frame, so a profile of it names it.
//
//go:noinline
func spin(until time.Time) uint64 {
	var x uint64 = 1
	for time.Now().Before(until) {
		for i := range 10_000 {
			x = x*6364136223846793005 + uint64(i)
		}
	}
	return x
}

// Not parallel: a process has one CPU profile at a time, and TestFetchProfile takes one
// through net/http/pprof.
func TestTopEntriesOfARecordedProfile(t *testing.T) {
	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		t.Skipf("cannot profile (is -cpuprofile set?): %v", err)
	}
	_ = spin(time.Now().Add(600 * time.Millisecond))
	pprof.StopCPUProfile()
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	top, err := topEntries(p, topN)
	if err != nil {
		t.Fatal(err)
	}
	if top.samples == 0 || top.total <= 0 {
		t.Fatalf("%d samples, %v in total: the busy work was not sampled", top.samples, top.total)
	}
	const busy = "github.com/cardseg/subaccounts/cmd/subaccountload.spin"
	for name, list := range map[string][]profileEntry{"flat": top.flat, "cum": top.cum} {
		if len(list) == 0 || len(list) > topN {
			t.Errorf("%s: %d entries, want 1 to %d", name, len(list), topN)
		}
		names := make([]string, len(list))
		for i, e := range list {
			names[i] = e.name
			if e.share < 0 || e.share > 1 || e.cpu > top.total {
				t.Errorf("%s: %s has share %v and %v of %v", name, e.name, e.share, e.cpu, top.total)
			}
		}
		if !slices.Contains(names, busy) {
			t.Errorf("%s top %q lacks %s", name, names, busy)
		}
		if !slices.IsSortedFunc(list, func(a, b profileEntry) int { return int(b.cpu - a.cpu) }) {
			t.Errorf("%s entries are not largest first: %v", name, list)
		}
	}
	var sum float64
	for _, e := range top.flat {
		sum += e.share
	}
	if sum > 1+1e-9 {
		t.Errorf("flat shares sum to %.3f, more than the whole profile", sum)
	}
	// spin is most of the process's CPU while it ran, and it is the busy frame itself.
	if top.flat[0].name != busy || top.flat[0].share < 0.5 {
		t.Errorf("largest flat entry %s at %.0f%%, want %s at 50%% or more", top.flat[0].name, 100*top.flat[0].share, busy)
	}
}

// TestTopEntriesCounts holds the counting rules to a profile built by hand: the leaf of
// a sample (its innermost inlined frame) gets the flat time, every function in the
// stack the cumulative time once per sample, recursion included.
func TestTopEntriesCounts(t *testing.T) {
	t.Parallel()
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	leaf, inlined, caller, main := fn(1, "leaf"), fn(2, "inlined"), fn(3, "caller"), fn(4, "main")
	loc := func(id uint64, fns ...*profile.Function) *profile.Location {
		l := &profile.Location{ID: id, Address: 0x1000 + id}
		for _, f := range fns {
			l.Line = append(l.Line, profile.Line{Function: f})
		}
		return l
	}
	lLeaf, lInl, lCaller, lMain, lBare := loc(1, leaf), loc(2, inlined, caller), loc(3, caller), loc(4, main), loc(5)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lLeaf, lCaller, lMain}, Value: []int64{6, 60e6}},
			// inlined into caller: inlined is the leaf; caller recursing counts once.
			{Location: []*profile.Location{lInl, lCaller, lMain}, Value: []int64{3, 30e6}},
			{Location: []*profile.Location{lBare, lMain}, Value: []int64{1, 10e6}},
		},
		Function: []*profile.Function{leaf, inlined, caller, main},
		Location: []*profile.Location{lLeaf, lInl, lCaller, lMain, lBare},
	}
	top, err := topEntries(p, 3)
	if err != nil {
		t.Fatal(err)
	}
	type e struct {
		name string
		ms   int
		pct  int
	}
	conv := func(list []profileEntry) []e {
		var out []e
		for _, x := range list {
			out = append(out, e{x.name, int(x.cpu / time.Millisecond), int(x.share*100 + 0.5)})
		}
		return out
	}
	if got, want := conv(top.flat), []e{{"leaf", 60, 60}, {"inlined", 30, 30}, {"0x1005", 10, 10}}; !slices.Equal(got, want) {
		t.Errorf("flat = %v, want %v", got, want)
	}
	if got, want := conv(top.cum), []e{{"main", 100, 100}, {"caller", 90, 90}, {"leaf", 60, 60}}; !slices.Equal(got, want) {
		t.Errorf("cum = %v, want %v (top 3)", got, want)
	}
	if top.samples != 3 || top.total != 100*time.Millisecond {
		t.Errorf("samples %d, total %v; want 3, 100ms", top.samples, top.total)
	}

	heap := &profile.Profile{SampleType: []*profile.ValueType{{Type: "alloc_space", Unit: "bytes"}}}
	if _, err := topEntries(heap, 3); err == nil {
		t.Error("a heap profile: no error")
	}
}

// TestFetchProfile fetches from the real net/http/pprof handler, as the server's
// metrics listener serves it, and from servers without it.
func TestFetchProfile(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	withPprof := httptest.NewServer(mux)
	defer withPprof.Close()
	without := httptest.NewServer(http.NotFoundHandler())
	defer without.Close()
	closed := freeTestAddr(t)
	dir := t.TempDir()

	srv := &server{metricsAddr: strings.TrimPrefix(withPprof.URL, "http://")}
	stop := time.Now().Add(1500 * time.Millisecond)
	go spin(stop)
	got := startProfiles(context.Background(), []*server{srv}, time.Now(), 1).collect(dir, "a run", "a-run.pprof")
	if got.missing != "" || got.path != filepath.Join(dir, "a-run.pprof") {
		t.Fatalf("profile missing (%q) or at %q", got.missing, got.path)
	}
	f, err := os.Open(got.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := profile.Parse(f); err != nil {
		t.Errorf("the saved file is not a pprof profile: %v", err)
	}

	// Two replicas, one of them without the endpoint: the run has no profile, and says why.
	for name, addrs := range map[string][]string{
		"404":             {strings.TrimPrefix(without.URL, "http://")},
		"nothing listens": {closed},
		"no address":      {""},
	} {
		var servers []*server
		for _, a := range addrs {
			servers = append(servers, &server{metricsAddr: a})
		}
		got := startProfiles(context.Background(), servers, time.Now(), 1).collect(dir, name, "x.pprof")
		if got.missing != noEndpoint || got.path != "" {
			t.Errorf("%s: missing %q, path %q; want %q and no file", name, got.missing, got.path, noEndpoint)
		}
	}
}

func freeTestAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestProfileSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{time.Second: 1, 10 * time.Second: 10, 2500 * time.Millisecond: 3} {
		if got := profileSeconds(d); got != want {
			t.Errorf("profileSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestKeepProfiles(t *testing.T) {
	t.Parallel()
	dir, tmp := t.TempDir(), t.TempDir()
	for _, f := range []string{"old-run.pprof", "single-ingest.pprof", "README"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src := filepath.Join(tmp, "single-ingest.pprof")
	if err := os.WriteFile(src, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	profiles := []cpuProfile{{file: "single-ingest.pprof", path: src}, {file: "healthz.pprof", missing: noEndpoint}}
	if err := keepProfiles(dir, profiles); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"README", "single-ingest.pprof"}; !slices.Equal(names, want) {
		t.Errorf("directory holds %q, want %q (the previous run's profiles gone, other files kept)", names, want)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "single-ingest.pprof")); string(data) != "new" {
		t.Errorf("single-ingest.pprof holds %q, want this run's", data)
	}
	if profiles[0].path != filepath.Join(dir, "single-ingest.pprof") {
		t.Errorf("the kept profile's path is %q", profiles[0].path)
	}
}

func TestProfileMarkdown(t *testing.T) {
	t.Parallel()
	r := &results{opts: options{duration: 10 * time.Second}, profiles: []cpuProfile{
		{run: "GET /healthz (the floor)", file: "healthz.pprof", missing: noEndpoint},
		{run: "single-message ingest", file: "single-ingest.pprof", path: "/x/single-ingest.pprof", top: profileTop{
			samples: 1234, total: 12 * time.Second,
			flat: []profileEntry{{"runtime.memmove", time.Second, 0.083}, {"syscall.Syscall", time.Second / 2, 0.042}},
			cum:  []profileEntry{{"runtime.goexit", 12 * time.Second, 1}},
		}},
	}}
	md := r.profileMarkdown("cmd/subaccountload/profiles")
	for _, want := range []string{
		"?seconds=10",
		"- GET /healthz (the floor): no profile (the server has no pprof endpoint).",
		"#### single-message ingest",
		"[single-ingest.pprof](cmd/subaccountload/profiles/single-ingest.pprof): 1,234 samples, 12.000 s of CPU.",
		"| 1 | `runtime.memmove` | 8.3 % | `runtime.goexit`  | 100.0 % |",
		"| 2 | `syscall.Syscall` | 4.2 % |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("profile section lacks %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "#### GET /healthz") {
		t.Errorf("a run without a profile has a heading:\n%s", md)
	}
	if md := r.profileMarkdown(""); !strings.Contains(md, "`single-ingest.pprof`: 1,234 samples") {
		t.Errorf("without kept files the name is not plain:\n%s", md)
	}
	brief := r.profileBrief()
	if !strings.Contains(brief, "no profile (the server has no pprof endpoint)") || !strings.Contains(brief, "runtime.memmove 8.3%, syscall.Syscall 4.2%") {
		t.Errorf("brief:\n%s", brief)
	}
}

func TestProfileLinkBase(t *testing.T) {
	t.Parallel()
	tests := []struct{ out, dir, want string }{
		{"/repo/BENCHMARKS.md", "/repo/cmd/subaccountload/profiles", "cmd/subaccountload/profiles"},
		{"/tmp/b.md", "/repo/cmd/subaccountload/profiles", "../repo/cmd/subaccountload/profiles"},
		{"", "/repo/cmd/subaccountload/profiles", ""},
		{"/repo/BENCHMARKS.md", "", ""},
	}
	for _, tt := range tests {
		if got := profileLinkBase(tt.out, tt.dir); got != tt.want {
			t.Errorf("profileLinkBase(%q, %q) = %q, want %q", tt.out, tt.dir, got, tt.want)
		}
	}
}

func TestMergeBenchmarksUnlinksOldProfiles(t *testing.T) {
	t.Parallel()
	run := "## Run of day %s\n\n[single-ingest.pprof](cmd/subaccountload/profiles/single-ingest.pprof): 5 samples; see [the README](README.md).\n"
	first := mergeBenchmarks("", strings.ReplaceAll(run, "%s", "1"))
	second := mergeBenchmarks(first, strings.ReplaceAll(run, "%s", "2"))
	newest := second[strings.Index(second, runBegin):strings.Index(second, runEnd)]
	history := second[strings.Index(second, "## History"):]
	if !strings.Contains(newest, "[single-ingest.pprof](cmd/subaccountload/profiles/single-ingest.pprof)") {
		t.Errorf("the newest run lost its link:\n%s", newest)
	}
	if strings.Contains(history, "](cmd/subaccountload/profiles/") || !strings.Contains(history, "`single-ingest.pprof` (not kept): 5 samples") {
		t.Errorf("history still links the replaced profile:\n%s", history)
	}
	if !strings.Contains(history, "[the README](README.md)") {
		t.Errorf("history lost a link that is not a profile:\n%s", history)
	}
}

func TestKeptProfileDir(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot(context.Background())
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	tests := []struct {
		name string
		o    options
		want string
	}{
		{"make bench", options{out: filepath.Join(root, "BENCHMARKS.md")}, filepath.Join(root, "cmd", "subaccountload", "profiles")},
		{"a trial run elsewhere", options{out: "/tmp/trial.md"}, "/tmp/trial-profiles"},
		{"printed only", options{}, ""},
		{"chosen", options{out: "/tmp/trial.md", profileDir: "/somewhere"}, "/somewhere"},
	}
	for _, tt := range tests {
		got, err := tt.o.keptProfileDir(context.Background())
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}
