package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// syncBuffer is a bytes.Buffer safe to write from the server and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// server is one run() of the whole service.
type server struct {
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error
}

// start runs the server with env on 127.0.0.1:0 and waits until /healthz answers.
func start(t *testing.T, env map[string]string) *server {
	t.Helper()
	env["LISTEN_ADDR"] = "127.0.0.1:0"
	if _, ok := env["METRICS_ADDR"]; !ok {
		env["METRICS_ADDR"] = "127.0.0.1:0"
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"subaccountd"}, getenv, s.stdout, s.stderr) }()
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() { cancel(); runErr = <-done })
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })

	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case err := <-done:
			done <- err // stop, run at cleanup, reads it again
			t.Fatalf("run returned early: %v\nstderr: %s", err, s.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start; stderr: %s", s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func call(t *testing.T, method, u, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, r)
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

func tokenFor(t *testing.T, base, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	resp, err := http.PostForm(base+"/oauth2/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	tok, _ := tr["access_token"].(string)
	if resp.StatusCode != 200 || tok == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, tr)
	}
	return tok
}

// TestServer starts the real binary's run() on each database and walks the README's path:
// operator token → account with contract → client → tenant token → subaccount → a refused
// out-of-contract subaccount; then it shuts down gracefully and restarts on the same data.
func TestServer(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			// A fixed PUBLIC_URL keeps the issuer identifier stable across the restart below,
			// although the port changes.
			env := map[string]string{"DATA_DIR": t.TempDir(), "LOG_LEVEL": "DEBUG", "PUBLIC_URL": "http://subaccounts.test"}
			if dialect == "postgres" {
				env["DATABASE_URL"] = storetest.PostgresURL(t)
				env["MASTER_KEY"] = testMasterKey
			}
			s := start(t, env)
			out := s.stdout.String()
			m := regexp.MustCompile(`ADMIN_CLIENT_ID=(\S+)\s+ADMIN_CLIENT_SECRET=(\S+)`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no generated operator credentials in stdout: %q", out)
			}
			opID, opSecret := m[1], m[2]
			if strings.Contains(s.stderr.String(), opSecret) {
				t.Fatal("the operator secret reached the log")
			}
			op := tokenFor(t, s.url, opID, opSecret)

			for _, path := range []string{"/healthz", "/readyz"} {
				if code, _ := call(t, "GET", s.url+path, "", nil); code != 200 {
					t.Errorf("%s: %d", path, code)
				}
			}
			code, acct := call(t, "POST", s.url+"/v1/accounts", op, map[string]any{
				"name": "Acme Platform",
				"contract": map[string]any{"maxSubaccounts": 10, "configurations": []any{
					map[string]any{"countries": []string{"USA", "CAN"}, "networks": []string{"VISA", "MASTERCARD"}},
				}},
			})
			if code != 201 {
				t.Fatalf("create account: %d %v", code, acct)
			}
			accountID := acct["id"].(string)
			code, client := call(t, "POST", s.url+"/v1/accounts/"+accountID+"/clients", op, map[string]any{
				"name": "backend", "scopes": []string{"subaccounts:read", "subaccounts:write"},
			})
			if code != 201 {
				t.Fatalf("create client: %d %v", code, client)
			}
			secret := client["clientSecret"].(string)
			tok := tokenFor(t, s.url, client["clientId"].(string), secret)
			code, sub := call(t, "POST", s.url+"/v1/subaccounts", tok, map[string]any{
				"name": "Acme Corp", "configurations": []any{
					map[string]any{"countries": []string{"USA"}, "networks": []string{"VISA"}},
					map[string]any{"countries": []string{"CAN"}, "networks": []string{"MASTERCARD"}},
				},
			})
			if code != 201 {
				t.Fatalf("create subaccount: %d %v", code, sub)
			}
			code, prob := call(t, "POST", s.url+"/v1/subaccounts", tok, map[string]any{
				"name": "Pizzeria", "configurations": []any{map[string]any{"countries": []string{"GBR"}, "networks": []string{"VISA"}}},
			})
			if code != 422 || prob["type"] != "/problems/policy-violation" {
				t.Fatalf("out-of-contract subaccount: %d %v", code, prob)
			}
			logs := s.stderr.String()
			for _, secretish := range []string{secret, tok, op} {
				if strings.Contains(logs, secretish) {
					t.Fatal("a secret or token reached the log")
				}
			}
			if !strings.Contains(logs, `"request_id"`) {
				t.Error("log lines carry no request_id")
			}

			if err := s.stop(); err != nil {
				t.Fatalf("graceful shutdown: %v", err)
			}

			// A restart on the same data keeps the signing key and the operator client:
			// the old token still verifies and nothing new is printed.
			s2 := start(t, env)
			if strings.Contains(s2.stdout.String(), "ADMIN_CLIENT_SECRET") {
				t.Error("a restart generated another operator client")
			}
			code, got := call(t, "GET", s2.url+"/v1/subaccounts/"+sub["id"].(string), tok, nil)
			if code != 200 || got["name"] != "Acme Corp" {
				t.Fatalf("a token issued before the restart: %d %v", code, got)
			}
			tok2 := tokenFor(t, s2.url, client["clientId"].(string), secret)
			if code, _ := call(t, "GET", s2.url+"/v1/account", tok2, nil); code != 200 {
				t.Fatalf("a token issued after the restart: %d", code)
			}
		})
	}
}

func TestInvalidConfigurationFailsFast(t *testing.T) {
	env := map[string]string{"TOKEN_MAX_LIFETIME": "forever", "DATABASE_URL": "mysql://u:hunter2@db/x"}
	err := run(context.Background(), nil, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil {
		t.Fatal("run accepted an invalid configuration")
	}
	for _, name := range []string{"TOKEN_MAX_LIFETIME", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %q echoes a password", err)
	}
}
