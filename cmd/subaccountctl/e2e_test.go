package main

// End-to-end tests: the real subaccountd, built from this module and started as a
// process, driven through run() with a tenant client made over plain net/http.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// The operator client the server is started with (the secret must be 16–72 bytes).
const (
	e2eOperatorID     = "op-admin"
	e2eOperatorSecret = "op-admin-secret-0123456789abcdef"
)

// e2eServer is the server process shared by the end-to-end tests (on the embedded
// database), started on first use so that running only the unit tests builds nothing.
var e2eServer struct {
	once sync.Once
	err  error
	*serverProcess
}

// e2eBinary is ./cmd/subaccountd, built once per run for every server the tests start.
var e2eBinary struct {
	once      sync.Once
	dir, path string
	err       error
}

// serverProcess is one running subaccountd.
type serverProcess struct {
	url string
	// dir holds its data directory, data/.
	dir    string
	cmd    *exec.Cmd
	stderr *lockedBuffer
	exited chan struct{}
}

// lockedBuffer collects the server's stderr for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopServer()
	os.Exit(code)
}

// serverURL starts the shared server once and returns its base URL.
func serverURL(t *testing.T) string {
	t.Helper()
	e2eServer.once.Do(func() { e2eServer.err = startServer() })
	if e2eServer.err != nil {
		t.Fatalf("starting subaccountd: %v", e2eServer.err)
	}
	return e2eServer.url
}

// moduleRoot walks up from the working directory (the package's, under go test) to the
// directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

var listeningLine = regexp.MustCompile(`^subaccountd listening on (http://127\.0\.0\.1:[0-9]+)$`)

// buildServer builds ./cmd/subaccountd into a temporary directory, once.
func buildServer() (string, error) {
	e2eBinary.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			e2eBinary.err = err
			return
		}
		if e2eBinary.dir, err = os.MkdirTemp("", "subaccountctl-e2e-bin-"); err != nil {
			e2eBinary.err = err
			return
		}
		bin := filepath.Join(e2eBinary.dir, "subaccountd")
		build := exec.Command("go", "build", "-o", bin, "./cmd/subaccountd")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			e2eBinary.err = fmt.Errorf("go build ./cmd/subaccountd: %w\n%s", err, out)
			return
		}
		e2eBinary.path = bin
	})
	return e2eBinary.path, e2eBinary.err
}

// startServer starts the shared server with its own data directory.
func startServer() error {
	bin, err := buildServer()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "subaccountctl-e2e-")
	if err != nil {
		return err
	}
	p, err := launch(bin, dir)
	if err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	e2eServer.serverProcess = p
	return nil
}

// launch starts bin on a free port with the data directory dir/data, the operator
// credentials and extraEnv, waits for its listening line on stdout and then for
// /healthz. A server that does not come up is killed.
func launch(bin, dir string, extraEnv ...string) (*serverProcess, error) {
	cmd := exec.Command(bin)
	// A minimal environment: nothing from the developer's shell (DATABASE_URL,
	// OIDC_ISSUER_URL…) may change which server is tested.
	cmd.Env = append([]string{
		"LISTEN_ADDR=127.0.0.1:0",
		"METRICS_ADDR=127.0.0.1:0",
		"DATA_DIR=" + filepath.Join(dir, "data"),
		"ADMIN_CLIENT_ID=" + e2eOperatorID,
		"ADMIN_CLIENT_SECRET=" + e2eOperatorSecret,
		"PATH=" + os.Getenv("PATH"),
		"TMPDIR=" + os.TempDir(),
	}, extraEnv...)
	killWithParent(cmd)
	p := &serverProcess{dir: dir, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}

	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sent := false
		for sc.Scan() { // keeps draining after the line so the server never blocks on stdout
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
		_ = cmd.Wait()
		close(p.exited)
	}()
	select {
	case p.url = <-found:
	case <-p.exited:
		return nil, fmt.Errorf("subaccountd exited before listening; stderr:\n%s", p.stderr)
	case <-time.After(60 * time.Second):
		p.stop()
		return nil, fmt.Errorf("no listening line within 60 s; stderr:\n%s", p.stderr)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("/healthz never answered 200 (last error %v)", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop kills the server and waits for it to exit.
func (p *serverProcess) stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// stopServer kills the shared server, if one was started, and removes the temporary
// directories.
func stopServer() {
	if p := e2eServer.serverProcess; p != nil {
		p.stop()
		_ = os.RemoveAll(p.dir)
	}
	if e2eBinary.dir != "" {
		_ = os.RemoveAll(e2eBinary.dir)
	}
}

// call makes one JSON request with plain net/http and decodes the answer.
func call(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// token gets an access token with the client-credentials grant and HTTP Basic.
func token(t *testing.T, base, id, secret string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/oauth2/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	if resp.StatusCode != http.StatusOK || tr.AccessToken == "" {
		t.Fatalf("token for %s: HTTP %d", id, resp.StatusCode)
	}
	return tr.AccessToken
}

// tenant is an account with one client of it, and the CLI environment for that client.
type tenant struct {
	base      string
	accountID string
	clientID  string
	secret    string
	env       map[string]string
}

// newTenant creates an account (contract: USA and CAN on both networks) on the shared
// server and a client with every tenant scope except audit:read and the ledger scopes.
func newTenant(t *testing.T) *tenant {
	t.Helper()
	return newTenantAt(t, serverURL(t), map[string]any{}, []string{"subaccounts:read", "subaccounts:write", "cards:read", "cards:write",
		"transactions:read", "transactions:write", "compliance:read"})
}

// newTenantAt creates an account on the server at base, with USA and CAN on both
// networks and the other contract members given, and a client with scopes.
func newTenantAt(t *testing.T, base string, contract map[string]any, scopes []string) *tenant {
	t.Helper()
	op := token(t, base, e2eOperatorID, e2eOperatorSecret)
	c := map[string]any{
		"configurations": []any{map[string]any{"countries": []string{"USA", "CAN"}, "networks": []string{"VISA", "MASTERCARD"}}},
		"maxSubaccounts": 10,
	}
	for k, v := range contract {
		c[k] = v
	}
	code, acct := call(t, http.MethodPost, base+"/v1/accounts", op, map[string]any{"name": "E2E " + t.Name(), "contract": c})
	if code != http.StatusCreated {
		t.Fatalf("create account: %d %v", code, acct)
	}
	accountID, _ := acct["id"].(string)
	code, cl := call(t, http.MethodPost, base+"/v1/accounts/"+accountID+"/clients", op, map[string]any{"name": "cli", "scopes": scopes})
	if code != http.StatusCreated {
		t.Fatalf("create client: %d %v", code, cl)
	}
	tn := &tenant{base: base, accountID: accountID}
	tn.clientID, _ = cl["clientId"].(string)
	tn.secret, _ = cl["clientSecret"].(string)
	if tn.clientID == "" || tn.secret == "" {
		t.Fatalf("client answer without credentials: %v", cl)
	}
	tn.env = map[string]string{"SUBACCOUNTS_URL": base, "SUBACCOUNTS_CLIENT_ID": tn.clientID, "SUBACCOUNTS_CLIENT_SECRET": tn.secret}
	return tn
}

// operatorEnv is the CLI environment of the operator client.
func operatorEnv(base string) map[string]string {
	return map[string]string{"SUBACCOUNTS_URL": base, "SUBACCOUNTS_CLIENT_ID": e2eOperatorID, "SUBACCOUNTS_CLIENT_SECRET": e2eOperatorSecret}
}

// mustExit fails the test unless r exited with code.
func mustExit(t *testing.T, r result, code int, what string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
}

// createdID is the id of the resource the CLI printed with --json.
func createdID(t *testing.T, r result) string {
	t.Helper()
	m, ok := mustJSON(t, r.stdout).(map[string]any)
	id, _ := m["id"].(string)
	if !ok || id == "" {
		t.Fatalf("no id in %s", r.stdout)
	}
	return id
}

var uuidLine = regexp.MustCompile(`(?m)^id:\s+([0-9a-f-]{36})$`)

// TestE2ESubaccounts creates, lists and reads subaccounts through the CLI against the
// real server, and checks the refusals: a bad --config, the contract, a duplicate name,
// an unknown id, and a wrong secret.
func TestE2ESubaccounts(t *testing.T) {
	tn := newTenant(t)

	r := runCLI(t, tn.env, "", "subaccounts", "create", "--name", "Acme Corp",
		"--config", "USA,CAN:VISA,MASTERCARD", "--config", "CAN:VISA", "--metadata", "team=north")
	mustExit(t, r, exitOK, "create")
	m := uuidLine.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "Acme Corp") || !strings.Contains(r.stdout, "team=north") {
		t.Fatalf("create output:\n%s", r.stdout)
	}
	acmeID := m[1]

	// Global flags after the command, no environment at all.
	r = runCLI(t, nil, "", "subaccounts", "create", "--name", "John's Pizzeria", "--config", "usa:visa",
		"--url", tn.base, "--client-id", tn.clientID, "--client-secret", tn.secret, "--json")
	mustExit(t, r, exitOK, "create with flags")
	pizzaID := createdID(t, r)
	if strings.Contains(r.all(), tn.secret) {
		t.Fatal("the secret given as a flag was printed")
	}

	r = runCLI(t, tn.env, "", "subaccounts", "list")
	mustExit(t, r, exitOK, "list")
	for _, want := range []string{acmeID, "Acme Corp", pizzaID, "John's Pizzeria", "USA:VISA"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, tn.env, "", "subaccounts", "list", "--name", "Acme")
	mustExit(t, r, exitOK, "list --name")
	if !strings.Contains(r.stdout, acmeID) || strings.Contains(r.stdout, pizzaID) {
		t.Errorf("list --name Acme:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "--json", "subaccounts", "list")
	mustExit(t, r, exitOK, "list --json")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 2 {
		t.Errorf("list --json: %d items", len(arr))
	}

	r = runCLI(t, tn.env, "", "subaccounts", "get", acmeID)
	mustExit(t, r, exitOK, "get")
	for _, want := range []string{"id:", acmeID, "name:", "Acme Corp", "CAN", "USA", "MASTERCARD", "config version:", "suspended:", "no"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("get lacks %q:\n%s", want, r.stdout)
		}
	}

	r = runCLI(t, tn.env, "", "subaccounts", "create", "--name", "Bad", "--config", "USA;CAN:VISA")
	mustExit(t, r, exitError, "bad --config")
	if !strings.Contains(r.stderr, "usage: subaccountctl subaccounts create") {
		t.Errorf("bad --config stderr:\n%s", r.stderr)
	}

	r = runCLI(t, tn.env, "", "subaccounts", "create", "--name", "Outside", "--config", "USA,GBR:VISA")
	mustExit(t, r, exitError, "outside the contract")
	for _, want := range []string{"422", "/problems/policy-violation", "GBR on VISA", "/configurations"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("policy violation lacks %q:\n%s", want, r.stderr)
		}
	}
	r = runCLI(t, tn.env, "", "subaccounts", "create", "--name", "Acme Corp")
	mustExit(t, r, exitError, "duplicate name")
	if !strings.Contains(r.stderr, "409") {
		t.Errorf("duplicate name:\n%s", r.stderr)
	}
	r = runCLI(t, tn.env, "", "subaccounts", "get", "0190a0b0-0000-7000-8000-000000000000")
	mustExit(t, r, exitError, "unknown id")
	if !strings.Contains(r.stderr, "404") {
		t.Errorf("unknown id:\n%s", r.stderr)
	}
	// Nothing refused above was created.
	r = runCLI(t, tn.env, "", "--json", "subaccounts", "list")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 2 {
		t.Errorf("after refusals: %d subaccounts, want 2", len(arr))
	}

	wrong := map[string]string{"SUBACCOUNTS_URL": tn.base, "SUBACCOUNTS_CLIENT_ID": tn.clientID, "SUBACCOUNTS_CLIENT_SECRET": tn.secret + "-wrong"}
	r = runCLI(t, wrong, "", "subaccounts", "list")
	mustExit(t, r, exitError, "wrong secret")
	if strings.Contains(r.all(), tn.secret) || !strings.Contains(r.stderr, "invalid_client") {
		t.Errorf("wrong secret output:\n%s", r.all())
	}
}

// enrolOne enrols pan into sub through the CLI and returns the card id.
func enrolOne(t *testing.T, tn *tenant, sub, pan, country string) string {
	t.Helper()
	r := runCLI(t, tn.env, pan+"\n", "--json", "cards", "enrol", "--subaccount", sub, "--country", country, "--exp", "12/2030", "--number-stdin")
	mustExit(t, r, exitOK, "enrol")
	return createdID(t, r)
}

// createSub creates a subaccount permitting USA and CAN on both networks.
func createSub(t *testing.T, tn *tenant, name string) string {
	t.Helper()
	r := runCLI(t, tn.env, "", "--json", "subaccounts", "create", "--name", name, "--config", "USA,CAN:VISA,MASTERCARD")
	mustExit(t, r, exitOK, "create "+name)
	return createdID(t, r)
}

// TestE2ECards enrols one card from stdin and a CSV with a refused row, lists, and
// moves a card, never printing a full number.
func TestE2ECards(t *testing.T) {
	tn := newTenant(t)
	subA, subB := createSub(t, tn, "Bucket A"), createSub(t, tn, "Bucket B")

	r := runCLI(t, tn.env, visaPAN+"\n", "cards", "enrol", "--subaccount", subA, "--country", "USA", "--exp", "12/2030", "--number-stdin")
	mustExit(t, r, exitOK, "enrol from stdin")
	m := uuidLine.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "411111******1111") || !strings.Contains(r.stdout, "VISA") || !strings.Contains(r.stdout, "active") {
		t.Fatalf("enrol output:\n%s", r.stdout)
	}
	visaID := m[1]

	// Row 3 repeats the card already enrolled: the API refuses it (409 card-exists).
	path := writeFile(t, "cards.csv", "number,expMonth,expYear,countryCode\n"+mcPAN+",1,2031,CAN\n"+visaPAN+",12,2030,USA\n")
	r = runCLI(t, tn.env, "", "cards", "enrol", "--subaccount", subA, "--file", path)
	mustExit(t, r, exitFindings, "enrol CSV")
	if !strings.Contains(r.stdout, "row 3: 409") || !strings.Contains(r.stdout, "Enrolled 1 of 2 rows; 1 failed") || !strings.Contains(r.stdout, visaID) {
		t.Errorf("CSV output:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "enrolling 2/2 cards (100%)") {
		t.Errorf("progress:\n%s", r.stderr)
	}

	r = runCLI(t, tn.env, "", "cards", "list", "--subaccount", subA)
	mustExit(t, r, exitOK, "cards list")
	for _, want := range []string{visaID, "411111******1111", "555555******4444", "MASTERCARD", "CAN", "USA", "in-policy"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("cards list lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, tn.env, "", "cards", "move", visaID, "--to", subB)
	mustExit(t, r, exitOK, "cards move")
	if !strings.Contains(r.stdout, "subaccount:") || !strings.Contains(r.stdout, subB) {
		t.Errorf("move output:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "--json", "cards", "list", "--subaccount", subB, "--status", "active")
	mustExit(t, r, exitOK, "cards list after move")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 1 || arr[0].(map[string]any)["id"] != visaID {
		t.Errorf("subaccount B after the move: %s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "cards", "list", "--status", "removed")
	mustExit(t, r, exitOK, "cards list removed")
	if !strings.Contains(r.stdout, "No cards.") {
		t.Errorf("removed cards:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "cards", "move", visaID, "--to", "0190a0b0-0000-7000-8000-000000000000")
	mustExit(t, r, exitError, "move to an unknown subaccount")
	if !strings.Contains(r.stderr, "404") {
		t.Errorf("unknown destination:\n%s", r.stderr)
	}
	// No full number in anything the server answered either.
	r = runCLI(t, tn.env, "", "--json", "cards", "list")
	for _, pan := range []string{visaPAN, mcPAN} {
		if strings.Contains(r.all(), pan) {
			t.Errorf("cards list --json shows a full number")
		}
	}
}

// TestE2ETransactions posts two transactions with plain net/http and lists them
// through the CLI with filters and --limit.
func TestE2ETransactions(t *testing.T) {
	tn := newTenant(t)
	sub := createSub(t, tn, "Shop")
	cardID := enrolOne(t, tn, sub, visaPAN, "USA")
	tok := token(t, tn.base, tn.clientID, tn.secret)
	when := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i, amount := range []int{1234, 500} {
		code, body := call(t, http.MethodPost, tn.base+"/v1/transactions", tok, map[string]any{
			"networkTransactionId": fmt.Sprintf("ntid-e2e-%d", i), "type": "auth", "cardId": cardID,
			"amount": amount, "currency": "USD", "datetime": when.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"merchant": map[string]any{"name": "Pizza Place", "mcc": "5812", "countryCode": "USA"},
		})
		if code != http.StatusCreated {
			t.Fatalf("transaction %d: %d %v", i, code, body)
		}
	}
	r := runCLI(t, tn.env, "", "transactions", "list")
	mustExit(t, r, exitOK, "transactions list")
	for _, want := range []string{"ntid-e2e-0", "ntid-e2e-1", "Pizza Place", "1234", "USD", cardID, sub} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("transactions list lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, tn.env, "", "transactions", "list", "--card", cardID, "--limit", "1")
	mustExit(t, r, exitOK, "transactions list --limit 1")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 {
		t.Errorf("--limit 1 printed %d rows:\n%s", len(lines)-1, r.stdout)
	}
	r = runCLI(t, tn.env, "", "--json", "transactions", "list", "--subaccount", sub, "--from", when.Format(time.RFC3339))
	mustExit(t, r, exitOK, "transactions list --json")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 2 {
		t.Errorf("--json: %d transactions, want 2", len(arr))
	}
	r = runCLI(t, tn.env, "", "transactions", "list", "--from", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	mustExit(t, r, exitOK, "transactions list in the future")
	if !strings.Contains(r.stdout, "No transactions.") {
		t.Errorf("future window:\n%s", r.stdout)
	}
}

// TestE2ECompliance checks a compliant account as its tenant and as the operator, in
// human and JSON output, then narrows a subaccount's configuration under its card (a
// plain PATCH) and checks exit 1 with the violation listed.
func TestE2ECompliance(t *testing.T) {
	tn := newTenant(t)
	sub := createSub(t, tn, "Compliant")
	enrolOne(t, tn, sub, mcPAN, "CAN")

	r := runCLI(t, tn.env, "", "compliance", "check")
	mustExit(t, r, exitOK, "compliance check")
	if !strings.Contains(r.stdout, "Account "+tn.accountID+": COMPLIANT") || !strings.Contains(r.stdout, "active cards:") {
		t.Errorf("compliance output:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "compliance", "check", "--json", "--from", time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339))
	mustExit(t, r, exitOK, "compliance check --json")
	rep, _ := mustJSON(t, r.stdout).(map[string]any)
	if rep["compliant"] != true || rep["accountId"] != tn.accountID {
		t.Errorf("report: %v", rep)
	}
	r = runCLI(t, operatorEnv(tn.base), "", "compliance", "check", "--account", tn.accountID)
	mustExit(t, r, exitOK, "operator compliance check")
	if !strings.Contains(r.stdout, "COMPLIANT") {
		t.Errorf("operator report:\n%s", r.stdout)
	}

	// The CAN MASTERCARD card falls outside a USA-only configuration.
	tok := token(t, tn.base, tn.clientID, tn.secret)
	code, body := call(t, http.MethodPatch, tn.base+"/v1/subaccounts/"+sub, tok, map[string]any{
		"configurations": []any{map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA", "MASTERCARD"}}},
	})
	if code != http.StatusOK {
		t.Fatalf("narrowing the subaccount: %d %v", code, body)
	}
	r = runCLI(t, tn.env, "", "compliance", "check")
	mustExit(t, r, exitFindings, "compliance check with a card outside its configuration")
	for _, want := range []string{"NOT COMPLIANT", "cards outside configuration:   1", "Active cards outside their subaccount's configuration (1 group):", sub, "CAN", "MASTERCARD"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("violation report lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, operatorEnv(tn.base), "", "--json", "compliance", "check", "--account", tn.accountID)
	mustExit(t, r, exitFindings, "operator compliance check --json with a violation")
	if rep, _ := mustJSON(t, r.stdout).(map[string]any); rep["compliant"] != false {
		t.Errorf("operator report: %v", rep)
	}
}
