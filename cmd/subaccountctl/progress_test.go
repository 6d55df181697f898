package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

// TestProgressNonTerminal checks the plain mode used for files and pipes: one full line
// per step with done/total, percent and rate, and no carriage return.
func TestProgressNonTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "enrolling", "cards", 1200)
	if p.tty {
		t.Fatal("a bytes.Buffer is not a terminal")
	}
	p.now = fakeClock(time.Second)
	p.start = p.now() // t=1s; each later reading is one second on
	p.add(500)        // read at t=2s: 500 in 1 s
	p.add(500)        // t=3s: 1000 in 2 s
	p.add(200)        // t=4s: 1200 in 3 s
	p.finish()
	want := "enrolling 500/1200 cards (41%) 500.0 cards/s\n" +
		"enrolling 1000/1200 cards (83%) 500.0 cards/s\n" +
		"enrolling 1200/1200 cards (100%) 400.0 cards/s\n"
	if b.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}

// TestProgressTerminal checks the terminal mode: a bar redrawn in place with "\r",
// padded over a longer previous line, and a newline at the end.
func TestProgressTerminal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "enrolling", "cards", 10)
	p.tty = true
	p.now = fakeClock(time.Second)
	p.start = p.now()
	p.add(5)
	first := b.String()
	if !strings.HasPrefix(first, "\renrolling [###############...............] 5/10 cards (50%) 5.0 cards/s") || strings.Contains(first, "\n") {
		t.Errorf("first draw %q", first)
	}
	p.add(5)
	p.finish()
	out := b.String()
	if strings.Count(out, "\r") != 2 || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "[##############################] 10/10 cards (100%)") {
		t.Errorf("terminal output %q", out)
	}
}

// TestIsTerminal: pipes and buffers are not terminals (a terminal is not available
// under go test, so the positive case is covered by the forced mode above).
func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(r) || isTerminal(&bytes.Buffer{}) || isTerminal(strings.NewReader("")) {
		t.Error("a pipe or buffer was taken for a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Error("a regular file was taken for a terminal")
	}
}
