package main

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// collector is an OTLP/HTTP receiver: it decodes what is posted to /v1/traces.
type collector struct {
	url   string
	mu    sync.Mutex
	spans []*tracepb.Span
	// services are the service.name resource attributes seen.
	services map[string]bool
}

func newCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{services: map[string]bool{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		var req coltracepb.ExportTraceServiceRequest
		if err != nil || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "undecodable", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, a := range rs.GetResource().GetAttributes() {
				if a.GetKey() == "service.name" {
					c.services[a.GetValue().GetStringValue()] = true
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				c.spans = append(c.spans, ss.GetSpans()...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// trace returns the spans received of the trace traceID, by name.
func (c *collector) trace(traceID []byte) map[string][]*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]*tracepb.Span{}
	for _, s := range c.spans {
		if bytes.Equal(s.GetTraceId(), traceID) {
			out[s.GetName()] = append(out[s.GetName()], s)
		}
	}
	return out
}

// hookReceiver is a webhook endpoint keeping each delivery's traceparent.
type hookReceiver struct {
	url          string
	mu           sync.Mutex
	traceparents []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.traceparents = append(h.traceparents, r.Header.Get("traceparent"))
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hook"
	return h
}

func (h *hookReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.traceparents...)
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestTraces runs the service with OTEL_EXPORTER_OTLP_ENDPOINT set: a message sent with
// the caller's traceparent is traced into that trace (request, group commit, statements)
// and exported to a real OTLP/HTTP receiver; its transaction.routed webhook carries a
// traceparent of the same trace, naming the attempt's span, which is the request's
// child; the request's log lines carry the trace id.
func TestTraces(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			col := newCollector(t)
			hooks := newHookReceiver(t)
			env := map[string]string{
				"DATA_DIR": t.TempDir(), "ADMIN_CLIENT_ID": failAdminID, "ADMIN_CLIENT_SECRET": failAdminSecret,
				"WEBHOOK_ALLOW_PRIVATE_NETWORKS": "true",
				"OTEL_EXPORTER_OTLP_ENDPOINT":    col.url, "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_SERVICE_NAME": "subaccountd-traces-test",
			}
			if dialect == "postgres" {
				env["DATABASE_URL"] = storetest.PostgresURL(t)
				env["MASTER_KEY"] = testMasterKey
			}
			s := start(t, env)
			e := setUpTenant(t, s)
			code, client := setupCall(t, "POST", s.url+"/v1/accounts/"+e.accountID+"/clients", e.op, map[string]any{
				"name": "hooks", "scopes": []string{"webhooks:write"},
			})
			if code != 201 {
				t.Fatalf("create client: %d %v", code, client)
			}
			hookTok := setupToken(t, s.url, client["clientId"].(string), client["clientSecret"].(string))
			if code, ep := setupCall(t, "POST", s.url+"/v1/webhook-endpoints", hookTok, map[string]any{
				"url": hooks.url, "eventTypes": []string{"transaction.routed"},
			}); code != 201 {
				t.Fatalf("create endpoint: %d %v", code, ep)
			}

			traceID, callerSpan := randomHex(t, 16), randomHex(t, 8)
			b, _ := json.Marshal(e.message("traced-" + randomHex(t, 4)))
			req, _ := http.NewRequest("POST", s.url+"/v1/transactions", bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+e.tenant)
			req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("ingest: %d", resp.StatusCode)
			}

			waitUntil(t, "the webhook delivery", 20*time.Second, func() bool { return len(hooks.received()) > 0 })
			got := hooks.received()[0]
			parts := strings.Split(got, "-")
			if len(parts) != 4 || parts[0] != "00" || parts[1] != traceID || parts[2] == callerSpan {
				t.Fatalf("delivery traceparent %q, want trace %s continued by a span of the service's", got, traceID)
			}

			tid, _ := hex.DecodeString(traceID)
			want := []string{"POST /v1/transactions", "routing.group_commit", "webhooks.deliver", "INSERT"}
			var spans map[string][]*tracepb.Span
			waitUntil(t, "the trace's spans at the collector", 20*time.Second, func() bool {
				spans = col.trace(tid)
				for _, name := range want {
					if len(spans[name]) == 0 {
						return false
					}
				}
				return true
			})
			reqSpan, deliver := spans["POST /v1/transactions"][0], spans["webhooks.deliver"][0]
			if hex.EncodeToString(reqSpan.GetParentSpanId()) != callerSpan {
				t.Errorf("request span's parent %x, want the caller's span %s", reqSpan.GetParentSpanId(), callerSpan)
			}
			if hex.EncodeToString(deliver.GetSpanId()) != parts[2] {
				t.Errorf("the delivery's traceparent names span %s, the attempt span is %x", parts[2], deliver.GetSpanId())
			}
			if !bytes.Equal(deliver.GetParentSpanId(), reqSpan.GetSpanId()) || deliver.GetKind() != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("attempt span (kind %v) has parent %x, want a client span under the request span %x", deliver.GetKind(), deliver.GetParentSpanId(), reqSpan.GetSpanId())
			}
			col.mu.Lock()
			named := col.services["subaccountd-traces-test"]
			col.mu.Unlock()
			if !named {
				t.Error("no span carried service.name from OTEL_SERVICE_NAME")
			}
			if !strings.Contains(s.stderr.String(), `"trace_id":"`+traceID+`"`) {
				t.Error("no log line carries the request's trace_id")
			}
			if err := s.stop(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		})
	}
}
