package webhooks_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/webhooks"
)

func TestNewSecretForm(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		s := webhooks.NewSecret()
		if !strings.HasPrefix(s, "whsec_") || len(s) != len("whsec_")+44 {
			t.Fatalf("secret %q is not whsec_ + base64 of 32 bytes", s)
		}
		if seen[s] {
			t.Fatalf("secret %q generated twice", s)
		}
		seen[s] = true
		// The reference implementation accepts it as a secret.
		if _, err := standardwebhooks.NewWebhook(s); err != nil {
			t.Fatalf("standardwebhooks.NewWebhook(%q): %v", s, err)
		}
	}
}

// TestSignVerifiedByReference: a message signed here verifies with the Standard Webhooks
// library, with the new or the old secret during a rotation, and with neither once the
// body, the id or the timestamp changes.
func TestSignVerifiedByReference(t *testing.T) {
	t.Parallel()
	current, old, other := webhooks.NewSecret(), webhooks.NewSecret(), webhooks.NewSecret()
	msg := webhooks.Message{ID: "evt_" + uuid.NewString(), EventType: "transaction.routed", SubaccountID: uuid.NewString(), Body: []byte(`{"type":"transaction.routed","timestamp":"2026-12-07T10:00:00.000Z","data":{"id":"x"}}`)}
	at := time.Now()
	verify := func(t *testing.T, secret string, req *http.Request, body []byte) error {
		t.Helper()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.Verify(body, req.Header)
	}
	tests := []struct {
		name    string
		signers []string
		verify  string
		mutate  func(h http.Header, body []byte) []byte
		ok      bool
	}{
		{"one secret", []string{current}, current, nil, true},
		{"rotation, new secret", []string{current, old}, current, nil, true},
		{"rotation, old secret", []string{current, old}, old, nil, true},
		{"after expiry, old secret", []string{current}, old, nil, false},
		{"another endpoint's secret", []string{current, old}, other, nil, false},
		{"body changed", []string{current}, current, func(_ http.Header, b []byte) []byte { return append(bytes.Clone(b), ' ') }, false},
		{"id changed", []string{current}, current, func(h http.Header, b []byte) []byte { h.Set("webhook-id", "evt_other"); return b }, false},
		{"timestamp changed", []string{current}, current, func(h http.Header, b []byte) []byte {
			h.Set("webhook-timestamp", strconv.FormatInt(at.Unix()+1, 10))
			return b
		}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := msg.Request("https://receiver.example/hook", at, tc.signers...)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(req.Body)
			if !bytes.Equal(body, msg.Body) {
				t.Fatalf("request body %q, want the message body", body)
			}
			if tc.mutate != nil {
				body = tc.mutate(req.Header, body)
			}
			err = verify(t, tc.verify, req, body)
			if (err == nil) != tc.ok {
				t.Errorf("Verify = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestRequestHeaders(t *testing.T) {
	t.Parallel()
	secret := webhooks.NewSecret()
	at := time.Unix(1796640000, 0)
	for _, tc := range []struct {
		name, subaccount string
	}{{"subaccount event", uuid.NewString()}, {"account event", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			m := webhooks.Message{ID: "evt_1", EventType: "card.enrolled", SubaccountID: tc.subaccount, Body: []byte(`{}`)}
			req, err := m.Request("https://receiver.example/hook", at, secret, webhooks.NewSecret())
			if err != nil {
				t.Fatal(err)
			}
			h := req.Header
			if req.Method != http.MethodPost || h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "cardseg-subaccounts-webhooks/") {
				t.Errorf("method %s, content type %q, user agent %q", req.Method, h.Get("Content-Type"), h.Get("User-Agent"))
			}
			if h.Get("webhook-id") != "evt_1" || h.Get("webhook-timestamp") != "1796640000" || h.Get("webhook-event-type") != "card.enrolled" {
				t.Errorf("headers %v", h)
			}
			if got := h.Values("webhook-subaccount-id"); tc.subaccount == "" && len(got) != 0 || tc.subaccount != "" && (len(got) != 1 || got[0] != tc.subaccount) {
				t.Errorf("webhook-subaccount-id %q, want %q", got, tc.subaccount)
			}
			if sigs := strings.Split(h.Get("webhook-signature"), " "); len(sigs) != 2 || !strings.HasPrefix(sigs[0], "v1,") || !strings.HasPrefix(sigs[1], "v1,") {
				t.Errorf("webhook-signature %q, want two v1 signatures", h.Get("webhook-signature"))
			}
		})
	}
}

func TestSignRefusesBadSecret(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "secret", "whsec_", "whsec_!!!", "Whsec_" + strings.TrimPrefix(webhooks.NewSecret(), "whsec_")} {
		if sig, err := webhooks.Sign("evt", time.Now(), []byte("{}"), s); err == nil {
			t.Errorf("Sign with secret %q = %q, want an error", s, sig)
		}
	}
}

// TestSealedSecret: a sealed secret opens for its own endpoint only, and the sealed form
// does not contain the secret.
func TestSealedSecret(t *testing.T) {
	t.Parallel()
	ring := keystest.Ring(t)
	acct, ep := uuid.New(), uuid.New()
	secret := webhooks.NewSecret()
	sealed, err := webhooks.SealSecret(ring, acct, ep, secret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, strings.TrimPrefix(secret, "whsec_")) {
		t.Fatalf("sealed form %q holds the secret", sealed)
	}
	got, err := webhooks.OpenSecret(ring, acct, ep, sealed)
	if err != nil || got != secret {
		t.Fatalf("OpenSecret = %q, %v; want the secret", got, err)
	}
	for name, ids := range map[string][2]uuid.UUID{"other endpoint": {acct, uuid.New()}, "other account": {uuid.New(), ep}} {
		if _, err := webhooks.OpenSecret(ring, ids[0], ids[1], sealed); err == nil {
			t.Errorf("%s: the sealed secret opened", name)
		}
	}
	if _, err := webhooks.SealSecret(ring, acct, ep, "not-a-secret"); err == nil {
		t.Error("SealSecret accepted a value that is not a whsec_ secret")
	}
}

// receiver is a test receiver that counts what reaches it.
func receiver(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/target", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}
