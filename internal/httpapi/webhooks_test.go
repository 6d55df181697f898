package httpapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// webhookDoc is the spec's WebhookEndpoint, as the tests read it.
type webhookDoc struct {
	ID                  string   `json:"id"`
	URL                 string   `json:"url"`
	Description         string   `json:"description"`
	SubaccountID        *string  `json:"subaccountId"`
	EventTypes          []string `json:"eventTypes"`
	Status              string   `json:"status"`
	DisabledReason      *string  `json:"disabledReason"`
	SecretRotatingUntil *string  `json:"secretRotatingUntil"`
	Version             int64    `json:"version"`
	Secret              string   `json:"secret"`
}

func (e *env) webhook(r response) webhookDoc {
	e.t.Helper()
	var d webhookDoc
	r.decode(e.t, &d)
	return d
}

// TestWebhookEndpointLifecycle: created with a secret shown once (one the reference
// library accepts), read back without it, changed, disabled and re-enabled, rotated
// (with and without the overlap) and deleted; every change is audited without a secret.
func TestWebhookEndpointLifecycle(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(5))
		tok := e.tenantToken(acct)
		r := e.expect(e.do("POST", "/v1/webhook-endpoints", tok, map[string]any{
			"url": "https://hooks.example.com/acme", "description": "Acme's ERP", "eventTypes": []string{"transaction.routed", "card.enrolled"},
		}), 201)
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		created := e.webhook(r)
		if created.Status != "enabled" || created.SubaccountID != nil || created.Version != 1 || !slices.Equal(created.EventTypes, []string{"transaction.routed", "card.enrolled"}) {
			t.Fatalf("created %+v", created)
		}
		if r.Header.Get("Location") != "/v1/webhook-endpoints/"+created.ID {
			t.Errorf("Location %q", r.Header.Get("Location"))
		}
		if _, err := standardwebhooks.NewWebhook(created.Secret); err != nil || !strings.HasPrefix(created.Secret, "whsec_") {
			t.Fatalf("secret %q: %v", created.Secret, err)
		}
		got := e.expect(e.do("GET", "/v1/webhook-endpoints/"+created.ID, tok, nil), 200)
		if strings.Contains(string(got.Body), strings.TrimPrefix(created.Secret, "whsec_")) || e.webhook(got).Secret != "" {
			t.Fatalf("GET shows the secret: %s", got.Body)
		}
		list := e.expect(e.do("GET", "/v1/webhook-endpoints", tok, nil), 200)
		if strings.Contains(string(list.Body), strings.TrimPrefix(created.Secret, "whsec_")) || !strings.Contains(string(list.Body), created.ID) {
			t.Fatalf("list %s", list.Body)
		}

		changed := e.webhook(e.expect(e.do("PATCH", "/v1/webhook-endpoints/"+created.ID, tok, map[string]any{"url": "https://hooks.example.com/acme/v2", "eventTypes": []string{"*"}}), 200))
		if changed.URL != "https://hooks.example.com/acme/v2" || !slices.Equal(changed.EventTypes, []string{"*"}) || changed.Version != 2 || changed.Description != "Acme's ERP" {
			t.Errorf("changed %+v", changed)
		}
		off := e.webhook(e.expect(e.do("PATCH", "/v1/webhook-endpoints/"+created.ID, tok, map[string]any{"disabled": true}), 200))
		if off.Status != "disabled" || off.DisabledReason == nil || *off.DisabledReason == "" {
			t.Errorf("disabled %+v", off)
		}
		on := e.webhook(e.expect(e.do("PATCH", "/v1/webhook-endpoints/"+created.ID, tok, map[string]any{"disabled": false}), 200))
		if on.Status != "enabled" || on.DisabledReason != nil {
			t.Errorf("re-enabled %+v", on)
		}

		rotated := e.webhook(e.expect(e.do("POST", "/v1/webhook-endpoints/"+created.ID+"/rotate-secret", tok, nil), 200))
		if rotated.Secret == "" || rotated.Secret == created.Secret || rotated.SecretRotatingUntil == nil {
			t.Fatalf("rotated %+v", rotated)
		}
		again := e.webhook(e.expect(e.do("POST", "/v1/webhook-endpoints/"+created.ID+"/rotate-secret?expireOld=now", tok, nil), 200))
		if again.Secret == rotated.Secret || again.SecretRotatingUntil != nil {
			t.Fatalf("rotated with expireOld=now %+v", again)
		}
		e.expect(e.do("POST", "/v1/webhook-endpoints/"+created.ID+"/rotate-secret?expireOld=later", tok, nil), 400)

		e.expect(e.do("DELETE", "/v1/webhook-endpoints/"+created.ID, tok, nil), 204)
		e.expect(e.do("GET", "/v1/webhook-endpoints/"+created.ID, tok, nil), 404)
		e.expect(e.do("DELETE", "/v1/webhook-endpoints/"+created.ID, tok, nil), 404)

		events := e.expect(e.do("GET", "/v1/audit-events?resourceType=webhook-endpoint&limit=100", tok, nil), 200)
		for _, s := range []string{created.Secret, rotated.Secret, again.Secret} {
			if strings.Contains(string(events.Body), strings.TrimPrefix(s, "whsec_")) {
				t.Fatal("the audit log holds a signing secret")
			}
		}
		var page struct {
			Items []struct {
				Action string `json:"action"`
			} `json:"items"`
		}
		events.decode(t, &page)
		var actions []string
		for _, it := range page.Items {
			actions = append(actions, it.Action)
		}
		want := []string{"webhook-endpoint.create", "webhook-endpoint.update", "webhook-endpoint.update", "webhook-endpoint.update", "webhook-endpoint.rotate-secret", "webhook-endpoint.rotate-secret", "webhook-endpoint.delete"}
		if !slices.Equal(actions, want) {
			t.Errorf("audited %v, want %v", actions, want)
		}
	})
}

// TestWebhookEndpointRefusals: bad URLs (private destinations among them), event types
// and descriptions are refused with the field named, and nothing is created.
func TestWebhookEndpointRefusals(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(5))
		tok := e.tenantToken(acct)
		good := func(k string, v any) map[string]any {
			b := map[string]any{"url": "https://hooks.example.com/x", "eventTypes": []string{"card.enrolled"}}
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		tests := []struct {
			name    string
			body    map[string]any
			pointer string
		}{
			{"no url", good("url", nil), "/url"},
			{"http", good("url", "http://hooks.example.com/x"), "/url"},
			{"loopback", good("url", "https://127.0.0.1/x"), "/url"},
			{"localhost", good("url", "https://localhost:8443/x"), "/url"},
			{"private", good("url", "https://10.0.0.7/x"), "/url"},
			{"metadata", good("url", "https://169.254.169.254/latest"), "/url"},
			{"ULA", good("url", "https://[fd12::1]/x"), "/url"},
			{"credentials", good("url", "https://user:pw@hooks.example.com/x"), "/url"},
			{"no event types", good("eventTypes", nil), "/eventTypes"},
			{"empty event types", good("eventTypes", []string{}), "/eventTypes"},
			{"unknown event type", good("eventTypes", []string{"card.exploded"}), "/eventTypes/0"},
			{"star with others", good("eventTypes", []string{"*", "card.enrolled"}), "/eventTypes/0"},
			{"twice", good("eventTypes", []string{"card.enrolled", "card.enrolled"}), "/eventTypes/1"},
			{"card number in description", good("description", "4111 1111 1111 1111"), "/description"},
			{"card number in url", good("url", "https://hooks.example.com/4111111111111111"), "/url"},
			{"long description", good("description", strings.Repeat("d", 256)), "/description"},
			{"disabled on creation", good("disabled", true), "/disabled"},
			{"bad subaccount id", good("subaccountId", "sub-1"), "/subaccountId"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := e.at(t)
				e.checkAPI = false // several bodies break the spec's own constraints on purpose
				p := e.expect(e.do("POST", "/v1/webhook-endpoints", tok, tc.body), 400).problem(t)
				if !slices.Contains(p.pointers(), tc.pointer) {
					t.Errorf("problem names %v, want %s", p.pointers(), tc.pointer)
				}
				if strings.Contains(p.Detail+fmt.Sprint(p.Errors), "4111") {
					t.Error("the problem echoes the card number")
				}
			})
		}
		e.expect(e.do("POST", "/v1/webhook-endpoints", tok, good("subaccountId", uuid.NewString())), 404)
		list := e.expect(e.do("GET", "/v1/webhook-endpoints", tok, nil), 200).json(t)
		if n := len(list["items"].([]any)); n != 0 {
			t.Errorf("%d endpoints after refused creations", n)
		}
	})
}

// TestWebhookEndpointLimit: an account holds at most 50 endpoints.
func TestWebhookEndpointLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	acct := e.newAccount("Acme", usaCanContract(5))
	tok := e.tenantToken(acct)
	body := func(i int) map[string]any {
		return map[string]any{"url": fmt.Sprintf("https://hooks.example.com/%d", i), "eventTypes": []string{"*"}}
	}
	for i := range 50 {
		e.expect(e.do("POST", "/v1/webhook-endpoints", tok, body(i)), 201)
	}
	p := e.expect(e.do("POST", "/v1/webhook-endpoints", tok, body(50)), 403).problem(t)
	if !strings.Contains(p.Type, "provisioning") {
		t.Errorf("problem %+v", p)
	}
	// Pages follow one another without repeats or gaps.
	seen := map[string]bool{}
	cursor := ""
	for range 10 {
		r := e.expect(e.do("GET", "/v1/webhook-endpoints?limit=20"+cursor, tok, nil), 200).json(t)
		for _, it := range r["items"].([]any) {
			seen[it.(map[string]any)["id"].(string)] = true
		}
		next, _ := r["nextCursor"].(string)
		if next == "" {
			break
		}
		cursor = "&cursor=" + next
	}
	if len(seen) != 50 {
		t.Errorf("pages listed %d endpoints, want 50", len(seen))
	}
}

// TestWebhookEndpointsConfined: a client confined to a subaccount creates, sees and
// manages its subaccount's endpoints only; the account's other endpoints are 404 to it.
func TestWebhookEndpointsConfined(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(5))
		tok := e.tenantToken(acct)
		mine := e.newSubaccount(tok, "Mine", []any{cfg([]string{"USA"}, "VISA")})
		other := e.newSubaccount(tok, "Other", []any{cfg([]string{"USA"}, "VISA")})
		id, secret := e.newClient(acct, allTenantScopes, mine)
		confined := e.token(id, secret, "")
		hook := map[string]any{"url": "https://hooks.example.com/h", "eventTypes": []string{"*"}}
		wide := e.webhook(e.expect(e.do("POST", "/v1/webhook-endpoints", tok, hook), 201))
		ofOther := e.webhook(e.expect(e.do("POST", "/v1/webhook-endpoints", tok, map[string]any{"url": "https://hooks.example.com/o", "eventTypes": []string{"*"}, "subaccountId": other}), 201))
		own := e.webhook(e.expect(e.do("POST", "/v1/webhook-endpoints", confined, hook), 201))
		if own.SubaccountID == nil || *own.SubaccountID != mine {
			t.Fatalf("a confined client's endpoint belongs to %v, want its subaccount %s", own.SubaccountID, mine)
		}
		e.expect(e.do("POST", "/v1/webhook-endpoints", confined, map[string]any{"url": "https://hooks.example.com/o", "eventTypes": []string{"*"}, "subaccountId": other}), 404)
		for _, hidden := range []string{wide.ID, ofOther.ID} {
			e.expect(e.do("GET", "/v1/webhook-endpoints/"+hidden, confined, nil), 404)
			e.expect(e.do("PATCH", "/v1/webhook-endpoints/"+hidden, confined, map[string]any{"description": "x"}), 404)
			e.expect(e.do("POST", "/v1/webhook-endpoints/"+hidden+"/rotate-secret", confined, nil), 404)
			e.expect(e.do("DELETE", "/v1/webhook-endpoints/"+hidden, confined, nil), 404)
		}
		list := e.expect(e.do("GET", "/v1/webhook-endpoints", confined, nil), 200)
		if !strings.Contains(string(list.Body), own.ID) || strings.Contains(string(list.Body), wide.ID) || strings.Contains(string(list.Body), ofOther.ID) {
			t.Errorf("the confined list %s", list.Body)
		}
		if n := len(e.expect(e.do("GET", "/v1/webhook-endpoints?subaccountId="+other, confined, nil), 200).json(t)["items"].([]any)); n != 0 {
			t.Errorf("the confined client listed %d endpoints of another subaccount", n)
		}
		if n := len(e.expect(e.do("GET", "/v1/webhook-endpoints?subaccountId="+other, tok, nil), 200).json(t)["items"].([]any)); n != 1 {
			t.Errorf("filter by subaccount listed %d endpoints, want 1", n)
		}
		e.expect(e.do("PATCH", "/v1/webhook-endpoints/"+own.ID, tok, map[string]any{"subaccountId": other}), 400)
	})
}
