package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	fakeHookID     = "0190a0b0-0000-7000-8000-0000000000e1"
	fakeDeliveryID = "0190a0b0-0000-7000-8000-0000000000d1"
	fakeHookSecret = "whsec_c2VjcmV0LXNob3duLW9ubHktb25jZS0xMjM0NTY3OA=="
)

const hookJSON = `{"id":"` + fakeHookID + `","url":"https://hooks.example.com/in","description":"ops","subaccountId":"` + fakeSubID + `",
	"eventTypes":["card.enrolled","transaction.routed"],"status":"enabled","version":2,
	"createdAt":"2026-12-01T10:00:00.000Z","updatedAt":"2026-12-01T10:05:00.000Z"`

// hookWithSecret is the endpoint as create and rotate answer it.
const hookWithSecret = hookJSON + `,"secretRotatingUntil":"2026-12-02T10:05:00.000Z","secret":"` + fakeHookSecret + `"}`

const deliveryJSON = `{"id":"` + fakeDeliveryID + `","endpointId":"` + fakeHookID + `","eventId":"0190a0b0-0000-7000-8000-0000000000f1",
	"eventType":"webhook.test","status":"pending","nextAttemptAt":"2026-12-01T10:06:00.000Z",
	"attempts":[{"at":"2026-12-01T10:05:01.000Z","statusCode":503,"latencyMs":12,"responseBody":"busy: card 411111******1111"},
		{"at":"2026-12-01T10:05:31.000Z","latencyMs":15000,"error":"timeout","responseBody":""}],
	"createdAt":"2026-12-01T10:05:00.000Z","updatedAt":"2026-12-01T10:05:31.000Z"}`

// webhookFake answers every webhook route with a fixed document.
func webhookFake(t *testing.T) *fakeAPI {
	t.Helper()
	f := newFakeAPI(t)
	doc := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) { writeJSONDoc(w, status, body) }
	}
	base := "/v1/webhook-endpoints"
	one := base + "/" + fakeHookID
	f.handle("POST "+base, doc(201, hookWithSecret))
	f.handle("GET "+base, doc(200, `{"items":[`+hookJSON+`}],"nextCursor":null}`))
	f.handle("GET "+one, doc(200, hookJSON+`}`))
	f.handle("PATCH "+one, doc(200, strings.Replace(hookJSON, `"status":"enabled"`, `"status":"disabled","disabledReason":"manual"`, 1)+`}`))
	f.handle("DELETE "+one, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	f.handle("POST "+one+"/rotate-secret", doc(200, hookWithSecret))
	f.handle("POST "+one+"/test", doc(202, deliveryJSON))
	f.handle("GET "+one+"/deliveries", doc(200, `{"items":[`+deliveryJSON+`],"nextCursor":null}`))
	f.handle("POST "+one+"/deliveries/"+fakeDeliveryID+"/resend", doc(202, deliveryJSON))
	f.handle("POST "+one+"/recover", doc(202, `{"requeued":3}`))
	return f
}

// TestWebhooksRequests runs each subcommand against the fake and checks the request it
// sends (method, path, query, body, Idempotency-Key on the POSTs) and what it prints.
func TestWebhooksRequests(t *testing.T) {
	one := "/v1/webhook-endpoints/" + fakeHookID
	tests := []struct {
		name         string
		args         []string
		method, path string
		// query and body are what the request must carry exactly ("" for none).
		query, body string
		keyed       bool
		out         []string
	}{
		{name: "create", args: []string{"webhooks", "create", "--endpoint-url", "https://hooks.example.com/in", "--event-types", "card.enrolled, transaction.routed",
			"--description", "ops", "--subaccount", fakeSubID},
			method: "POST", path: "/v1/webhook-endpoints",
			body:  `{"url":"https://hooks.example.com/in","description":"ops","subaccountId":"` + fakeSubID + `","eventTypes":["card.enrolled","transaction.routed"]}`,
			keyed: true, out: []string{"id:", fakeHookID, "card.enrolled,transaction.routed", "subaccount:", fakeSubID}},
		{name: "create for every type", args: []string{"webhooks", "create", "--endpoint-url", "https://h.example/x", "--event-types", "*"},
			method: "POST", path: "/v1/webhook-endpoints", body: `{"url":"https://h.example/x","eventTypes":["*"]}`, keyed: true},
		{name: "list", args: []string{"webhooks", "list", "--subaccount", fakeSubID},
			method: "GET", path: "/v1/webhook-endpoints", query: "limit=100&subaccountId=" + fakeSubID,
			out: []string{"ID", "EVENT TYPES", fakeHookID, "enabled", "https://hooks.example.com/in", "ops"}},
		{name: "get", args: []string{"webhooks", "get", fakeHookID}, method: "GET", path: one,
			out: []string{"url:", "https://hooks.example.com/in", "status:", "enabled", "version:", "2"}},
		{name: "update", args: []string{"webhooks", "update", fakeHookID, "--disable", "--event-types", "*", "--description", ""},
			method: "PATCH", path: one, body: `{"description":"","eventTypes":["*"],"disabled":true}`,
			out: []string{"disabled (manual)"}},
		{name: "update --enable", args: []string{"webhooks", "update", fakeHookID, "--enable", "--endpoint-url", "https://new.example/in"},
			method: "PATCH", path: one, body: `{"url":"https://new.example/in","disabled":false}`},
		{name: "delete", args: []string{"webhooks", "delete", fakeHookID}, method: "DELETE", path: one,
			out: []string{"Deleted webhook endpoint " + fakeHookID + "."}},
		{name: "rotate", args: []string{"webhooks", "rotate", fakeHookID}, method: "POST", path: one + "/rotate-secret",
			keyed: true, out: []string{"previous secret:", "still signs until 2026-12-02T10:05:00.000Z"}},
		{name: "rotate --expire-old", args: []string{"webhooks", "rotate", fakeHookID, "--expire-old"}, method: "POST", path: one + "/rotate-secret",
			query: "expireOld=now", keyed: true},
		{name: "test", args: []string{"webhooks", "test", fakeHookID}, method: "POST", path: one + "/test", keyed: true,
			out: []string{"event type:", "webhook.test", "status:", "pending", "attempts:", "2", "Attempts of delivery " + fakeDeliveryID,
				"503, 12 ms", "busy: card 411111******1111", "no answer, 15000 ms: timeout"}},
		{name: "deliveries", args: []string{"webhooks", "deliveries", fakeHookID, "--status", "failed", "--from", "2026-12-01T00:00:00Z", "--to", "2026-12-02T00:00:00Z"},
			method: "GET", path: one + "/deliveries", query: "from=2026-12-01T00%3A00%3A00Z&limit=100&status=failed&to=2026-12-02T00%3A00%3A00Z",
			out: []string{"LAST ATTEMPT", fakeDeliveryID, "webhook.test", "no answer, 15000 ms: timeout", "2026-12-01T10:06:00.000Z"}},
		{name: "deliveries --attempts", args: []string{"webhooks", "deliveries", fakeHookID, "--attempts"},
			method: "GET", path: one + "/deliveries", query: "limit=100",
			out: []string{"Attempts of delivery " + fakeDeliveryID, "RESPONSE BODY", "busy: card 411111******1111"}},
		{name: "resend", args: []string{"webhooks", "resend", fakeHookID, fakeDeliveryID}, method: "POST",
			path: one + "/deliveries/" + fakeDeliveryID + "/resend", keyed: true, out: []string{"id:", fakeDeliveryID}},
		{name: "recover", args: []string{"webhooks", "recover", fakeHookID, "--since", "2026-12-01T00:00:00Z"}, method: "POST",
			path: one + "/recover", body: `{"since":"2026-12-01T00:00:00Z"}`, keyed: true, out: []string{"requeued:", "3 failed deliveries"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := webhookFake(t)
			r := runCLI(t, f.env(), "", tt.args...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			reqs := f.recordedRequests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1: %+v", len(reqs), reqs)
			}
			got := reqs[0]
			if got.method != tt.method || got.path != tt.path || got.query != tt.query || string(got.body) != tt.body {
				t.Errorf("sent %s %s ?%s %s\nwant %s %s ?%s %s", got.method, got.path, got.query, got.body, tt.method, tt.path, tt.query, tt.body)
			}
			key := got.header.Get("Idempotency-Key")
			switch {
			case tt.keyed && !uuidRE.MatchString(key):
				t.Errorf("Idempotency-Key %q is not a UUID", key)
			case tt.keyed && (!strings.Contains(r.stderr, "idempotency key "+key) || !strings.Contains(r.stdout, key)):
				t.Errorf("the generated key is not told:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			case !tt.keyed && key != "":
				t.Errorf("Idempotency-Key %q on a %s", key, tt.method)
			}
			for _, want := range tt.out {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// TestWebhooksSecretShownOnce: create and rotate print the secret exactly once, on its
// own line saying it is shown only now, and with --json only in the API's document.
func TestWebhooksSecretShownOnce(t *testing.T) {
	f := webhookFake(t)
	runs := map[string][]string{
		"create": {"webhooks", "create", "--endpoint-url", "https://hooks.example.com/in", "--event-types", "*"},
		"rotate": {"webhooks", "rotate", fakeHookID},
	}
	for name, args := range runs {
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, f.env(), "", args...)
			if r.code != exitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if n := strings.Count(r.all(), fakeHookSecret); n != 1 || strings.Contains(r.stderr, fakeHookSecret) {
				t.Fatalf("the secret appears %d times (stderr %q)", n, r.stderr)
			}
			if !strings.Contains(r.stdout, "\nsecret: "+fakeHookSecret+" (shown only now; store it)\n") {
				t.Errorf("no secret line:\n%s", r.stdout)
			}

			r = runCLI(t, f.env(), "", append(args, "--json")...)
			m, ok := mustJSON(t, r.stdout).(map[string]any)
			if r.code != exitOK || !ok || m["secret"] != fakeHookSecret || m["id"] != fakeHookID {
				t.Errorf("--json: exit %d %s", r.code, r.stdout)
			}
			if n := strings.Count(r.all(), fakeHookSecret); n != 1 {
				t.Errorf("--json: the secret appears %d times", n)
			}
		})
	}
	// Nothing else shows it: get and list answer without it.
	for _, args := range [][]string{{"webhooks", "get", fakeHookID}, {"webhooks", "list"}} {
		if r := runCLI(t, f.env(), "", args...); strings.Contains(r.all(), "secret:") {
			t.Errorf("%v shows a secret line:\n%s", args, r.stdout)
		}
	}
}

// TestWebhooksReplay: a given --idempotency-key goes out as given and unannounced, and a
// replayed answer says so, and that the secret is the earlier one.
func TestWebhooksReplay(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("POST /v1/webhook-endpoints/"+fakeHookID+"/rotate-secret", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSONDoc(w, 200, hookWithSecret)
	})
	r := runCLI(t, f.env(), "", "webhooks", "rotate", fakeHookID, "--idempotency-key", "rotate-7")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := f.recordedRequests()[0].header.Get("Idempotency-Key"); got != "rotate-7" || strings.Contains(r.stderr, "idempotency key") {
		t.Errorf("key %q, stderr %q", got, r.stderr)
	}
	for _, want := range []string{"replayed:", "nothing was done again", "secret: " + fakeHookSecret + " (the secret of the earlier answer; store it)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = runCLI(t, f.env(), "", "--json", "webhooks", "rotate", fakeHookID, "--idempotency-key", "rotate-7")
	if !strings.Contains(r.stderr, "was used before") || mustJSON(t, r.stdout).(map[string]any)["secret"] != fakeHookSecret {
		t.Errorf("--json replay: stdout %s stderr %q", r.stdout, r.stderr)
	}
}

// TestWebhooksDeliveriesPages: deliveries follows nextCursor like every list and stops
// at --limit.
func TestWebhooksDeliveriesPages(t *testing.T) {
	path := "/v1/webhook-endpoints/" + fakeHookID + "/deliveries"
	f := pagedFake(t, path, 150, func(i int) string {
		return strings.Replace(deliveryJSON, fakeDeliveryID, "delivery-"+strings.Repeat("x", i%3)+string(rune('a'+i%26)), 1)
	})
	r := runCLI(t, f.env(), "", "webhooks", "deliveries", fakeHookID, "--limit", "120", "--status", "pending")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 121 {
		t.Errorf("%d lines, want a header and 120 rows", len(lines))
	}
	var got []string
	for _, req := range f.recordedRequests() {
		q, _ := url.ParseQuery(req.query)
		got = append(got, q.Get("limit")+"@"+q.Get("cursor"))
		if q.Get("status") != "pending" {
			t.Errorf("status not sent on every page: %q", req.query)
		}
	}
	if strings.Join(got, ",") != "100@,20@100" {
		t.Errorf("pages %v", got)
	}
	r = runCLI(t, f.env(), "", "--json", "webhooks", "deliveries", fakeHookID)
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 150 {
		t.Errorf("--json: %d items, want 150", len(arr))
	}
}

// TestWebhooksUsageErrors: a bad command line is exit 2 with the synopsis, and sends
// nothing.
func TestWebhooksUsageErrors(t *testing.T) {
	f := webhookFake(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"create without url", []string{"webhooks", "create", "--event-types", "*"}, "--endpoint-url is required"},
		{"create without event types", []string{"webhooks", "create", "--endpoint-url", "https://x.example"}, "--event-types is required"},
		{"empty event type", []string{"webhooks", "create", "--endpoint-url", "https://x.example", "--event-types", "card.enrolled,,"}, "empty event type"},
		{"update with nothing", []string{"webhooks", "update", fakeHookID}, "nothing to change"},
		{"disable and enable", []string{"webhooks", "update", fakeHookID, "--disable", "--enable"}, "exclude each other"},
		{"bad status", []string{"webhooks", "deliveries", fakeHookID, "--status", "done"}, "--status must be pending, delivered or failed"},
		{"bad from", []string{"webhooks", "deliveries", fakeHookID, "--from", "yesterday"}, "--from must be an RFC 3339 time"},
		{"recover without since", []string{"webhooks", "recover", fakeHookID}, "--since is required"},
		{"recover bad since", []string{"webhooks", "recover", fakeHookID, "--since", "2026-12-01"}, "--since must be an RFC 3339 time"},
		{"resend without delivery", []string{"webhooks", "resend", fakeHookID}, "missing argument"},
		{"bad key", []string{"webhooks", "test", fakeHookID, "--idempotency-key", "has space"}, "visible ASCII"},
		{"unknown subcommand", []string{"webhooks", "ping"}, "webhooks has: create, list, get, update, delete, rotate, test, deliveries, resend, recover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, f.env(), "", tt.args...)
			if r.code != exitError || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "usage: subaccountctl") || r.stdout != "" {
				t.Errorf("exit %d stdout %q stderr:\n%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	if n := len(f.recordedRequests()); n != 0 {
		t.Errorf("%d requests sent for bad command lines", n)
	}
}

// TestWebhooksProblem: an error answer is the CLI's problem output and exit 2; a server
// error on a keyed POST says how to repeat it safely, a refusal does not.
func TestWebhooksProblem(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("POST /v1/webhook-endpoints", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 400, `{"type":"/problems/validation","title":"The request is not valid","status":400,
			"errors":[{"pointer":"/eventTypes/1","detail":"is not an event type of the catalogue"},{"pointer":"/url","detail":"must use https"}]}`)
	})
	f.handle("GET /v1/webhook-endpoints/{id}", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 404, `{"type":"/problems/not-found","title":"The webhook endpoint does not exist","status":404}`)
	})
	f.handle("POST /v1/webhook-endpoints/{id}/test", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, 503, `{"type":"/problems/unavailable","title":"The service is unavailable","status":503,"requestId":"req-3"}`)
	})
	r := runCLI(t, f.env(), "", "webhooks", "create", "--endpoint-url", "http://x.example", "--event-types", "card.enrolled,card.nope")
	if r.code != exitError || r.stdout != "" {
		t.Fatalf("exit %d stdout %q", r.code, r.stdout)
	}
	for _, want := range []string{"subaccountctl webhooks create: POST /v1/webhook-endpoints failed:\n", "400 The request is not valid (/problems/validation)",
		"/eventTypes/1: is not an event type of the catalogue", "/url: must use https"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "hint:") {
		t.Errorf("a refusal came with retry advice:\n%s", r.stderr)
	}
	r = runCLI(t, f.env(), "", "webhooks", "get", "nope")
	if r.code != exitError || !strings.Contains(r.stderr, "GET /v1/webhook-endpoints/nope failed:") || !strings.Contains(r.stderr, "404 The webhook endpoint does not exist") {
		t.Errorf("404: exit %d stderr:\n%s", r.code, r.stderr)
	}
	r = runCLI(t, f.env(), "", "webhooks", "test", fakeHookID, "--idempotency-key", "k-1")
	if r.code != exitError || !strings.Contains(r.stderr, "503 The service is unavailable") ||
		!strings.Contains(r.stderr, "hint: the request may or may not have taken effect; repeat the command with --idempotency-key k-1") {
		t.Errorf("503: exit %d stderr:\n%s", r.code, r.stderr)
	}
}
