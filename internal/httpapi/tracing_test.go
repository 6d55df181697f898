package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/tracing"
)

// tracedEnv is a service whose every span is exported, at once, to an in-memory exporter
// through the same scrubbing pipeline as production's.
func tracedEnv(t *testing.T, dialect string) (*env, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	traces := tracing.New(exp, tracing.Options{Sync: true})
	t.Cleanup(func() { _ = traces.Shutdown(context.Background()) })
	return newEnvWith(t, dialect, envOptions{traces: traces}), exp
}

// waitForSpan returns the exported spans once one is named name (a server span ends as
// its answer is written, which the client may see first).
func waitForSpan(t *testing.T, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStubs {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		spans := exp.GetSpans()
		for _, s := range spans {
			if s.Name == name {
				return spans
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q among %d exported", name, len(spans))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var longDigitRun = regexp.MustCompile(`[0-9]{13,}`)

// spanStrings is every string a span exports: name, string attributes, events and links.
func spanStrings(s tracetest.SpanStub) []string {
	out := []string{s.Name, s.Status.Description}
	add := func(attrs []attribute.KeyValue) {
		for _, a := range attrs {
			out = append(out, string(a.Key)+"="+a.Value.String())
		}
	}
	add(s.Attributes)
	for _, ev := range s.Events {
		out = append(out, ev.Name)
		add(ev.Attributes)
	}
	for _, l := range s.Links {
		add(l.Attributes)
	}
	return out
}

func attr(s tracetest.SpanStub, key string) (string, bool) {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return a.Value.String(), true
		}
	}
	return "", false
}

// TestTraceOfSingleMessage: one POST /v1/transactions is a request span, the group
// commit's span under it (and linked to it), and the group's statements under that; no
// exported name or attribute holds the card number (sent in the message and, by a
// client's mistake, in a path) or a statement's parameter; the request's log lines carry
// its trace id.
func TestTraceOfSingleMessage(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			e, exp := tracedEnv(t, d)
			acct := e.newAccount("Acme", usaCanContract(10))
			tok := e.tenantToken(acct)
			sub := e.newSubaccount(tok, "A", []any{cfg([]string{"USA"}, "VISA")})
			e.enrol(tok, sub, visaPAN, "USA")
			exp.Reset()

			msg := message(visaPAN, "auth")
			msg["amount"] = 987651
			ntid := msg["networkTransactionId"].(string)
			e.expect(e.do("POST", "/v1/transactions", tok, msg), 201)
			spans := waitForSpan(t, exp, "POST /v1/transactions")

			var req, group tracetest.SpanStub
			for _, s := range spans {
				switch s.Name {
				case "POST /v1/transactions":
					req = s
				case "routing.group_commit":
					group = s
				}
			}
			if req.SpanKind != trace.SpanKindServer {
				t.Errorf("request span kind %v, want server", req.SpanKind)
			}
			if route, _ := attr(req, "http.route"); route != "/v1/transactions" {
				t.Errorf("request span http.route %q", route)
			}
			if !group.SpanContext.IsValid() {
				t.Fatalf("no group commit span among %s", names(spans))
			}
			if group.Parent.SpanID() != req.SpanContext.SpanID() || group.SpanContext.TraceID() != req.SpanContext.TraceID() {
				t.Errorf("group span's parent %v, want the request span %v", group.Parent.SpanID(), req.SpanContext.SpanID())
			}
			if !linksTo(group, req.SpanContext) {
				t.Errorf("group span links %v, want a link to the request span", group.Links)
			}
			if n, _ := attr(group, "routing.group.messages"); n != "1" {
				t.Errorf("routing.group.messages = %q, want 1", n)
			}
			statements := statementSpans(t, spans, group)
			if len(statements) == 0 {
				t.Fatalf("the group span has no statement spans among %s", names(spans))
			}
			inserts := 0
			for _, s := range statements {
				if text, _ := attr(s, "db.query.text"); strings.Contains(text, "INSERT INTO transactions") {
					inserts++
				}
			}
			if inserts != 1 {
				t.Errorf("%d statement spans insert the transaction, want 1 (one span per statement): %s", inserts, names(statements))
			}

			// A card number in a path: the span is named by the route, and url.path scrubbed.
			e.do("GET", "/v1/transactions/"+visaPAN, tok, nil)
			spans = waitForSpan(t, exp, "GET /v1/transactions/:transactionId")
			for _, s := range spans {
				if s.Name == "GET /v1/transactions/:transactionId" {
					if p, ok := attr(s, "url.path"); !ok || p != "/v1/transactions/[redacted]" {
						t.Errorf("url.path = %q, want the card number redacted", p)
					}
				}
			}
			for _, s := range spans {
				for _, str := range spanStrings(s) {
					switch {
					case strings.Contains(str, visaPAN) || longDigitRun.MatchString(str):
						t.Errorf("span %q exports a card number: %s", s.Name, str)
					case strings.Contains(str, "987651") || strings.Contains(str, ntid):
						t.Errorf("span %q exports a statement parameter: %s", s.Name, str)
					}
				}
			}

			traceID := req.SpanContext.TraceID().String()
			if !logLineHas(e.logs.String(), "/v1/transactions", traceID) {
				t.Errorf("no access log line of the request carries trace_id %s:\n%s", traceID, e.logs)
			}
		})
	}
}

func linksTo(s tracetest.SpanStub, sc trace.SpanContext) bool {
	for _, l := range s.Links {
		if l.SpanContext.SpanID() == sc.SpanID() && l.SpanContext.TraceID() == sc.TraceID() {
			return true
		}
	}
	return false
}

func names(spans tracetest.SpanStubs) string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s(%s←%s)", s.Name, s.SpanContext.SpanID(), s.Parent.SpanID()))
	}
	return strings.Join(out, ", ")
}

// logLineHas reports whether an access log line for route carries traceID and a span id.
func logLineHas(logs, route, traceID string) bool {
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" || rec["route"] != route {
			continue
		}
		if rec["trace_id"] == traceID && rec["span_id"] != nil {
			return true
		}
	}
	return false
}

// TestUntracedServerStartsNoSpans: without a tracer provider nothing is instrumented, so
// a log line carries no trace ids even when the caller sends a traceparent.
func TestUntracedServerStartsNoSpans(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	e.doHeaders("GET", "/v1/account", e.tenantToken(e.newAccount("Acme", usaCanContract(1))), nil,
		map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
	if strings.Contains(e.logs.String(), "trace_id") {
		t.Errorf("an untraced server logged trace ids:\n%s", e.logs)
	}
}

// statementSpans returns the statement spans under parent: its direct
// children, and on PostgreSQL's pipelines the statements of each "batch"
// span under it (pgx reports a pipeline as a batch span holding one span per
// statement). Every child must be one or the other, and a batch span must
// hold as many statements as its db.operation.batch.size says.
func statementSpans(t *testing.T, spans []tracetest.SpanStub, parent tracetest.SpanStub) []tracetest.SpanStub {
	t.Helper()
	children := func(of tracetest.SpanStub) []tracetest.SpanStub {
		var out []tracetest.SpanStub
		for _, s := range spans {
			if s.Parent.SpanID() == of.SpanContext.SpanID() && s.SpanContext.TraceID() == of.SpanContext.TraceID() {
				out = append(out, s)
			}
		}
		return out
	}
	isStatement := func(s tracetest.SpanStub) bool {
		_, ok := attr(s, "db.query.text")
		return ok && s.SpanKind == trace.SpanKindClient
	}
	var out []tracetest.SpanStub
	for _, c := range children(parent) {
		if isStatement(c) {
			out = append(out, c)
			continue
		}
		size, isBatch := attr(c, "db.operation.batch.size")
		if !isBatch || c.SpanKind != trace.SpanKindClient {
			t.Errorf("child %q (kind %v) of %q is neither a statement nor a batch span: %v", c.Name, c.SpanKind, parent.Name, c.Attributes)
			continue
		}
		inBatch := children(c)
		for _, s := range inBatch {
			if !isStatement(s) {
				t.Errorf("child %q of batch span is no statement span: %v", s.Name, s.Attributes)
			}
		}
		if size != strconv.Itoa(len(inBatch)) {
			t.Errorf("batch span of size %s holds %d statement spans: %s", size, len(inBatch), names(inBatch))
		}
		out = append(out, inBatch...)
	}
	return out
}
