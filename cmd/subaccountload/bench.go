package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// bench holds what the runs share: the server, its database, the accounts set up.
type bench struct {
	o       options
	tmp     string
	bin     string // the server's binary, for the replicas
	dbURL   string
	srv     *server
	api     *api
	db      *pgx.Conn
	logf    func(string, ...any)
	opToken string
	ingest  *tenant
	cardIDs []string
	pans    panSource
	msgSeq  atomic.Uint64
	pgRun   int
	// profiles are the load runs' CPU profiles so far.
	profiles []cpuProfile
}

func newBench(ctx context.Context, o options, tmp, bin, dbURL string, srv *server, logf func(string, ...any)) (*bench, error) {
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the bench database: %w", err)
	}
	return &bench{o: o, tmp: tmp, bin: bin, dbURL: dbURL, srv: srv, api: newAPI(srv.base), db: db, logf: logf}, nil
}

func (b *bench) close() { b.db.Close(context.Background()) }

// results are every figure of the run.
type results struct {
	setupCards int
	healthz    loadResult
	single     pairResult
	replicas   replicaResult
	webhooks   webhookResult
	batch100   loadResult
	batch1000  loadResult
	batchBase  pgbenchResult
	enrol      pairResult
	compliance complianceResult
	keyVersion int

	// profiles are the CPU profiles of the load runs, in the order they ran;
	// profileLinks is their directory as the recorded file links to it (empty: not kept).
	profiles     []cpuProfile
	profileLinks string

	serverLog logSummary
	machine   machine
	started   time.Time
	opts      options
	goBench   string
}

// pairResult is a service run and its pgbench baseline.
type pairResult struct {
	service  loadResult
	baseline pgbenchResult
}

type complianceResult struct {
	cards, subaccounts int
	seedTime           time.Duration
	times              []time.Duration // the service's answers, sorted
	queryTimes         []time.Duration // the aggregate query alone, sorted
	report             complianceSummary
	violationGroups    int
	queryGroups        int
}

func (b *bench) runAll(ctx context.Context) (*results, error) {
	res := &results{}
	if err := b.setup(ctx, res); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	steps := []struct {
		name string
		fn   func(context.Context, *results) error
	}{
		{"GET /healthz (the floor)", b.runHealthz},
		{"single-message ingest", b.runSingle},
		{"single-message ingest on three replicas", b.runReplicas},
		{"single-message ingest with a webhook endpoint", b.runWebhooks},
		{"batch ingest", b.runBatch},
		{"card enrolment", b.runEnrol},
		{"compliance report", b.runCompliance},
	}
	defer func() { res.profiles = b.profiles }()
	for _, s := range steps {
		if err := s.fn(ctx, res); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		if err := b.srv.alive(); err != nil {
			return nil, fmt.Errorf("after %s: %w", s.name, err)
		}
	}
	return res, nil
}

// setup creates the ingest account through the API, enrols its cards, and numbers their
// ids in the bench schema for pgbench.
func (b *bench) setup(ctx context.Context, res *results) error {
	var err error
	if b.opToken, err = b.api.token(ctx, adminClientID, adminClientSecret); err != nil {
		return err
	}
	b.ingest, err = b.api.newTenant(ctx, b.opToken, "Ingest bench platform", benchSubs, benchContract)
	if err != nil {
		return err
	}
	per := b.o.setupCards / benchSubs
	for _, sub := range b.ingest.subaccounts {
		ids, err := b.api.enrolBatch(ctx, b.ingest, sub, per, &b.pans)
		if err != nil {
			return err
		}
		b.cardIDs = append(b.cardIDs, ids...)
	}
	res.setupCards = len(b.cardIDs)
	b.logf("set up an account with %d subaccounts and %d cards enrolled through the API", benchSubs, len(b.cardIDs))

	if _, err := b.db.Exec(ctx, benchSchema); err != nil {
		return fmt.Errorf("bench schema: %w", err)
	}
	if err := b.number(ctx, "bench.cards", b.cardIDs, 1); err != nil {
		return err
	}
	if err := b.number(ctx, "bench.subs", b.ingest.subaccounts, 1); err != nil {
		return err
	}
	if err := b.db.QueryRow(ctx, "SELECT max(version) FROM fingerprint_keys").Scan(&res.keyVersion); err != nil {
		return fmt.Errorf("fingerprint key version: %w", err)
	}
	if b.o.history > 0 {
		start := time.Now()
		if _, err := b.db.Exec(ctx, historySQL, b.ingest.accountID, len(b.cardIDs), b.o.history); err != nil {
			return fmt.Errorf("earlier transactions: %w", err)
		}
		b.logf("inserted %d earlier transactions with SQL in %s", b.o.history, fmtDur(time.Since(start)))
	}
	return b.settle(ctx)
}

// historySQL gives the ingest account $3 earlier routed transactions over the past 30
// days, spread over its cards, so that every run meets a table in use, with statistics
// that describe it, rather than an empty one. Their network ids start with "hist-": the
// runs' rows are deleted after each run, these stay.
const historySQL = `
INSERT INTO transactions (account_id, id, network_transaction_id, type, amount, currency, datetime,
    merchant_name, merchant_mcc, merchant_country, received_at, routing,
    subaccount_id, card_id, card_country, card_network, routed_at, config_version, policy_status)
SELECT $1::uuid, bench.uuid7(), 'hist-' || i, 'auth', 1 + i % 100000, 'USD', h.at,
       'Bench Diner', '5812', 'USA', h.at, 'routed',
       c.subaccount_id, c.id, c.country_code, c.network, h.at, s.config_version, 'in-policy'
  FROM generate_series(1, $3::int) AS i
  CROSS JOIN LATERAL (SELECT now() - interval '30 days' * (1 - i::float8 / $3::int) AS at) h
  JOIN bench.cards b ON b.n = 1 + i % $2::int
  JOIN cards c ON c.account_id = $1::uuid AND c.id = b.id
  JOIN subaccounts s ON s.account_id = c.account_id AND s.id = c.subaccount_id`

// number stores ids as rows (n, id) of table, n counting from first.
func (b *bench) number(ctx context.Context, table string, ids []string, first int) error {
	_, err := b.db.Exec(ctx, "INSERT INTO "+table+" (n, id) SELECT n + $2 - 1, id::uuid FROM unnest($1::text[]) WITH ORDINALITY AS t(id, n)", ids, first)
	if err != nil {
		return fmt.Errorf("fill %s: %w", table, err)
	}
	return nil
}

// settle removes what the previous run added to the ingest account (transactions but
// the earlier ones, cards beyond those set up), vacuums and analyzes, and checkpoints,
// so every run starts from the same tables and no run pays for another's checkpoint.
func (b *bench) settle(ctx context.Context) error {
	stmts := []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM transactions WHERE account_id = $1::uuid AND network_transaction_id NOT LIKE 'hist-%'", []any{b.ingest.accountID}},
		{"DELETE FROM cards WHERE account_id = $1::uuid AND id NOT IN (SELECT id FROM bench.cards)", []any{b.ingest.accountID}},
		{"VACUUM ANALYZE transactions", nil},
		{"VACUUM ANALYZE cards", nil},
		{"CHECKPOINT", nil},
	}
	for _, s := range stmts {
		if _, err := b.db.Exec(ctx, s.sql, s.args...); err != nil {
			return fmt.Errorf("%s: %w", s.sql, err)
		}
	}
	return nil
}

// pgbench runs a warm-up invocation and then the measured one, and settles the tables.
func (b *bench) pgbench(ctx context.Context, name, script string, clients int, vars [][2]string) (pgbenchResult, error) {
	run := func(suffix string, d time.Duration) (pgbenchResult, error) {
		b.pgRun++
		all := append([][2]string{{"run", strconv.Itoa(b.pgRun)}, {"seq", "0"}}, vars...)
		return runPgbench(ctx, b.o.pgbench, b.tmp, b.dbURL, pgbenchRun{
			name: name + suffix, script: script, clients: clients, threads: pgbenchThreads,
			seconds: int((d + time.Second - 1) / time.Second), vars: all,
		})
	}
	if b.o.warmup > 0 {
		if _, err := run("-warmup", b.o.warmup); err != nil {
			return pgbenchResult{}, err
		}
	}
	r, err := run("", b.o.duration)
	if err != nil {
		return r, err
	}
	return r, b.settle(ctx)
}

func (b *bench) ingestVars() [][2]string {
	return [][2]string{{"acct", b.ingest.accountID}, {"ncards", strconv.Itoa(len(b.cardIDs))}}
}

// message is one network message as the load generator sends it.
type message struct {
	NetworkTransactionID string   `json:"networkTransactionId"`
	Type                 string   `json:"type"`
	CardID               string   `json:"cardId"`
	Amount               int64    `json:"amount"`
	Currency             string   `json:"currency"`
	Datetime             string   `json:"datetime"`
	Merchant             merchant `json:"merchant"`
}

type merchant struct {
	Name        string `json:"name"`
	MCC         string `json:"mcc"`
	CountryCode string `json:"countryCode"`
}

func (b *bench) newMessage(rng *rand.Rand, tag string) message {
	return message{
		NetworkTransactionID: tag + "-" + strconv.FormatUint(b.msgSeq.Add(1), 10),
		Type:                 "auth",
		CardID:               b.cardIDs[rng.IntN(len(b.cardIDs))],
		Amount:               1 + rng.Int64N(100000),
		Currency:             "USD",
		Datetime:             time.Now().UTC().Format(time.RFC3339Nano),
		Merchant:             merchant{Name: "Bench Diner", MCC: "5812", CountryCode: "USA"},
	}
}

// post sends body to path with the ingest account's token and returns the status and
// the answer.
func (b *bench) post(ctx context.Context, path string, body any, readBody bool) (int, []byte, error) {
	return b.postTo(ctx, b.api.base, path, body, readBody)
}

// postTo is post to the server at base.
func (b *bench) postTo(ctx context.Context, base, path string, body any, readBody bool) (int, []byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(data))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+b.ingest.token)
	resp, err := b.api.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	if !readBody {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil, err
	}
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// load runs a service load run on the main server, and profiles its measured window
// into file (see loadOn).
func (b *bench) load(ctx context.Context, run, file string, workers int, fn requestFunc) (loadResult, error) {
	return b.loadOn(ctx, run, file, []*server{b.srv}, workers, fn)
}

// loadOn runs a service load run against servers and records the CPU time they, the
// PostgreSQL backends of the run's database and the load generator used during it. Each
// server is asked for a CPU profile of the measured window, kept as file; a server
// without the endpoint leaves the run without a profile, not failed.
func (b *bench) loadOn(ctx context.Context, run, file string, servers []*server, workers int, fn requestFunc) (loadResult, error) {
	cpu := func() (time.Duration, error) {
		var sum time.Duration
		for _, s := range servers {
			d, err := processCPU(s.cmd.Process.Pid)
			if err != nil {
				return 0, err
			}
			sum += d
		}
		return sum, nil
	}
	srv0, srvErr := cpu()
	groups0, groupsErr := scrapeGroups(ctx, servers)
	pg0, pgErr := backendCPU(ctx, b.db)
	self0 := selfCPU()
	measured := time.Now().Add(b.o.warmup)
	capture := startProfiles(ctx, servers, measured, profileSeconds(b.o.duration))
	r, err := runLoad(ctx, workers, b.o.warmup, b.o.duration, fn)
	if err != nil {
		return r, err
	}
	r.clientCPU = selfCPU() - self0
	if srv1, err := cpu(); err == nil && srvErr == nil {
		r.serverCPU = srv1 - srv0
	}
	r.servers = len(servers)
	groups1, err := scrapeGroups(ctx, servers)
	if err = errors.Join(groupsErr, err); err != nil {
		b.logf("  no group-commit figures (%v)", err)
	} else {
		r.groups = groups1.minus(groups0)
	}
	if pg1, err := backendCPU(ctx, b.db); err == nil && pgErr == nil {
		r.pgCPU, r.pgBackends = backendCPUDelta(pg0, pg1), len(pg1)
	}
	b.addProfile(capture, run, file)
	return r, nil
}

// addProfile waits for a run's profile and notes it.
func (b *bench) addProfile(capture *profileCapture, run, file string) {
	p := capture.collect(filepath.Join(b.tmp, "profiles"), run, file)
	if p.missing != "" {
		b.logf("  no profile (%s)", p.missing)
	} else {
		b.logf("  CPU profile: %s samples, %s of CPU", fmtRate(float64(p.top.samples)), fmtDur(p.top.total))
	}
	b.profiles = append(b.profiles, p)
}

// runHealthz measures GET /healthz with the ingest runs' workers: the same server, its
// engine's middleware (request id, request log line, deadline) and the HTTP stack, but
// no token, no handler work and no database. It is the floor the hot routes' CPU per
// request is compared to.
func (b *bench) runHealthz(ctx context.Context, res *results) error {
	b.logf("GET /healthz (the floor): service, %d connections", ingestWorkers)
	svc, err := b.load(ctx, "GET /healthz (the floor)", "healthz.pprof", ingestWorkers, func(ctx context.Context, _ int, _ *rand.Rand) (outcome, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.api.base+"/healthz", nil)
		if err != nil {
			return outcome{}, err
		}
		resp, err := b.api.hc.Do(req)
		if err != nil {
			return outcome{}, err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		o := outcome{status: resp.StatusCode}
		if resp.StatusCode == http.StatusOK {
			o.ok = 1
		}
		return o, err
	})
	if err != nil {
		return err
	}
	svc.itemsPerReq = 1
	b.logf("  service: %.0f requests/s, p50 %s, p99 %s, %s CPU per request", svc.rate(), fmtDur(svc.p(50)), fmtDur(svc.p(99)), fmtCPU(svc.serverCPUPerItem()))
	res.healthz = svc
	return nil
}

func (b *bench) runSingle(ctx context.Context, res *results) error {
	b.logf("single-message ingest: pgbench baseline, %d clients, one message per commit", pgbenchClients)
	base, err := b.pgbench(ctx, "single", singleScript, pgbenchClients, b.ingestVars())
	if err != nil {
		return err
	}
	b.logf("  pgbench: %.0f tps, p50 %s, p99 %s", base.tps, fmtDur(base.p(50)), fmtDur(base.p(99)))
	b.logf("single-message ingest: service, %d connections", ingestWorkers)
	svc, err := b.load(ctx, "single-message ingest", "single-ingest.pprof", ingestWorkers, b.singleMessage("single"))
	if err != nil {
		return err
	}
	svc.itemsPerReq = 1
	b.logf("  service: %.0f messages/s, p50 %s, p99 %s", svc.rate(), fmtDur(svc.p(50)), fmtDur(svc.p(99)))
	res.single = pairResult{service: svc, baseline: base}
	return b.settle(ctx)
}

// singleMessage posts one new message, tagged tag, and counts a 201.
func (b *bench) singleMessage(tag string) requestFunc {
	return b.singleMessageOn(tag, []string{b.api.base})
}

// singleMessageOn is singleMessage with worker w posting to bases[w % len(bases)], so
// the workers are spread round robin over the servers.
func (b *bench) singleMessageOn(tag string, bases []string) requestFunc {
	return func(ctx context.Context, w int, rng *rand.Rand) (outcome, error) {
		status, _, err := b.postTo(ctx, bases[w%len(bases)], "/v1/transactions", b.newMessage(rng, tag), false)
		o := outcome{status: status}
		if status == http.StatusCreated {
			o.ok = 1
		}
		return o, err
	}
}

func (b *bench) runBatch(ctx context.Context, res *results) error {
	b.logf("batch ingest: pgbench baseline, %d clients, %d rows per commit", batchWorkers, batchRows)
	base, err := b.pgbench(ctx, "batch", batchScript, batchWorkers, b.ingestVars())
	if err != nil {
		return err
	}
	res.batchBase = base
	b.logf("  pgbench: %.0f rows/s", base.tps*batchRows)
	for _, size := range []int{100, 1000} {
		b.logf("batch ingest: service, %d connections, %d messages per request", batchWorkers, size)
		tag := "batch" + strconv.Itoa(size)
		r, err := b.load(ctx, fmt.Sprintf("batch ingest, %d per request", size), fmt.Sprintf("batch-%d.pprof", size), batchWorkers, func(ctx context.Context, _ int, rng *rand.Rand) (outcome, error) {
			msgs := make([]message, size)
			for i := range msgs {
				msgs[i] = b.newMessage(rng, tag)
			}
			status, body, err := b.post(ctx, "/v1/transactions/batch", map[string]any{"messages": msgs}, true)
			o := outcome{status: status}
			if err != nil || status != http.StatusOK {
				return o, err
			}
			var out struct {
				Results []struct {
					Status int `json:"status"`
				} `json:"results"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				return o, fmt.Errorf("decode the batch answer: %w", err)
			}
			for _, r := range out.Results {
				if r.Status == http.StatusCreated {
					o.ok++
				} else {
					o.failedItems = append(o.failedItems, r.Status)
				}
			}
			return o, nil
		})
		if err != nil {
			return err
		}
		r.itemsPerReq = size
		b.logf("  service: %.0f messages/s", r.rate())
		if size == 100 {
			res.batch100 = r
		} else {
			res.batch1000 = r
		}
		if err := b.settle(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) runEnrol(ctx context.Context, res *results) error {
	b.logf("card enrolment: pgbench baseline, %d clients, one card per commit", pgbenchClients)
	vars := [][2]string{{"acct", b.ingest.accountID}, {"nsubs", strconv.Itoa(len(b.ingest.subaccounts))}, {"keyversion", strconv.Itoa(res.keyVersion)}}
	base, err := b.pgbench(ctx, "enrol", enrolScript, pgbenchClients, vars)
	if err != nil {
		return err
	}
	b.logf("  pgbench: %.0f tps, p50 %s, p99 %s", base.tps, fmtDur(base.p(50)), fmtDur(base.p(99)))
	b.logf("card enrolment: service, %d connections", ingestWorkers)
	var next atomic.Uint64
	svc, err := b.load(ctx, "card enrolment", "enrolment.pprof", ingestWorkers, func(ctx context.Context, _ int, _ *rand.Rand) (outcome, error) {
		sub := b.ingest.subaccounts[next.Add(1)%uint64(len(b.ingest.subaccounts))]
		status, _, err := b.post(ctx, "/v1/subaccounts/"+sub+"/cards", newCard(&b.pans), false)
		o := outcome{status: status}
		if status == http.StatusCreated {
			o.ok = 1
		}
		return o, err
	})
	if err != nil {
		return err
	}
	svc.itemsPerReq = 1
	b.logf("  service: %.0f enrolments/s, p50 %s, p99 %s", svc.rate(), fmtDur(svc.p(50)), fmtDur(svc.p(99)))
	res.enrol = pairResult{service: svc, baseline: base}
	return b.settle(ctx)
}

// cardGroupsOutsideSQL is the compliance report's main query as the store runs it
// (internal/store/compliance.go): active cards grouped by subaccount and pair, anti-joined
// with the entitlement rows. Timed alone it is the report's baseline.
const cardGroupsOutsideSQL = `
SELECT g.subaccount_id, g.country_code, g.network, g.cards
FROM (
	SELECT subaccount_id, country_code, network, count(*) AS cards
	FROM cards
	WHERE account_id = $1 AND status = 'active'
	GROUP BY subaccount_id, country_code, network
) g
WHERE NOT EXISTS (
	SELECT 1 FROM subaccount_entitlements e
	WHERE e.account_id = $1 AND e.subaccount_id = g.subaccount_id
	  AND e.country = g.country_code AND e.network = g.network
)
ORDER BY g.subaccount_id, g.country_code, g.network`

// seedCardsSQL inserts $4 cards into the compliance account's subaccounts (numbered in
// bench.compliance_subs from 0), round robin. Every hundredth block of one card per
// subaccount is issued in GBR, which the subaccounts do not permit: 1% of the cards.
// Fingerprints are 32 distinct bytes per card; ids are time-ordered like the service's.
const seedCardsSQL = `
INSERT INTO cards (account_id, id, subaccount_id, network, country_code, first_numbers, last_numbers,
    exp_month, exp_year, fingerprint, fingerprint_key_version, status, policy_status, metadata, created_at, updated_at)
SELECT $1::uuid,
       (lpad(to_hex($2::bigint), 12, '0') || '7000' || '8' || lpad(to_hex(i), 15, '0'))::uuid,
       s.id,
       CASE WHEN (i / 3) % 2 = 0 THEN 'VISA' ELSE 'MASTERCARD' END,
       CASE WHEN (i / $5) % 100 = 42 THEN 'GBR' WHEN (i / 7) % 2 = 0 THEN 'USA' ELSE 'CAN' END,
       CASE WHEN (i / 3) % 2 = 0 THEN '400000' ELSE '510000' END,
       lpad((i % 10000)::text, 4, '0'),
       12, 2030,
       decode(md5(i::text), 'hex') || decode(md5((i + 1)::text), 'hex'),
       $3, 'active',
       CASE WHEN (i / $5) % 100 = 42 THEN 'out-of-policy' ELSE 'in-policy' END,
       '{}', now(), now()
  FROM generate_series(0, $4 - 1) AS i
  JOIN bench.compliance_subs s ON s.n = i % $5`

func (b *bench) runCompliance(ctx context.Context, res *results) error {
	c := &res.compliance
	c.cards, c.subaccounts = b.o.cards, b.o.subaccounts
	b.logf("compliance report: an account with %d subaccounts through the API", c.subaccounts)
	t, err := b.api.newTenant(ctx, b.opToken, "Compliance bench platform", c.subaccounts, complianceSubaccountConfig)
	if err != nil {
		return err
	}
	if err := b.number(ctx, "bench.compliance_subs", t.subaccounts, 0); err != nil {
		return err
	}
	b.logf("compliance report: seeding %d cards with SQL", c.cards)
	start := time.Now()
	if _, err := b.db.Exec(ctx, seedCardsSQL, t.accountID, time.Now().UnixMilli(), res.keyVersion, c.cards, c.subaccounts); err != nil {
		return fmt.Errorf("seed cards: %w", err)
	}
	if _, err := b.db.Exec(ctx, "VACUUM ANALYZE cards"); err != nil {
		return err
	}
	if _, err := b.db.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	c.seedTime = time.Since(start)
	b.logf("  seeded and vacuumed in %s", fmtDur(c.seedTime))

	for range reportRepeats {
		start := time.Now()
		var rep complianceSummary
		if err := b.api.call(ctx, http.MethodGet, "/v1/compliance", t.token, nil, &rep, http.StatusOK); err != nil {
			return err
		}
		c.times = append(c.times, time.Since(start))
		c.report = rep
	}
	c.violationGroups = len(c.report.Violations.CardsOutsideConfiguration)
	for range reportRepeats {
		start := time.Now()
		rows, err := b.db.Query(ctx, cardGroupsOutsideSQL, t.accountID)
		if err != nil {
			return err
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		c.queryTimes = append(c.queryTimes, time.Since(start))
		c.queryGroups = n
	}
	sortDurations(c.times)
	sortDurations(c.queryTimes)
	b.logf("  service: median %s, max %s; %d cards outside configuration in %d groups",
		fmtDur(median(c.times)), fmtDur(c.times[len(c.times)-1]), c.report.Summary.CardsOutsideConfiguration, c.violationGroups)
	return nil
}
