package main

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRunRedisDown: run with REDIS_URL pointing at a closed port starts, serves, limits
// each client per replica (CLIENT_RATE_LIMIT) with 429 and Retry-After, and warns once.
func TestRunRedisDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	const opID, opSecret = "operator-ratelimit", "operator-secret-0123456789"
	s := start(t, map[string]string{
		"DATA_DIR": t.TempDir(), "REDIS_URL": "redis://" + closed + "/0", "CLIENT_RATE_LIMIT": "3",
		"ADMIN_CLIENT_ID": opID, "ADMIN_CLIENT_SECRET": opSecret,
	})
	op := tokenFor(t, s.url, opID, opSecret)
	admitted, startAt := 0, time.Now()
	for {
		req, _ := http.NewRequest("GET", s.url+"/v1/accounts", nil)
		req.Header.Set("Authorization", "Bearer "+op)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 429 {
			if resp.Header.Get("Retry-After") == "" || resp.Header.Get("RateLimit-Policy") != `"default";q=3;w=1` {
				t.Errorf("429 headers %v", resp.Header)
			}
			break
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d with Redis down", resp.StatusCode)
		}
		admitted++
		if admitted > 50 {
			t.Fatal("50 requests admitted under a limit of 3 a second")
		}
	}
	if max := 3 + int(time.Since(startAt).Seconds()*3) + 1; admitted < 3 || admitted > max {
		t.Errorf("%d admitted, want 3 (+ refill)", admitted)
	}
	if n := strings.Count(s.stderr.String(), "Redis unreachable"); n != 1 {
		t.Errorf("%d warnings about Redis, want 1:\n%s", n, s.stderr.String())
	}
	if strings.Contains(s.stderr.String(), "pool.go") {
		t.Error("go-redis wrote its own unstructured log lines")
	}
}
