package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver the checks read the database with
)

// The failure tests run the whole service against a PostgreSQL cluster of their own,
// which they stop, start, freeze (SIGSTOP) and thaw. The request deadline is short so a
// frozen database is seen quickly; slack is what the checks allow beyond it.
const (
	failRequestTimeout  = timeScale * time.Second
	failShutdownTimeout = timeScale * 5 * time.Second
	slack               = timeScale * 1500 * time.Millisecond
	failAdminID         = "operator-failures"
	failAdminSecret     = "failures-operator-secret-0123"
)

// tenantEnv is one service run with an account, a tenant token allowed to enrol cards
// and ingest messages, and one enrolled card.
type tenantEnv struct {
	s         *server
	op        string
	tenant    string
	accountID string
	subID     string
	cardID    string
}

func startOn(t *testing.T, c *cluster, extra map[string]string) *server {
	t.Helper()
	env := map[string]string{
		"DATA_DIR": t.TempDir(), "DATABASE_URL": c.URL(), "MASTER_KEY": testMasterKey,
		"ADMIN_CLIENT_ID": failAdminID, "ADMIN_CLIENT_SECRET": failAdminSecret,
		"REQUEST_TIMEOUT": failRequestTimeout.String(), "SHUTDOWN_TIMEOUT": failShutdownTimeout.String(),
	}
	for k, v := range extra {
		env[k] = v
	}
	return start(t, env)
}

func setUpTenant(t *testing.T, s *server) tenantEnv {
	t.Helper()
	e := tenantEnv{s: s, op: setupToken(t, s.url, failAdminID, failAdminSecret)}
	usa := []any{map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}}}
	code, acct := setupCall(t, "POST", s.url+"/v1/accounts", e.op, map[string]any{
		"name": "Acme", "contract": map[string]any{"maxSubaccounts": 5, "configurations": usa},
	})
	if code != 201 {
		t.Fatalf("create account: %d %v", code, acct)
	}
	code, client := setupCall(t, "POST", s.url+"/v1/accounts/"+acct["id"].(string)+"/clients", e.op, map[string]any{
		"name": "feed", "scopes": []string{"subaccounts:read", "subaccounts:write", "cards:write", "transactions:read", "transactions:write"},
	})
	if code != 201 {
		t.Fatalf("create client: %d %v", code, client)
	}
	e.accountID = acct["id"].(string)
	e.tenant = setupToken(t, s.url, client["clientId"].(string), client["clientSecret"].(string))
	code, sub := setupCall(t, "POST", s.url+"/v1/subaccounts", e.tenant, map[string]any{"name": "Shop", "configurations": usa})
	if code != 201 {
		t.Fatalf("create subaccount: %d %v", code, sub)
	}
	code, card := setupCall(t, "POST", s.url+"/v1/subaccounts/"+sub["id"].(string)+"/cards", e.tenant, map[string]any{
		"number": "4111111111111111", "expMonth": 12, "expYear": time.Now().Year() + 2, "countryCode": "USA", "termsOfUse": true,
	})
	if code != 201 {
		t.Fatalf("enrol card: %d %v", code, card)
	}
	e.cardID = card["id"].(string)
	e.subID = sub["id"].(string)
	return e
}

// setupCall is call for the steps before the fault: it retries a 503, which a machine
// busy enough (the race detector, other tests) can cause on the bcrypt-heavy steps
// under the tests' short deadline.
func setupCall(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	for range 4 {
		code, m := call(t, method, u, token, body)
		if code != http.StatusServiceUnavailable {
			return code, m
		}
	}
	return call(t, method, u, token, body)
}

// setupToken is tokenFor with setupCall's retries.
func setupToken(t *testing.T, base, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	for range 5 {
		resp, err := http.PostForm(base+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		var tr map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if tok, _ := tr["access_token"].(string); resp.StatusCode == 200 && tok != "" {
			return tok
		}
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("token: %d %v", resp.StatusCode, tr)
		}
	}
	t.Fatal("token: 503 five times")
	return ""
}

// answer is what one request got back; code 0 means no answer at all.
type answer struct {
	code      int
	problem   string
	retry     string
	requestID string
	took      time.Duration
	err       error
}

func do(method, u, token string, body any) answer {
	var r *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	} else {
		r = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, u, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	start := time.Now()
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	var p struct {
		Type string `json:"type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return answer{
		code: resp.StatusCode, problem: p.Type, retry: resp.Header.Get("Retry-After"),
		requestID: resp.Header.Get("X-Request-Id"), took: time.Since(start),
	}
}

func (e tenantEnv) ingest(ntid string) answer {
	return do("POST", e.s.url+"/v1/transactions", e.tenant, e.message(ntid))
}

func (e tenantEnv) message(ntid string) map[string]any {
	return map[string]any{
		"networkTransactionId": ntid, "type": "auth", "cardId": e.cardID, "amount": 100, "currency": "USD",
		"datetime": "2026-11-20T10:00:00Z", "merchant": map[string]any{"name": "Diner", "mcc": "5812", "countryCode": "USA"},
	}
}

// createSubaccountIdempotently creates a subaccount under an Idempotency-Key: the
// request runs inside one database transaction with its key.
func (e tenantEnv) createSubaccountIdempotently(name, key string) answer {
	b, _ := json.Marshal(map[string]any{"name": name})
	req, _ := http.NewRequest("POST", e.s.url+"/v1/subaccounts", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.tenant)
	req.Header.Set("Idempotency-Key", key)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err, took: time.Since(start)}
	}
	defer resp.Body.Close()
	var p struct {
		Type string `json:"type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return answer{code: resp.StatusCode, problem: p.Type, retry: resp.Header.Get("Retry-After"), requestID: resp.Header.Get("X-Request-Id"), took: time.Since(start)}
}

// ingestMany sends n messages named prefix-i at once and returns each one's answer.
func (e tenantEnv) ingestMany(prefix string, n int) map[string]answer {
	var mu sync.Mutex
	out := map[string]answer{}
	var wg sync.WaitGroup
	for i := range n {
		ntid := fmt.Sprintf("%s-%d", prefix, i)
		wg.Go(func() {
			a := e.ingest(ntid)
			mu.Lock()
			out[ntid] = a
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// wantUnavailable checks a request answered 503 /problems/unavailable with Retry-After
// within the request deadline (plus slack).
func wantUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	switch {
	case a.err != nil:
		t.Errorf("%s: no answer: %v", what, a.err)
	case a.code != http.StatusServiceUnavailable || a.problem != "/problems/unavailable" || a.retry == "":
		t.Errorf("%s: %d %s Retry-After %q, want 503 /problems/unavailable with Retry-After", what, a.code, a.problem, a.retry)
	case a.took > failRequestTimeout+slack:
		t.Errorf("%s: answered after %s, want within the %s deadline", what, a.took, failRequestTimeout)
	}
}

// logLines returns the service's log lines of one request.
func logLines(t *testing.T, s *server, requestID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.stderr.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["request_id"] == requestID {
			out = append(out, line)
		}
	}
	return out
}

// wantOneWarning checks a failed request left exactly one WARN line and no ERROR.
func wantOneWarning(t *testing.T, s *server, what string, a answer) {
	t.Helper()
	if a.requestID == "" {
		return
	}
	warns := 0
	for _, l := range logLines(t, s, a.requestID) {
		switch l["level"] {
		case "WARN":
			warns++
		case "ERROR":
			t.Errorf("%s: ERROR line %v", what, l["msg"])
		}
	}
	if warns != 1 {
		t.Errorf("%s: %d WARN lines, want 1", what, warns)
	}
}

// waitUntil polls ok until it holds, for at most d.
func waitUntil(t *testing.T, what string, d time.Duration, ok func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !ok() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// storedMessages returns the network transaction ids with prefix in the database.
func storedMessages(t *testing.T, c *cluster, prefix string) map[string]bool {
	t.Helper()
	db, err := sql.Open("pgx", c.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "SELECT network_transaction_id FROM transactions WHERE network_transaction_id LIKE $1", prefix+"-%")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantAcknowledgedStored checks that every message answered 2xx is in the database, and
// every message in the database was answered 2xx: nothing acknowledged lost, nothing
// committed without its answer.
func wantAcknowledgedStored(t *testing.T, c *cluster, prefix string, answers map[string]answer) (acked int) {
	t.Helper()
	stored := storedMessages(t, c, prefix)
	for ntid, a := range answers {
		ok := a.code >= 200 && a.code < 300
		if ok {
			acked++
		}
		switch {
		case ok && !stored[ntid]:
			t.Errorf("%s was acknowledged %d but is not in the database", ntid, a.code)
		case !ok && stored[ntid]:
			t.Errorf("%s committed but its request got %d %s (%v)", ntid, a.code, a.problem, a.err)
		}
	}
	return acked
}

// TestPostgresFailures runs the service against a PostgreSQL that is stopped, frozen,
// and frozen during shutdown, and checks that every request is answered honestly and in
// time, and that the service recovers without a restart.
func TestPostgresFailures(t *testing.T) {
	c := newCluster(t)

	t.Run("stopped", func(t *testing.T) {
		s := startOn(t, c, nil)
		e := setUpTenant(t, s)
		if a := e.ingest("stopped-before"); a.code != 201 {
			t.Fatalf("ingest: %+v", a)
		}
		// A token whose client the service has not checked yet: the token check itself
		// needs the database.
		code, client := setupCall(t, "POST", s.url+"/v1/accounts/"+e.accountID+"/clients", e.op, map[string]any{"name": "fresh", "scopes": []string{"subaccounts:read"}})
		if code != 201 {
			t.Fatalf("create client: %d %v", code, client)
		}
		fresh := setupToken(t, s.url, client["clientId"].(string), client["clientSecret"].(string))
		c.stop()
		requests := map[string]answer{
			"ingest":             e.ingest("stopped-down"),
			"operator list":      do("GET", s.url+"/v1/accounts", e.op, nil),
			"tenant list":        do("GET", s.url+"/v1/subaccounts", e.tenant, nil),
			"unchecked token":    do("GET", s.url+"/v1/subaccounts", fresh, nil),
			"token request":      tokenRequest(s.url, failAdminID, failAdminSecret),
			"ingest (2nd)":       e.ingest("stopped-down-2"),
			"subaccount created": do("POST", s.url+"/v1/subaccounts", e.tenant, map[string]any{"name": "Down"}),
		}
		for what, a := range requests {
			wantUnavailable(t, what, a)
			wantOneWarning(t, s, what, a)
		}
		if lines := logLines(t, s, requests["unchecked token"].requestID); !strings.Contains(fmt.Sprint(lines), "check client") {
			t.Errorf("the unchecked token's 503 did not come from the client check: %v", lines)
		}
		if strings.Contains(s.stderr.String(), `"level":"ERROR"`) {
			t.Errorf("ERROR lines while the database was down:\n%s", grepLines(s.stderr.String(), `"level":"ERROR"`))
		}

		c.start()
		took := waitUntil(t, "ingest after PostgreSQL came back", 20*time.Second, func() bool {
			return e.ingest(fmt.Sprintf("stopped-after-%d", time.Now().UnixNano())).code == 201
		})
		t.Logf("recovered %s after PostgreSQL started again", took.Round(time.Millisecond))
		if a := do("GET", s.url+"/v1/subaccounts", fresh, nil); a.code != 200 {
			t.Errorf("the unchecked token after recovery: %+v", a)
		}
		if err := s.stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	t.Run("frozen", func(t *testing.T) {
		s := startOn(t, c, nil)
		e := setUpTenant(t, s)
		before := e.ingestMany("frozen-before", 5)
		c.freeze()
		during := e.ingestMany("frozen-during", 8)
		list := do("GET", s.url+"/v1/accounts", e.op, nil)
		idem := e.createSubaccountIdempotently("Frozen", "frozen-key")
		wantUnavailable(t, "idempotent create", idem)
		wantOneWarning(t, s, "idempotent create", idem)
		slowest := list.took
		for ntid, a := range during {
			wantUnavailable(t, ntid, a)
			slowest = max(slowest, a.took)
		}
		t.Logf("with PostgreSQL frozen, the slowest of %d requests was answered 503 after %s (REQUEST_TIMEOUT %s)",
			len(during)+2, slowest.Round(time.Millisecond), failRequestTimeout)
		wantUnavailable(t, "operator list", list)
		wantOneWarning(t, s, "operator list", list)
		c.thaw()
		took := waitUntil(t, "ingest after PostgreSQL thawed", 20*time.Second, func() bool {
			return e.ingest(fmt.Sprintf("frozen-after-%d", time.Now().UnixNano())).code == 201
		})
		t.Logf("recovered %s after PostgreSQL thawed", took.Round(time.Millisecond))
		after := e.ingestMany("frozen-after-batch", 8)
		// The key's claim rolled back with the request: the same request runs afresh.
		if a := e.createSubaccountIdempotently("Frozen", "frozen-key"); a.code != 201 {
			t.Errorf("idempotent create after the thaw: %+v, want 201 (not a replay of the 503)", a)
		}
		for _, set := range []struct {
			prefix  string
			answers map[string]answer
		}{{"frozen-before", before}, {"frozen-during", during}, {"frozen-after-batch", after}} {
			wantAcknowledgedStored(t, c, set.prefix, set.answers)
		}
		if err := s.stop(); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	t.Run("shutdown with a frozen database", func(t *testing.T) {
		s := startOn(t, c, nil)
		e := setUpTenant(t, s)
		c.freeze()
		defer c.thaw()
		answers := make(chan map[string]answer, 1)
		go func() { answers <- e.ingestMany("shutdown-frozen", 8) }()
		time.Sleep(200 * time.Millisecond) // let the requests reach the database
		begin := time.Now()
		err := s.stop()
		took := time.Since(begin)
		t.Logf("shutdown with a frozen database took %s (SHUTDOWN_TIMEOUT %s)", took.Round(time.Millisecond), failShutdownTimeout)
		if took > failShutdownTimeout+slack {
			t.Errorf("shutdown took %s, want within SHUTDOWN_TIMEOUT %s", took, failShutdownTimeout)
		}
		if err != nil {
			t.Errorf("run returned %v; want nil (exit 0): every request ended at its deadline", err)
		}
		got := <-answers
		for ntid, a := range got {
			wantUnavailable(t, ntid, a)
		}
		c.thaw()
		wantAcknowledgedStored(t, c, "shutdown-frozen", got)
	})

	t.Run("shutdown forced by its deadline", func(t *testing.T) {
		// Requests may wait longer than the shutdown: the deadline cancels them.
		forcedTimeout := timeScale * 2 * time.Second
		s := startOn(t, c, map[string]string{"REQUEST_TIMEOUT": "1m", "SHUTDOWN_TIMEOUT": forcedTimeout.String()})
		e := setUpTenant(t, s)
		c.freeze()
		defer c.thaw()
		answers := make(chan map[string]answer, 1)
		go func() { answers <- e.ingestMany("shutdown-forced", 4) }()
		time.Sleep(200 * time.Millisecond)
		begin := time.Now()
		err := s.stop()
		took := time.Since(begin)
		t.Logf("forced shutdown took %s (SHUTDOWN_TIMEOUT %s)", took.Round(time.Millisecond), forcedTimeout)
		if took > forcedTimeout+slack {
			t.Errorf("shutdown took %s, want within SHUTDOWN_TIMEOUT %s", took, forcedTimeout)
		}
		if err == nil {
			t.Error("run returned nil after the deadline forced the shutdown; want an error (non-zero exit)")
		}
		if !strings.Contains(s.stderr.String(), "shutdown forced") {
			t.Error("no log line says the shutdown was forced")
		}
		got := <-answers
		for ntid, a := range got {
			if a.code != http.StatusServiceUnavailable {
				t.Errorf("%s: %d %v, want 503: a request cancelled by shutdown is still answered", ntid, a.code, a.err)
			}
		}
		c.thaw()
		wantAcknowledgedStored(t, c, "shutdown-forced", got)
	})

	t.Run("shutdown under load", func(t *testing.T) {
		s := startOn(t, c, nil)
		e := setUpTenant(t, s)
		var mu sync.Mutex
		answers := map[string]answer{}
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := range 8 {
			wg.Go(func() {
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					ntid := fmt.Sprintf("shutdown-load-%d-%d", w, i)
					a := e.ingest(ntid)
					mu.Lock()
					answers[ntid] = a
					mu.Unlock()
					if a.err != nil {
						return // the server is gone
					}
				}
			})
		}
		time.Sleep(500 * time.Millisecond)
		if err := s.stop(); err != nil {
			t.Errorf("shutdown under load: %v", err)
		}
		close(stop)
		wg.Wait()
		acked := wantAcknowledgedStored(t, c, "shutdown-load", answers)
		t.Logf("%d messages sent, %d acknowledged and stored", len(answers), acked)
		if acked == 0 {
			t.Error("nothing was acknowledged before the shutdown")
		}
	})
}

func tokenRequest(base, id, secret string) answer {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	start := time.Now()
	resp, err := http.PostForm(base+"/oauth2/token", form)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	var p struct {
		Type string `json:"type"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	return answer{code: resp.StatusCode, problem: p.Type, retry: resp.Header.Get("Retry-After"), requestID: resp.Header.Get("X-Request-Id"), took: time.Since(start)}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
