package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is a webhook receiver that keeps every request it is sent.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	body string
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answer string) *receiver {
	t.Helper()
	rc := &receiver{body: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: b})
		rc.mu.Unlock()
		_, _ = io.WriteString(w, rc.body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

var secretLine = regexp.MustCompile(`(?m)^secret: (whsec_\S+) \(shown only now; store it\)$`)

// TestE2EWebhooks drives the webhooks commands against a real server of its own (one
// that may post to 127.0.0.1): create an endpoint for a local receiver, list it, test
// it, see the delivery listed as delivered with the receiver's answer, and check that
// what arrived is signed with the secret create printed; then rotate, disable, delete.
func TestE2EWebhooks(t *testing.T) {
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	p, err := launch(bin, t.TempDir(), "WEBHOOK_ALLOW_PRIVATE_NETWORKS=true")
	if err != nil {
		t.Fatalf("starting subaccountd: %v", err)
	}
	t.Cleanup(p.stop)
	tn := newTenantAt(t, p.url, map[string]any{}, []string{"webhooks:read", "webhooks:write"})
	rc := newReceiver(t, `{"received":true}`)

	r := runCLI(t, tn.env, "", "webhooks", "create", "--endpoint-url", rc.URL+"/hook", "--event-types", "*", "--description", "e2e receiver")
	mustExit(t, r, exitOK, "create")
	m, s := uuidLine.FindStringSubmatch(r.stdout), secretLine.FindStringSubmatch(r.stdout)
	if m == nil || s == nil || strings.Count(r.all(), s[1]) != 1 {
		t.Fatalf("create output:\n%s", r.all())
	}
	id, secret := m[1], s[1]

	r = runCLI(t, tn.env, "", "webhooks", "list")
	mustExit(t, r, exitOK, "list")
	for _, want := range []string{id, rc.URL + "/hook", "enabled", "e2e receiver"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("list lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.all(), secret) {
		t.Error("list shows the secret")
	}

	r = runCLI(t, tn.env, "", "--json", "webhooks", "test", id)
	mustExit(t, r, exitOK, "test")
	d, _ := mustJSON(t, r.stdout).(map[string]any)
	deliveryID, _ := d["id"].(string)
	eventID, _ := d["eventId"].(string)
	if deliveryID == "" || d["eventType"] != "webhook.test" {
		t.Fatalf("test answer %s", r.stdout)
	}

	// The worker sends it within a poll or two; the deadline only keeps a broken worker
	// from hanging the test.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		r = runCLI(t, tn.env, "", "webhooks", "deliveries", id, "--status", "delivered", "--attempts")
		mustExit(t, r, exitOK, "deliveries")
		if strings.Contains(r.stdout, deliveryID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test delivery was not delivered:\n%s\nserver:\n%s", r.stdout, p.stderr)
		}
	}
	for _, want := range []string{"webhook.test", "delivered", "200, ", `{"received":true}`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("deliveries lacks %q:\n%s", want, r.stdout)
		}
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("the receiver got %d requests", len(got))
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got[0].body, got[0].header); err != nil {
		t.Errorf("the delivery does not verify with the secret create printed: %v", err)
	}
	if h := got[0].header.Get("webhook-id"); h != eventID {
		t.Errorf("webhook-id %q, want the delivery's eventId %q", h, eventID)
	}

	r = runCLI(t, tn.env, "", "webhooks", "rotate", id, "--expire-old")
	mustExit(t, r, exitOK, "rotate")
	if s := secretLine.FindStringSubmatch(r.stdout); s == nil || s[1] == secret || !strings.Contains(r.stdout, "no longer signs") {
		t.Errorf("rotate output:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "webhooks", "update", id, "--disable")
	mustExit(t, r, exitOK, "disable")
	if !strings.Contains(r.stdout, "disabled") {
		t.Errorf("disable output:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "webhooks", "recover", id, "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	mustExit(t, r, exitOK, "recover")
	if !strings.Contains(r.stdout, "0 failed deliveries") {
		t.Errorf("recover output:\n%s", r.stdout)
	}
	mustExit(t, runCLI(t, tn.env, "", "webhooks", "delete", id), exitOK, "delete")
	r = runCLI(t, tn.env, "", "webhooks", "get", id)
	mustExit(t, r, exitError, "get after delete")
	if !strings.Contains(r.stderr, "404") {
		t.Errorf("get after delete:\n%s", r.stderr)
	}
}
