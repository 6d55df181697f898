package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// progress reports how far a long batch command is, on stderr. On a terminal it is one
// line redrawn in place with "\r"; anywhere else (a log file, CI) it writes one line per
// step, because carriage returns make a mess of files.
type progress struct {
	w     io.Writer
	tty   bool
	label string
	unit  string
	total int
	done  int
	start time.Time
	now   func() time.Time
	// width is the length of the last line drawn on a terminal, to blank it fully when
	// the next one is shorter.
	width int
}

// barWidth is the number of cells in the terminal bar.
const barWidth = 30

// newProgress starts a progress report of total units on w.
func newProgress(w io.Writer, label, unit string, total int) *progress {
	p := &progress{w: w, tty: isTerminal(w), label: label, unit: unit, total: total, now: time.Now}
	p.start = p.now()
	return p
}

// isTerminal reports whether w (a reader or writer) is a character device, a terminal,
// rather than a file or pipe.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// add records n more units done and redraws.
func (p *progress) add(n int) {
	p.done += n
	line := p.line()
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if len(line) < p.width {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	p.width = len(line)
	fmt.Fprint(p.w, "\r"+line+pad)
}

// finish ends the terminal line so that later output starts on a fresh one.
func (p *progress) finish() {
	if p.tty && p.width > 0 {
		fmt.Fprintln(p.w)
		p.width = 0
	}
}

// line is the current state: label, bar (terminal only), done/total, percent and rate.
func (p *progress) line() string {
	pct := 100
	if p.total > 0 {
		pct = p.done * 100 / p.total
	}
	var b strings.Builder
	b.WriteString(p.label)
	if p.tty {
		fill := barWidth
		if p.total > 0 {
			fill = p.done * barWidth / p.total
		}
		b.WriteString(" [" + strings.Repeat("#", fill) + strings.Repeat(".", barWidth-fill) + "]")
	}
	fmt.Fprintf(&b, " %d/%d %s (%d%%)", p.done, p.total, p.unit, pct)
	if elapsed := p.now().Sub(p.start).Seconds(); elapsed > 0 {
		fmt.Fprintf(&b, " %.1f %s/s", float64(p.done)/elapsed, p.unit)
	}
	return b.String()
}
