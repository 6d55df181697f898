package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The pgbench scripts of the baselines. They run with -M prepared against the service's
// own tables in the run's database. bench.cards and bench.subs number the ids of the
// cards and subaccounts the service created (n = 1…), so a client picks a random one with
// \set; bench.uuid7() makes time-ordered ids like the service's UUIDv7 keys, so both
// insert into the primary key's right edge. Every row is unique: :run differs between
// pgbench invocations, :client_id between clients and :seq between a client's
// transactions.
const (
	// singleScript is one message per commit: look the card (and its subaccount's
	// configuration version) up, insert the routed transaction.
	singleScript = `\set n random(1, :ncards)
\set seq :seq + 1
\set amount random(1, 100000)
BEGIN;
SELECT c.id AS card, c.subaccount_id AS sub, c.country_code AS country, c.network AS network,
       c.status AS status, s.config_version AS version
  FROM bench.cards b
  JOIN cards c ON c.account_id = :acct AND c.id = b.id
  JOIN subaccounts s ON s.account_id = c.account_id AND s.id = c.subaccount_id
 WHERE b.n = :n \gset
INSERT INTO transactions (account_id, id, network_transaction_id, type, amount, currency, datetime,
    merchant_name, merchant_mcc, merchant_country, received_at, routing,
    subaccount_id, card_id, card_country, card_network, routed_at, config_version, policy_status)
VALUES (:acct, bench.uuid7(), 'pgb-' || :run::text || '-' || :client_id::text || '-' || :seq::text,
    'auth', :amount, 'USD', now(), 'Bench Diner', '5812', 'USA', now(), 'routed',
    :sub, :card, :country, :network, now(), :version, 'in-policy')
ON CONFLICT (account_id, network_transaction_id, type) DO NOTHING
RETURNING id;
END;
`

	// batchScript is the same rows, 100 per commit, in one INSERT … SELECT that looks
	// each row's random card up. OFFSET 0 keeps the random numbers in their subquery, so
	// the card look-ups stay index scans.
	batchScript = `\set seq :seq + 1
BEGIN;
INSERT INTO transactions (account_id, id, network_transaction_id, type, amount, currency, datetime,
    merchant_name, merchant_mcc, merchant_country, received_at, routing,
    subaccount_id, card_id, card_country, card_network, routed_at, config_version, policy_status)
SELECT :acct, bench.uuid7(),
       'pgbb-' || :run::text || '-' || :client_id::text || '-' || :seq::text || '-' || r.g::text,
       'auth', r.amount, 'USD', now(), 'Bench Diner', '5812', 'USA', now(), 'routed',
       c.subaccount_id, c.id, c.country_code, c.network, now(), s.config_version, 'in-policy'
  FROM (SELECT g, 1 + floor(random() * :ncards)::int AS n, 1 + floor(random() * 100000)::bigint AS amount
          FROM generate_series(1, 100) AS g OFFSET 0) r
  JOIN bench.cards b ON b.n = r.n
  JOIN cards c ON c.account_id = :acct AND c.id = b.id
  JOIN subaccounts s ON s.account_id = c.account_id AND s.id = c.subaccount_id
ON CONFLICT (account_id, network_transaction_id, type) DO NOTHING
RETURNING id;
END;
`

	// enrolScript is one card per commit: share-lock the live subaccount, insert the card
	// with a unique fingerprint, skipping an active duplicate like the service does.
	enrolScript = `\set sn random(1, :nsubs)
\set seq :seq + 1
BEGIN;
SELECT s.id AS sub, s.suspended AS suspended, s.config_version AS version, s.configurations AS configurations
  FROM bench.subs b
  JOIN subaccounts s ON s.account_id = :acct AND s.id = b.id AND s.deleted_at IS NULL
 WHERE b.n = :sn
   FOR SHARE OF s \gset
INSERT INTO cards (account_id, id, subaccount_id, network, country_code, first_numbers, last_numbers,
    exp_month, exp_year, fingerprint, fingerprint_key_version, status, policy_status, metadata, created_at, updated_at)
VALUES (:acct, bench.uuid7(), :sub, 'VISA', 'USA', '400000', '0000', 12, 2030,
    sha256(convert_to('pgbe-' || :run::text || '-' || :client_id::text || '-' || :seq::text, 'UTF8')),
    :keyversion, 'active', 'in-policy', '{}', now(), now())
ON CONFLICT (account_id, fingerprint) WHERE status = 'active' DO NOTHING
RETURNING id;
END;
`
)

// benchSchema is created in the run's database beside the service's tables.
const benchSchema = `
CREATE SCHEMA bench;
CREATE TABLE bench.cards (n integer PRIMARY KEY, id uuid NOT NULL);
CREATE TABLE bench.subs (n integer PRIMARY KEY, id uuid NOT NULL);
CREATE TABLE bench.compliance_subs (n integer PRIMARY KEY, id uuid NOT NULL);
-- A time-ordered id: 48 bits of milliseconds, the version nibble, random bits.
CREATE FUNCTION bench.uuid7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT (lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
          || '7' || substr(md5(random()::text), 1, 19))::uuid
$$;`

// pgbenchRun is one pgbench invocation.
type pgbenchRun struct {
	name    string // script and log file name
	script  string
	clients int
	threads int
	seconds int
	vars    [][2]string // -D name=value, in order
}

// args returns pgbench's arguments; show replaces the values that change every run by
// placeholders, for the method section.
func (r pgbenchRun) args(dir, dbURL string, show bool) []string {
	script, logPrefix := filepath.Join(dir, r.name+".sql"), filepath.Join(dir, r.name)
	if show {
		script, logPrefix, dbURL = r.name+".sql", "<tmp>/"+r.name, "<bench database URL>"
	}
	a := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(r.clients), "-j", strconv.Itoa(r.threads),
		"-T", strconv.Itoa(r.seconds)}
	for _, v := range r.vars {
		val := v[1]
		if show && (v[0] == "acct" || v[0] == "keyversion") {
			val = "<" + v[0] + ">"
		}
		a = append(a, "-D", v[0]+"="+val)
	}
	return append(a, "-f", script, "-l", "--log-prefix", logPrefix, dbURL)
}

// pgbenchResult is what one pgbench run measured.
type pgbenchResult struct {
	tps        float64 // pgbench's own figure, without the initial connection time
	processed  int64
	failed     int64
	latencies  []time.Duration // every logged transaction, sorted
	invocation string
}

func (r pgbenchResult) p(q float64) time.Duration { return percentile(r.latencies, q) }

// runPgbench writes the script into dir, runs pgbench and reads its per-transaction logs.
func runPgbench(ctx context.Context, bin, dir, dbURL string, r pgbenchRun) (pgbenchResult, error) {
	if err := os.WriteFile(filepath.Join(dir, r.name+".sql"), []byte(r.script), 0o600); err != nil {
		return pgbenchResult{}, err
	}
	cmd := exec.CommandContext(ctx, bin, r.args(dir, dbURL, false)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return pgbenchResult{}, ctx.Err()
		}
		return pgbenchResult{}, fmt.Errorf("pgbench %s: %w\n%s%s", r.name, err, tail(stdout.String(), 10), tail(stderr.String(), 20))
	}
	res, err := parsePgbenchSummary(stdout.String())
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench %s: %w\n%s", r.name, err, stdout.String())
	}
	res.invocation = "pgbench " + strings.Join(r.args(dir, dbURL, true), " ")
	logs, err := filepath.Glob(filepath.Join(dir, r.name) + ".*")
	if err != nil {
		return pgbenchResult{}, err
	}
	var failed int64
	for _, path := range logs {
		if strings.HasSuffix(path, ".sql") {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			return pgbenchResult{}, err
		}
		lat, nf, err := parsePgbenchLog(f)
		f.Close()
		if err != nil {
			return pgbenchResult{}, fmt.Errorf("pgbench log %s: %w", path, err)
		}
		res.latencies = append(res.latencies, lat...)
		failed += nf
		if err := os.Remove(path); err != nil {
			return pgbenchResult{}, err
		}
	}
	if len(res.latencies) == 0 {
		return pgbenchResult{}, fmt.Errorf("pgbench %s: no transaction in its logs", r.name)
	}
	slices.Sort(res.latencies)
	res.failed = max(res.failed, failed)
	return res, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 1 && lines[0] == "" {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

var (
	// PostgreSQL 14 and later; earlier releases said "excluding connections establishing".
	tpsLine       = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)`)
	processedLine = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	failedLine    = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// parsePgbenchSummary reads tps, processed and failed transactions from pgbench's report.
func parsePgbenchSummary(out string) (pgbenchResult, error) {
	var r pgbenchResult
	m := tpsLine.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("no tps line in pgbench's report")
	}
	tps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return r, fmt.Errorf("tps %q: %w", m[1], err)
	}
	r.tps = tps
	if m := processedLine.FindStringSubmatch(out); m != nil {
		r.processed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := failedLine.FindStringSubmatch(out); m != nil {
		r.failed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return r, nil
}

// parsePgbenchLog reads a per-transaction log of pgbench -l:
//
//	client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
//
// where time is the transaction's latency in microseconds, or "failed" or "skipped".
// It returns the latencies of the transactions that completed and the number of the
// others.
func parsePgbenchLog(r io.Reader) ([]time.Duration, int64, error) {
	var lat []time.Duration
	var other int64
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 6 {
			return nil, 0, fmt.Errorf("line %d: %d fields, want at least 6", line, len(f))
		}
		switch f[2] {
		case "failed", "skipped":
			other++
			continue
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil || us < 0 {
			return nil, 0, fmt.Errorf("line %d: latency %q is not a number of microseconds", line, f[2])
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	return lat, other, sc.Err()
}
