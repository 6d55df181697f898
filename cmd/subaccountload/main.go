// Command subaccountload measures subaccountd under load on PostgreSQL. Every figure is
// measured next to a baseline taken in the same run against the same database and the
// same tables: pgbench doing the same database work per message, or the report's query
// run directly. It prints one table and records the run in BENCHMARKS.md.
//
// It creates a database of its own (bench_<unixtime>), builds and starts the server
// against it on 127.0.0.1:0, and always stops the server and drops the database when it
// ends, also on error or interrupt. Card numbers are generated in memory and sent to the
// server only: none is printed or written anywhere.
//
// Each server gets a METRICS_ADDR of its own, and the run asks it for a CPU profile of
// every measured window; the profiles of a recorded run replace the previous run's in
// cmd/subaccountload/profiles (see -profiles). A server without the endpoint costs the
// run its profiles, never the run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "subaccountload:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	databaseURL string
	out         string
	goBench     string
	cards       int
	subaccounts int
	setupCards  int
	history     int
	pgbench     string
	serverLog   string
	profileDir  string
}

// The concurrency of each run is fixed by the issue that asks for these figures.
const (
	ingestWorkers  = 32  // HTTP connections of the single-message ingest and enrolment runs
	batchWorkers   = 4   // HTTP connections of the batch ingest runs
	pgbenchClients = 16  // pgbench clients of the single-commit baselines
	pgbenchThreads = 2   // pgbench -j
	batchRows      = 100 // rows per pgbench batch commit
	benchSubs      = 10  // subaccounts of the ingest account
	reportRepeats  = 5   // timed compliance reports
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("subaccountload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each run")
	fs.StringVar(&o.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"PostgreSQL server to use: a database bench_<unixtime> is created on it and dropped at the end")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "file the run is recorded in (empty: print only)")
	fs.StringVar(&o.goBench, "gobench", "", "file holding the output of the Go benchmarks, copied into -out")
	fs.IntVar(&o.cards, "cards", 1_000_000, "cards of the compliance report's account")
	fs.IntVar(&o.subaccounts, "compliance-subaccounts", 100, "subaccounts of the compliance report's account")
	fs.IntVar(&o.setupCards, "setup-cards", 2000, "cards enrolled through the API for the ingest runs")
	fs.IntVar(&o.history, "history", 100_000, "earlier transactions the ingest account holds before the runs (inserted with SQL)")
	fs.StringVar(&o.pgbench, "pgbench", "pgbench", "pgbench executable")
	fs.StringVar(&o.serverLog, "server-log", "", "file the server's stderr is written to (default: a temporary file, removed at the end)")
	fs.StringVar(&o.profileDir, "profiles", "", "directory the load runs' CPU profiles are written to, replacing every *.pprof file there "+
		"(default: cmd/subaccountload/profiles in the module when -out is the module's BENCHMARKS.md, <out>-profiles beside any other -out, none kept without -out)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.duration < time.Second:
		return o, errors.New("-duration must be at least 1s (pgbench counts whole seconds)")
	case o.warmup < 0:
		return o, errors.New("-warmup must not be negative")
	case o.cards < o.subaccounts || o.subaccounts < 1:
		return o, errors.New("-cards must be at least -compliance-subaccounts, which must be positive")
	case o.subaccounts > 200:
		return o, errors.New("-compliance-subaccounts must be at most 200 (the account's maxSubaccounts)")
	case o.history < 0:
		return o, errors.New("-history must not be negative")
	case o.setupCards < benchSubs || o.setupCards > benchSubs*500:
		return o, fmt.Errorf("-setup-cards must be from %d to %d", benchSubs, benchSubs*500)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}

	tmp, err := os.MkdirTemp("", "subaccountload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	machine := describeMachine(ctx)
	db, err := createDatabase(ctx, o.databaseURL, logf)
	if err != nil {
		return err
	}
	defer db.drop(logf)
	machine.postgres, err = describePostgres(ctx, db.url)
	if err != nil {
		return err
	}

	bin, err := buildServer(ctx, tmp, logf)
	if err != nil {
		return err
	}
	logPath := o.serverLog
	if logPath == "" {
		logPath = filepath.Join(tmp, "subaccountd.stderr")
	}
	srv, err := startServer(ctx, bin, serverEnv(os.Environ(), db.url, filepath.Join(tmp, "data")), logPath, logf)
	if err != nil {
		return err
	}
	defer func() {
		srv.stop(logf)
		if err != nil && ctx.Err() == nil {
			srv.printLogTail(stderr, 40)
		}
	}()

	b, err := newBench(ctx, o, tmp, bin, db.url, srv, logf)
	if err != nil {
		return err
	}
	defer b.close()
	res, err := b.runAll(ctx)
	if err != nil {
		return err
	}
	res.serverLog = srv.logSummary()
	res.machine = machine
	res.started = start
	res.opts = o
	if o.goBench != "" {
		gb, err := os.ReadFile(o.goBench)
		if err != nil {
			return fmt.Errorf("read -gobench: %w", err)
		}
		res.goBench = filterGoBench(string(gb))
	}

	profileDir, err := o.keptProfileDir(ctx)
	if err != nil {
		return err
	}
	if profileDir != "" {
		if err := keepProfiles(profileDir, res.profiles); err != nil {
			return fmt.Errorf("keep the profiles in %s: %w", profileDir, err)
		}
		logf("%d CPU profiles kept in %s (the previous run's removed)", kept(res.profiles), profileDir)
	}
	res.profileLinks = profileLinkBase(o.out, profileDir)

	table := res.table()
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, table.render())
	fmt.Fprintln(stdout)
	fmt.Fprint(stdout, res.notes())
	fmt.Fprint(stdout, res.profileBrief())
	if o.out != "" {
		old, err := os.ReadFile(o.out)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(o.out, []byte(mergeBenchmarks(string(old), res.markdown(table))), 0o644); err != nil {
			return err
		}
		logf("recorded in %s", o.out)
	}
	return nil
}

// keptProfileDir is where the run's profiles are kept: -profiles; when the run is
// recorded in the module's own file (-out at the module's top, as make bench does), the
// module's cmd/subaccountload/profiles, since the repository's top level stays as it is;
// when it is recorded elsewhere, <out without extension>-profiles beside it, so a trial
// run does not replace the profiles the module's BENCHMARKS.md links to. Without -out
// none are kept.
func (o options) keptProfileDir(ctx context.Context) (string, error) {
	if o.profileDir != "" || o.out == "" {
		return o.profileDir, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	out, err := filepath.Abs(o.out)
	if err != nil {
		return "", err
	}
	if filepath.Dir(out) == root {
		return filepath.Join(root, "cmd", "subaccountload", "profiles"), nil
	}
	return strings.TrimSuffix(out, filepath.Ext(out)) + "-profiles", nil
}

// profileLinkBase is the profile directory as BENCHMARKS.md (out) links to it: relative
// to out's directory, with slashes. It is empty when the profiles are not kept.
func profileLinkBase(out, dir string) string {
	if out == "" || dir == "" {
		return ""
	}
	absOut, err1 := filepath.Abs(out)
	absDir, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return filepath.ToSlash(dir)
	}
	rel, err := filepath.Rel(filepath.Dir(absOut), absDir)
	if err != nil {
		return filepath.ToSlash(absDir)
	}
	return filepath.ToSlash(rel)
}
