package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestEventsSurvivePostgresRestart: the outbox under a fault. Messages are ingested from
// several clients while the service's PostgreSQL is restarted; every message the service
// acknowledged (201, or 200 for one it had stored) has its transaction.routed event
// delivered to the endpoint at least once, counted at a real receiver.
func TestEventsSurvivePostgresRestart(t *testing.T) {
	c := newCluster(t)
	s := startOn(t, c, map[string]string{"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true", "CLIENT_RATE_LIMIT": "0"})
	e := setUpTenant(t, s)

	var mu sync.Mutex
	got := map[string]int{} // networkTransactionId → deliveries received
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Type string `json:"type"`
			Data struct {
				NetworkTransactionID string `json:"networkTransactionId"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &ev) == nil && ev.Type == "transaction.routed" {
			mu.Lock()
			got[ev.Data.NetworkTransactionID]++
			mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rc.Close()
	code, client := setupCall(t, "POST", s.url+"/v1/accounts/"+e.accountID+"/clients", e.op, map[string]any{
		"name": "hooks", "scopes": []string{"webhooks:write"},
	})
	if code != 201 {
		t.Fatalf("create client: %d %v", code, client)
	}
	hooks := setupToken(t, s.url, client["clientId"].(string), client["clientSecret"].(string))
	if code, ep := setupCall(t, "POST", s.url+"/v1/webhook-endpoints", hooks, map[string]any{
		"url": rc.URL + "/hook", "eventTypes": []string{"transaction.routed"},
	}); code != 201 {
		t.Fatalf("create endpoint: %d %v", code, ep)
	}

	var acked sync.Map // networkTransactionId → true
	var sent, unavailable atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ntid := fmt.Sprintf("restart-%d-%d", w, i)
				a := e.ingest(ntid)
				sent.Add(1)
				switch {
				case a.code == http.StatusCreated || a.code == http.StatusOK:
					acked.Store(ntid, true)
				case a.code == http.StatusServiceUnavailable:
					unavailable.Add(1)
				case a.err != nil:
				default:
					t.Errorf("ingest %s: %+v", ntid, a)
				}
			}
		})
	}
	time.Sleep(time.Second)
	c.stop()
	time.Sleep(time.Second)
	c.start()
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	var want []string
	acked.Range(func(k, _ any) bool {
		want = append(want, k.(string))
		return true
	})
	if len(want) == 0 || unavailable.Load() == 0 {
		t.Fatalf("%d messages sent, %d acknowledged, %d unavailable: the restart was not under load", sent.Load(), len(want), unavailable.Load())
	}
	missing := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, ntid := range want {
			if got[ntid] == 0 {
				out = append(out, ntid)
			}
		}
		return out
	}
	waitUntil(t, "every acknowledged message's event at the receiver", 60*time.Second, func() bool { return len(missing()) == 0 })
	mu.Lock()
	again := 0
	for _, n := range got {
		again += n - 1
	}
	mu.Unlock()
	t.Logf("%d messages sent across a PostgreSQL restart: %d acknowledged, %d answered 503; every acknowledged one's event received (%d received more than once)",
		sent.Load(), len(want), unavailable.Load(), again)
	if err := s.stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
