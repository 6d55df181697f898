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
	"net/http"
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
	if !strings.Contains(r.stderr, "401") {
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
