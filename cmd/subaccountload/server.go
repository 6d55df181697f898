package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// database is the run's own database on the PostgreSQL server.
type database struct {
	adminURL string
	url      string
	name     string
}

func createDatabase(ctx context.Context, adminURL string, logf func(string, ...any)) (*database, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", redactURL(adminURL), err)
	}
	defer conn.Close(context.Background())
	name := fmt.Sprintf("bench_%d", time.Now().Unix())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + name
	logf("created database %s", name)
	return &database{adminURL: adminURL, url: u.String(), name: name}, nil
}

// drop removes the database even when the run was interrupted, so it works under a
// context of its own.
func (d *database) drop(logf func(string, ...any)) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.adminURL)
	if err != nil {
		logf("could not drop database %s: %v", d.name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		logf("could not drop database %s: %v", d.name, err)
		return
	}
	logf("dropped database %s", d.name)
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// The operator credentials of the run's server. The server is reachable on loopback
// only and lives as long as the run.
const (
	adminClientID     = "bench-operator"
	adminClientSecret = "bench-operator-secret-0123456789"
)

// server is a subaccountd process built from this checkout.
type server struct {
	cmd     *exec.Cmd
	base    string
	logPath string
	exited  chan struct{}
	waitErr error
	env     []string
	// metricsAddr is the METRICS_ADDR it was started with: where its pprof handler
	// answers, on builds that have the listener.
	metricsAddr string
}

// moduleRoot is the directory of the go.mod that the go command sees from here.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run subaccountload inside the module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// serverEnv is the environment of the server: ours, without anything that would point
// it elsewhere, plus the run's settings.
func serverEnv(base []string, dbURL, dataDir string) []string {
	drop := []string{"LISTEN_ADDR=", "PUBLIC_URL=", "DATABASE_URL=", "DATA_DIR=", "OIDC_ISSUER_URL=",
		"OIDC_AUDIENCE=", "AUTH_ACCOUNT_CLAIM=", "ADMIN_CLIENT_ID=", "ADMIN_CLIENT_SECRET=",
		"MASTER_KEY=", "MASTER_KEY_FILE=", "MASTER_KEY_VERSION=", "CARD_FINGERPRINT_KEY=", "CARD_FINGERPRINT_KEY_VERSION=",
		"CLIENT_RATE_LIMIT=", "TOKEN_FAILURE_LIMIT=", "REDIS_URL=",
		"WEBHOOK_ALLOW_PRIVATE_NETWORKS=", "EVENTS_NATS_URL=", "DATABASE_MAX_CONNS=", "METRICS_ADDR="}
	env := make([]string, 0, len(base)+8)
	for _, kv := range base {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return append(env,
		"LISTEN_ADDR=127.0.0.1:0",
		"DATABASE_URL="+dbURL,
		"DATA_DIR="+dataDir,
		"ADMIN_CLIENT_ID="+adminClientID,
		"ADMIN_CLIENT_SECRET="+adminClientSecret,
		// The bench database is created for the run, so a key of the run's own will do.
		"MASTER_KEY="+newMasterKey(),
		// A load run measures the service, not its rate limits.
		"CLIENT_RATE_LIMIT=0",
		"TOKEN_FAILURE_LIMIT=0",
		// The webhook run's receiver listens on 127.0.0.1.
		"WEBHOOK_ALLOW_PRIVATE_NETWORKS=true",
	)
}

var listeningLine = regexp.MustCompile(`subaccountd listening on (http://\S+)`)

// buildServer builds subaccountd from this checkout into tmp.
func buildServer(ctx context.Context, tmp string, logf func(string, ...any)) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(tmp, "subaccountd")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/subaccountd")
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	logf("building the server: go build -o %s ./cmd/subaccountd", bin)
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build the server: %w", err)
	}
	return bin, nil
}

// freeAddr returns a loopback address with a port nothing listened on a moment ago.
// The server's metrics listener cannot report a port it picked itself, so we pick one.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// startServer starts bin with env (serverEnv's), a METRICS_ADDR of its own added, and
// waits until it answers /healthz.
func startServer(ctx context.Context, bin string, env []string, logPath string, logf func(string, ...any)) (*server, error) {
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	s := &server{logPath: logPath, exited: make(chan struct{}), metricsAddr: metrics}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	s.env = env
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(slices.Clone(env), "METRICS_ADDR="+metrics)
	s.cmd.Stderr = logFile
	// Its own process group: a Ctrl-C in the terminal reaches us, and we stop the server.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the server: %w", err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	fail := func(err error) (*server, error) {
		s.stop(logf)
		s.printLogTail(os.Stderr, 40)
		return nil, err
	}
	select {
	case s.base = <-addr:
	case <-s.exited:
		return fail(fmt.Errorf("the server exited before listening: %v", s.waitErr))
	case <-time.After(2 * time.Minute):
		return fail(errors.New("the server did not report listening within 2 minutes"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if err := s.waitHealthy(ctx); err != nil {
		return fail(err)
	}
	logf("server listening on %s (pid %d, METRICS_ADDR %s), stderr in %s", s.base, s.cmd.Process.Pid, s.metricsAddr, s.logPath)
	return s, nil
}

func (s *server) waitHealthy(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET /healthz did not answer 200 within a minute (last error: %v)", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.exited:
			return fmt.Errorf("the server exited: %v", s.waitErr)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop asks the server to drain and stop, and kills it if it has not within 20 s.
func (s *server) stop(logf func(string, ...any)) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		logf("server stopped")
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		logf("server killed after 20 s without stopping")
	}
}

// alive reports an error when the server has exited.
func (s *server) alive() error {
	select {
	case <-s.exited:
		return fmt.Errorf("the server exited: %v", s.waitErr)
	default:
		return nil
	}
}

func (s *server) printLogTail(w io.Writer, n int) {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	fmt.Fprintf(w, "--- last %d lines of the server's stderr (%s) ---\n", len(lines), s.logPath)
	for _, l := range lines {
		fmt.Fprintln(w, redactDigits(l))
	}
	fmt.Fprintln(w, "---")
}

// logSummary counts the server's log lines by level and lists the distinct messages of
// warnings, errors and requests answered with a status of 400 or more.
func (s *server) logSummary() logSummary {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return logSummary{err: err}
	}
	return summarizeLog(data)
}

// logSummary is what the server wrote to stderr during the run.
type logSummary struct {
	lines    int
	byLevel  map[string]int
	problems map[string]*problemStat    // "LEVEL msg route (status N): error / sql" → lines
	routes   map[string][]time.Duration // "METHOD route" → durations of the load routes' requests
	err      error
}

// loadRoutes are the routes whose time inside the server the summary reports.
var loadRoutes = []string{
	"GET /healthz", "POST /v1/transactions", "POST /v1/transactions/batch",
	"POST /v1/subaccounts/:subaccountId/cards", "GET /v1/compliance",
}

// problemStat counts one kind of warning, error or failed request, and keeps the longest
// duration the slow-SQL lines gave.
type problemStat struct {
	count     int
	slowestMS float64
}

func summarizeLog(data []byte) logSummary {
	sum := logSummary{byLevel: map[string]int{}, problems: map[string]*problemStat{}, routes: map[string][]time.Duration{}}
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		sum.lines++
		var rec struct {
			Level      string  `json:"level"`
			Msg        string  `json:"msg"`
			Method     string  `json:"method"`
			Route      string  `json:"route"`
			Status     int     `json:"status"`
			DurationMS float64 `json:"duration_ms"`
			Error      string  `json:"error"`
			Trace      struct {
				Duration string `json:"duration"`
				SQL      string `json:"sql"`
			} `json:"trace"`
		}
		if json.Unmarshal(line, &rec) != nil {
			sum.byLevel["(not JSON)"]++
			continue
		}
		sum.byLevel[rec.Level]++
		if rec.Msg == "request" && slices.Contains(loadRoutes, rec.Method+" "+rec.Route) {
			sum.routes[rec.Method+" "+rec.Route] = append(sum.routes[rec.Method+" "+rec.Route], time.Duration(rec.DurationMS*float64(time.Millisecond)))
		}
		if rec.Level != "WARN" && rec.Level != "ERROR" && rec.Status < 400 {
			continue
		}
		key := rec.Level + " " + rec.Msg
		if rec.Route != "" {
			key += " " + rec.Route
		}
		if rec.Status != 0 {
			key += fmt.Sprintf(" (status %d)", rec.Status)
		}
		if rec.Error != "" {
			key += ": " + shorten(rec.Error, 160)
		}
		if rec.Trace.SQL != "" {
			key += ": " + shorten(strings.Join(strings.Fields(rec.Trace.SQL), " "), 160)
		}
		key = redactDigits(key)
		st := sum.problems[key]
		if st == nil {
			st = &problemStat{}
			sum.problems[key] = st
		}
		st.count++
		if ms, err := strconv.ParseFloat(strings.TrimSuffix(rec.Trace.Duration, "ms"), 64); err == nil {
			st.slowestMS = max(st.slowestMS, ms)
		}
	}
	return sum
}

var longDigits = regexp.MustCompile(`[0-9]{12,}`)

// redactDigits hides every run of 12 or more digits, so that nothing we print could be a
// card number, whatever a response or log line holds.
func redactDigits(s string) string { return longDigits.ReplaceAllString(s, "[digits]") }

// newMasterKey returns a random 32-byte master key, hex encoded.
func newMasterKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
