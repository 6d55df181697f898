package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// TestOperatorRevokedAcrossRestarts starts the real server three times on one database:
// with a generated operator, then with ADMIN_CLIENT_ID=ops-a, then with =ops-b. After
// each restart only the configured operator gets tokens; the earlier ones' secrets and
// tokens are refused.
func TestOperatorRevokedAcrossRestarts(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			base := map[string]string{"DATA_DIR": t.TempDir(), "PUBLIC_URL": "http://subaccounts.test"}
			if dialect == "postgres" {
				base["DATABASE_URL"] = storetest.PostgresURL(t)
				base["MASTER_KEY"] = testMasterKey
			}
			with := func(id, secret string) map[string]string {
				env := map[string]string{"ADMIN_CLIENT_ID": id, "ADMIN_CLIENT_SECRET": secret}
				for k, v := range base {
					env[k] = v
				}
				return env
			}

			s := start(t, with("", ""))
			m := regexp.MustCompile(`ADMIN_CLIENT_ID=(\S+)\s+ADMIN_CLIENT_SECRET=(\S+)`).FindStringSubmatch(s.stdout.String())
			if m == nil {
				t.Fatalf("no generated operator credentials in %q", s.stdout.String())
			}
			genID, genSecret := m[1], m[2]
			// The start-up log shows durations as written, not in nanoseconds.
			for _, want := range []string{`"token_max_lifetime":"24h"`, `"group_commit_max_wait":"2ms"`} {
				if !strings.Contains(s.stderr.String(), want) {
					t.Errorf("start-up log lacks %s", want)
				}
			}
			genTok := operatorWorks(t, s.url, genID, genSecret)
			stopServer(t, s)

			const secretA, secretB = "secret-of-ops-a-0123", "secret-of-ops-b-0123"
			s = start(t, with("ops-a", secretA))
			if !strings.Contains(s.stdout.String(), "Revoked the operator client "+genID) {
				t.Errorf("stdout does not report the revocation: %q", s.stdout.String())
			}
			operatorRefused(t, s.url, genID, genSecret, genTok)
			aTok := operatorWorks(t, s.url, "ops-a", secretA)
			stopServer(t, s)

			s = start(t, with("ops-b", secretB))
			operatorRefused(t, s.url, "ops-a", secretA, aTok)
			operatorRefused(t, s.url, genID, genSecret, genTok)
			operatorWorks(t, s.url, "ops-b", secretB)
		})
	}
}

func stopServer(t *testing.T, s *server) {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// operatorWorks gets an operator token and lists accounts with it.
func operatorWorks(t *testing.T, base, id, secret string) string {
	t.Helper()
	tok := tokenFor(t, base, id, secret)
	if code, body := call(t, "GET", base+"/v1/accounts", tok, nil); code != http.StatusOK {
		t.Fatalf("operator %s: GET /v1/accounts %d %v", id, code, body)
	}
	return tok
}

// operatorRefused checks that the token endpoint refuses id's secret and /v1 its token.
func operatorRefused(t *testing.T, base, id, secret, tok string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("revoked operator %s: token endpoint %d, want 401", id, resp.StatusCode)
	}
	if code, _ := call(t, "GET", base+"/v1/accounts", tok, nil); code != http.StatusUnauthorized {
		t.Errorf("revoked operator %s: its token gets %d, want 401", id, code)
	}
}
