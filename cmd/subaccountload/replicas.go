package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// replicaCount is the number of servers of the replicas run, the main one included.
const replicaCount = 3

// replicaResult is single-message ingest spread over replicaCount servers on the run's
// one database.
type replicaResult struct {
	service loadResult
	// maxConns is each replica's DATABASE_MAX_CONNS (the default), maxConnections the
	// PostgreSQL server's max_connections, and others the client connections open on it
	// to other databases (other work on the machine) when the replicas started.
	maxConns, maxConnections, others int
	// logs is what the extra replicas wrote to stderr, summarised together.
	logs logSummary
}

// defaultMaxConns is subaccountd's default DATABASE_MAX_CONNS, which every server of
// the run keeps (serverEnv drops the variable from ours).
const defaultMaxConns = 32

// runReplicas starts replicaCount-1 more servers on the run's database with the main
// server's environment (its master key, so one key ring; its PUBLIC_URL, so the tokens
// the main server issued verify everywhere), drives single-message ingest with the
// ingest run's workers spread round robin over the three, and stops the extra ones.
func (b *bench) runReplicas(ctx context.Context, res *results) error {
	rr := replicaResult{maxConns: defaultMaxConns}
	err := b.db.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname IS DISTINCT FROM current_database())::int`).Scan(&rr.maxConnections, &rr.others)
	if err != nil {
		return fmt.Errorf("max_connections: %w", err)
	}
	// The pools open connections on demand, so 3 × 32 is a ceiling the run need not
	// reach; it should still fit beside our own connection and the other databases', or a
	// busy moment could be refused connections mid-run.
	if need := replicaCount*rr.maxConns + 1 + rr.others; need > rr.maxConnections {
		b.logf("  warning: %d replicas × DATABASE_MAX_CONNS %d, our connection and the %d to other databases exceed max_connections %d",
			replicaCount, rr.maxConns, rr.others, rr.maxConnections)
	}
	servers := []*server{b.srv}
	defer func() {
		for _, s := range servers[1:] {
			s.stop(b.logf)
		}
		rr.logs = summarizeLogs(servers[1:])
		res.replicas = rr
	}()
	for i := 2; i <= replicaCount; i++ {
		env := append(replaceEnv(b.srv.env, "DATA_DIR", filepath.Join(b.tmp, "data-"+strconv.Itoa(i))), "PUBLIC_URL="+b.srv.base)
		s, err := startServer(ctx, b.bin, env, filepath.Join(b.tmp, "subaccountd-"+strconv.Itoa(i)+".stderr"), b.logf)
		if err != nil {
			return fmt.Errorf("replica %d: %w", i, err)
		}
		servers = append(servers, s)
		// The ingest token must verify on the replica, or every request would be 401.
		api := newAPI(s.base)
		if err := api.call(ctx, http.MethodGet, "/v1/account", b.ingest.token, nil, nil, http.StatusOK); err != nil {
			s.printLogTail(os.Stderr, 20)
			return fmt.Errorf("replica %d refuses the ingest token: %w", i, err)
		}
	}
	bases := make([]string, len(servers))
	for i, s := range servers {
		bases[i] = s.base
	}
	b.logf("single-message ingest on %d replicas, %d connections round robin", replicaCount, ingestWorkers)
	svc, err := b.loadOn(ctx, fmt.Sprintf("single-message ingest, %d replicas", replicaCount), "replicas-ingest.pprof",
		servers, ingestWorkers, b.singleMessageOn("replicas", bases))
	if err != nil {
		return err
	}
	svc.itemsPerReq = 1
	rr.service = svc
	b.logf("  service: %.0f messages/s, p99 %s, %s CPU per message over the %d processes, PostgreSQL %s (%d backends)",
		svc.rate(), fmtDur(svc.p(99)), fmtCPU(svc.serverCPUPerItem()), replicaCount, fmtCPU(svc.pgCPUPerItem()), svc.pgBackends)
	for i, s := range servers[1:] {
		if err := s.alive(); err != nil {
			return fmt.Errorf("replica %d: %w", i+2, err)
		}
	}
	return b.settle(ctx)
}

// replaceEnv returns env with name set to value.
func replaceEnv(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// summarizeLogs summarises the stderr of several servers as one.
func summarizeLogs(servers []*server) logSummary {
	var data []byte
	for _, s := range servers {
		d, err := os.ReadFile(s.logPath)
		if err != nil {
			return logSummary{err: err}
		}
		data = append(data, d...)
		data = append(data, '\n')
	}
	return summarizeLog(data)
}
