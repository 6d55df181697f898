package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The recipes of the README's "An external issuer" section, run against the real
// issuers: node-oidc-provider 9 (whenever node and npm are installed and the package
// installs) and Ory Hydra 2.3 (when HYDRA_BIN names a hydra binary built with SQLite).
// Each starts the issuer, starts subaccountd with OIDC_ISSUER_URL pointing at it, gets
// tokens the way the README says (the operator's with a plain token request, the
// tenant's through subaccountctl with --resource or --audience and its default scopes),
// and makes an operator call and tenant calls succeed.

// tenantScopes is what the recipes allow a tenant client.
const tenantScopes = "subaccounts:read subaccounts:write cards:read cards:write transactions:read transactions:write compliance:read ledger:read ledger:write audit:read"

// oidcResource is the resource indicator under which node-oidc-provider issues tokens
// for the API (the provider script's default).
const oidcResource = "urn:subaccounts-api"

var (
	ctlOnce sync.Once
	ctlBin  string
	ctlErr  error
)

// subaccountctl builds the CLI once per test binary and returns its path.
func subaccountctl(t *testing.T) string {
	t.Helper()
	ctlOnce.Do(func() {
		dir, err := os.MkdirTemp("", "subaccountctl-")
		if err != nil {
			ctlErr = err
			return
		}
		ctlBin = filepath.Join(dir, "subaccountctl")
		out, err := exec.Command("go", "build", "-o", ctlBin, "github.com/cardseg/subaccounts/cmd/subaccountctl").CombinedOutput()
		if err != nil {
			ctlErr = errors.New("go build subaccountctl: " + err.Error() + "\n" + string(out))
		}
	})
	if ctlErr != nil {
		t.Fatal(ctlErr)
	}
	return ctlBin
}

// ctlResult is one run of the CLI.
type ctlResult struct {
	code           int
	stdout, stderr string
}

// ctl runs the CLI with env as its whole environment (plus PATH and HOME).
func ctl(t *testing.T, env map[string]string, args ...string) ctlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, subaccountctl(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("subaccountctl %v: %v", args, err)
	}
	return ctlResult{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
}

// mustCtl runs the CLI and fails the test unless it exits with code.
func mustCtl(t *testing.T, env map[string]string, code int, args ...string) ctlResult {
	t.Helper()
	r := ctl(t, env, args...)
	if r.code != code {
		t.Fatalf("subaccountctl %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

// clientCredentials is the token request of the README's curl lines: HTTP Basic client
// authentication and the form parameters given.
func clientCredentials(t *testing.T, tokenURL, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	form.Set("grant_type", "client_credentials")
	req, _ := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// issuerMetadata reads the issuer's metadata document.
func issuerMetadata(t *testing.T, issuer string) (issuerID, tokenURL string) {
	t.Helper()
	code, d := call(t, http.MethodGet, strings.TrimRight(issuer, "/")+"/.well-known/openid-configuration", "", nil)
	if code != http.StatusOK {
		t.Fatalf("discovery of %s: %d", issuer, code)
	}
	issuerID, _ = d["issuer"].(string)
	tokenURL, _ = d["token_endpoint"].(string)
	if issuerID == "" || tokenURL == "" {
		t.Fatalf("discovery of %s without issuer or token_endpoint: %v", issuer, d)
	}
	return issuerID, tokenURL
}

// recipeCalls is the part both recipes share, once an operator token exists: the
// operator creates an account, the tenant client made for it (by newTenant) works
// through the CLI with tenantEnv, and the operator's compliance check through the CLI
// with operatorEnv.
func recipeCalls(t *testing.T, s *server, opToken string, operatorEnv map[string]string, newTenant func(accountID string) map[string]string) {
	t.Helper()
	code, acct := call(t, http.MethodPost, s.url+"/v1/accounts", opToken, map[string]any{
		"name": "Acme " + t.Name(), "contract": map[string]any{"maxSubaccounts": 3, "configurations": []any{
			map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}},
		}},
	})
	if code != http.StatusCreated {
		t.Fatalf("operator creates an account: %d %v\nstderr: %s", code, acct, s.stderr)
	}
	accountID, _ := acct["id"].(string)

	tenantEnv := newTenant(accountID)
	tenantEnv["SUBACCOUNTS_URL"] = s.url
	r := mustCtl(t, tenantEnv, 0, "subaccounts", "create", "--name", "Shop", "--config", "USA:VISA")
	if !strings.Contains(r.stdout, "Shop") {
		t.Errorf("subaccounts create printed %q", r.stdout)
	}
	r = mustCtl(t, tenantEnv, 0, "subaccounts", "list")
	if !strings.Contains(r.stdout, "Shop") {
		t.Errorf("subaccounts list lacks the new subaccount: %q", r.stdout)
	}
	r = mustCtl(t, tenantEnv, 0, "account")
	if !strings.Contains(r.stdout, accountID) {
		t.Errorf("account shows %q, want account %s", r.stdout, accountID)
	}
	// A scope the tenant client was not allowed is refused by the issuer, not granted.
	r = mustCtl(t, tenantEnv, 2, "--scopes", "accounts:admin", "compliance", "check", "--account", accountID)
	if !strings.Contains(r.stderr, "invalid_scope") {
		t.Errorf("tenant asking for accounts:admin: %s", r.stderr)
	}

	operatorEnv["SUBACCOUNTS_URL"] = s.url
	r = mustCtl(t, operatorEnv, 0, "compliance", "check", "--account", accountID)
	if !strings.Contains(strings.ToLower(r.stdout), "compliant") {
		t.Errorf("compliance check printed %q", r.stdout)
	}
}

// TestExternalIssuerNodeOIDCProvider runs the node-oidc-provider recipe: resource
// indicators, JWT access tokens, account_id from extraTokenClaims.
func TestExternalIssuerNodeOIDCProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node-oidc-provider; not in -short")
	}
	dir := installOIDCProvider(t)

	const opID, opSecret = "operator", "operator-secret-0123456789abcdef"
	const regToken = "registration-token-0123456789abcdef"
	clients, _ := json.Marshal([]map[string]any{{"client_id": opID, "client_secret": opSecret, "scope": "accounts:admin"}})
	clientsFile := filepath.Join(t.TempDir(), "clients.json")
	if err := os.WriteFile(clientsFile, clients, 0o600); err != nil {
		t.Fatal(err)
	}
	issuer := startOIDCProvider(t, dir, "CLIENTS_FILE="+clientsFile, "REGISTRATION_TOKEN="+regToken)
	issuerID, tokenURL := issuerMetadata(t, issuer)

	s := start(t, map[string]string{"DATA_DIR": t.TempDir(), "OIDC_ISSUER_URL": issuerID})

	code, tr := clientCredentials(t, tokenURL, opID, opSecret, url.Values{"scope": {"accounts:admin"}, "resource": {oidcResource}})
	opToken, _ := tr["access_token"].(string)
	if code != http.StatusOK || opToken == "" {
		t.Fatalf("operator token: %d %v", code, tr)
	}
	// Without resource= the provider issues an opaque token, which no API can verify:
	// the failure a missing --resource causes.
	code, tr = clientCredentials(t, tokenURL, opID, opSecret, url.Values{"scope": {"accounts:admin"}})
	if opaque, _ := tr["access_token"].(string); code != http.StatusOK || strings.Count(opaque, ".") == 2 {
		t.Errorf("token without a resource indicator: %d %v, want an opaque token", code, tr)
	} else if code, _ := call(t, http.MethodGet, s.url+"/v1/accounts", opaque, nil); code != http.StatusUnauthorized {
		t.Errorf("opaque token: %d, want 401", code)
	}

	var tenantID, tenantSecret string
	newTenant := func(accountID string) map[string]string {
		// Dynamic registration (RFC 7591) with the account id as client metadata; a
		// static client in the provider's configuration works the same way.
		body, _ := json.Marshal(map[string]any{
			"grant_types": []string{"client_credentials"}, "response_types": []string{}, "redirect_uris": []string{},
			"token_endpoint_auth_method": "client_secret_basic", "scope": tenantScopes, "account_id": accountID,
		})
		req, _ := http.NewRequest(http.MethodPost, strings.TrimRight(issuerID, "/")+"/reg", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+regToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var reg map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&reg)
		tenantID, _ = reg["client_id"].(string)
		tenantSecret, _ = reg["client_secret"].(string)
		if resp.StatusCode != http.StatusCreated || tenantID == "" || tenantSecret == "" {
			t.Fatalf("register the tenant client: %d %v", resp.StatusCode, reg)
		}
		return map[string]string{
			"SUBACCOUNTS_TOKEN_URL": tokenURL, "SUBACCOUNTS_RESOURCE": oidcResource,
			"SUBACCOUNTS_CLIENT_ID": tenantID, "SUBACCOUNTS_CLIENT_SECRET": tenantSecret,
		}
	}
	operatorEnv := map[string]string{
		"SUBACCOUNTS_TOKEN_URL": tokenURL, "SUBACCOUNTS_RESOURCE": oidcResource,
		"SUBACCOUNTS_CLIENT_ID": opID, "SUBACCOUNTS_CLIENT_SECRET": opSecret,
	}
	recipeCalls(t, s, opToken, operatorEnv, newTenant)

	// The same tenant without --resource gets an opaque token: 401 from the API.
	r := mustCtl(t, map[string]string{"SUBACCOUNTS_URL": s.url, "SUBACCOUNTS_TOKEN_URL": tokenURL,
		"SUBACCOUNTS_CLIENT_ID": tenantID, "SUBACCOUNTS_CLIENT_SECRET": tenantSecret}, 2, "subaccounts", "list")
	if !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "give --audience (Ory Hydra, Auth0) or --resource") {
		t.Errorf("tenant without --resource: %s", r.stderr)
	}
}

// installOIDCProvider installs testdata/oidc-provider's locked dependencies (npm ci)
// into a cache directory keyed by the lock file, once, and returns a fresh directory
// holding the provider script and those modules. It skips the test when node or npm is
// missing or the install fails: a registry hiccup is not a failure of the service.
func installOIDCProvider(t *testing.T) string {
	t.Helper()
	for _, bin := range []string{"node", "npm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("node-oidc-provider recipe not run: %s is not installed", bin)
		}
	}
	src := filepath.Join("testdata", "oidc-provider")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	modules := filepath.Join(cache, "subaccounts-test", "oidc-provider-"+hex.EncodeToString(sum[:8]))
	if _, err := os.Stat(filepath.Join(modules, "node_modules", "oidc-provider", "package.json")); err != nil {
		if err := npmCI(t, src, modules); err != nil {
			t.Skipf("node-oidc-provider recipe not run: npm ci failed (registry unreachable?): %v", err)
		}
	}
	dir := t.TempDir()
	for _, f := range []string{"provider.mjs", "package.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(modules, "node_modules"), filepath.Join(dir, "node_modules")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// npmCI installs into a temporary directory beside dst and renames it into place, so
// that concurrent test binaries never see half an install.
func npmCI(t *testing.T, src, dst string) error {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), "install-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for _, f := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		return errors.New(err.Error() + ": " + lastLines(string(out), 5))
	}
	if err := os.Rename(tmp, dst); err != nil && !errors.Is(err, os.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(dst, "node_modules")); statErr == nil {
			return nil // another test binary won the race
		}
		return err
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startOIDCProvider runs provider.mjs in dir with env added and returns its issuer URL.
func startOIDCProvider(t *testing.T, dir string, env ...string) string {
	t.Helper()
	cmd := exec.Command("node", "provider.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case l, ok := <-line:
		var started struct{ Issuer string }
		if !ok || json.Unmarshal([]byte(l), &started) != nil || started.Issuer == "" {
			t.Fatalf("node-oidc-provider did not start: %q\nstderr: %s", l, stderr.String())
		}
		return started.Issuer
	case <-time.After(30 * time.Second):
		t.Fatalf("node-oidc-provider did not start within 30 s; stderr: %s", stderr.String())
	}
	return ""
}

// TestExternalIssuerHydra runs the Ory Hydra recipe: the JWT access-token strategy,
// audience subaccounts-api on the client and in the token request, and account_id
// added by a token hook (from the client's metadata) and allowed as a top-level claim.
// It needs a hydra binary with SQLite support (HYDRA_BIN), which is not part of CI.
func TestExternalIssuerHydra(t *testing.T) {
	bin := os.Getenv("HYDRA_BIN")
	if bin == "" {
		t.Skip("Hydra recipe not run: set HYDRA_BIN to a hydra 2.x binary built with -tags sqlite")
	}
	public, admin := freeAddr(t), freeAddr(t)
	adminURL := "http://" + admin
	hook := httptest.NewServer(hydraTokenHook(t, adminURL))
	t.Cleanup(hook.Close)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "hydra.yml")
	if err := os.WriteFile(cfg, []byte(hydraConfig(public, admin, hook.URL)), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	cmd := exec.Command(bin, "serve", "all", "--dev", "--sqa-opt-out", "--config", cfg)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitReady(t, adminURL+"/health/ready", &logs)
	issuerID, tokenURL := issuerMetadata(t, "http://"+public)

	s := start(t, map[string]string{"DATA_DIR": t.TempDir(), "OIDC_ISSUER_URL": issuerID})

	opID, opSecret := hydraClient(t, bin, adminURL, "operator", "accounts:admin", "")
	code, tr := clientCredentials(t, tokenURL, opID, opSecret, url.Values{"scope": {"accounts:admin"}, "audience": {"subaccounts-api"}})
	opToken, _ := tr["access_token"].(string)
	if code != http.StatusOK || opToken == "" {
		t.Fatalf("operator token: %d %v", code, tr)
	}
	// Without audience= Hydra grants none, and the API refuses the token.
	code, tr = clientCredentials(t, tokenURL, opID, opSecret, url.Values{"scope": {"accounts:admin"}})
	if noAud, _ := tr["access_token"].(string); code != http.StatusOK || noAud == "" {
		t.Errorf("token without audience: %d %v", code, tr)
	} else if code, _ := call(t, http.MethodGet, s.url+"/v1/accounts", noAud, nil); code != http.StatusUnauthorized {
		t.Errorf("token without aud: %d, want 401", code)
	}

	var tenantID, tenantSecret string
	newTenant := func(accountID string) map[string]string {
		tenantID, tenantSecret = hydraClient(t, bin, adminURL, "tenant", strings.ReplaceAll(tenantScopes, " ", ","), `{"account_id":"`+accountID+`"}`)
		return map[string]string{
			"SUBACCOUNTS_TOKEN_URL": tokenURL, "SUBACCOUNTS_AUDIENCE": "subaccounts-api",
			"SUBACCOUNTS_CLIENT_ID": tenantID, "SUBACCOUNTS_CLIENT_SECRET": tenantSecret,
		}
	}
	operatorEnv := map[string]string{
		"SUBACCOUNTS_TOKEN_URL": tokenURL, "SUBACCOUNTS_AUDIENCE": "subaccounts-api",
		"SUBACCOUNTS_CLIENT_ID": opID, "SUBACCOUNTS_CLIENT_SECRET": opSecret,
	}
	recipeCalls(t, s, opToken, operatorEnv, newTenant)

	// The same tenant without --audience: a token without aud, refused.
	r := mustCtl(t, map[string]string{"SUBACCOUNTS_URL": s.url, "SUBACCOUNTS_TOKEN_URL": tokenURL,
		"SUBACCOUNTS_CLIENT_ID": tenantID, "SUBACCOUNTS_CLIENT_SECRET": tenantSecret}, 2, "subaccounts", "list")
	if !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "give --audience (Ory Hydra, Auth0) or --resource") {
		t.Errorf("tenant without --audience: %s", r.stderr)
	}
}

// hydraConfig is the README's Hydra configuration, on loopback ports, in memory.
func hydraConfig(public, admin, hookURL string) string {
	host := func(hp string) (string, string) { h, p, _ := net.SplitHostPort(hp); return h, p }
	ph, pp := host(public)
	ah, ap := host(admin)
	return `dsn: memory
serve:
  public: {host: ` + ph + `, port: ` + pp + `}
  admin: {host: ` + ah + `, port: ` + ap + `}
urls:
  self:
    issuer: http://` + public + `
secrets:
  system: ["test-system-secret-0123456789abcdef"]
strategies:
  access_token: jwt
oauth2:
  allowed_top_level_claims: [account_id]
  mirror_top_level_claims: false
  token_hook: ` + hookURL + `/token-hook
log:
  level: warn
`
}

// hydraTokenHook is the token hook of the recipe: it reads the client's metadata from
// Hydra's admin API and returns its account_id as an access-token claim (204, nothing
// added, for clients without one: the operator).
func hydraTokenHook(t *testing.T, adminURL string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Request struct {
				ClientID string `json:"client_id"`
			} `json:"request"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Request.ClientID == "" {
			http.Error(w, "bad hook request", http.StatusBadRequest)
			return
		}
		resp, err := http.Get(adminURL + "/admin/clients/" + url.PathEscape(in.Request.ClientID))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		var c struct {
			Metadata struct {
				AccountID string `json:"account_id"`
			} `json:"metadata"`
		}
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&c) != nil {
			http.Error(w, "client lookup failed", http.StatusBadGateway)
			return
		}
		if c.Metadata.AccountID == "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"session": map[string]any{"access_token": map[string]any{"account_id": c.Metadata.AccountID}}})
	}
}

// hydraClient creates a client-credentials client with the hydra CLI as the README does
// and returns its id and secret.
func hydraClient(t *testing.T, bin, adminURL, name, scopes, metadata string) (string, string) {
	t.Helper()
	args := []string{"create", "client", "--endpoint", adminURL, "--name", name, "--format", "json",
		"--grant-type", "client_credentials", "--audience", "subaccounts-api", "--scope", scopes,
		"--token-endpoint-auth-method", "client_secret_basic", "--access-token-strategy", "jwt"}
	if metadata != "" {
		args = append(args, "--metadata", metadata)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("hydra create client: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := json.Unmarshal(out, &c); err != nil || c.ID == "" || c.Secret == "" {
		t.Fatalf("hydra create client printed %q", out)
	}
	return c.ID, c.Secret
}

// freeAddr returns a loopback host:port nobody listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitReady polls u until it answers 200.
func waitReady(t *testing.T, u string, logs *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60 s; logs:\n%s", u, logs.String())
}
