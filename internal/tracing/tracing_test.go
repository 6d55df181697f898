package tracing_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/config"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/tracing"
)

func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		vars     map[string]string
		enabled  bool
		endpoint string
		batch    int
		bad      string // the variable an error must name
	}{
		{name: "nothing set: off", vars: nil},
		{name: "generic endpoint", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318"},
			enabled: true, endpoint: "http://jaeger:4318/v1/traces"},
		{name: "generic endpoint with a trailing slash", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example/base/"},
			enabled: true, endpoint: "https://otel.example/base/v1/traces"},
		{name: "traces endpoint as given, before the generic one", vars: map[string]string{
			"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://b:4318/custom"},
			enabled: true, endpoint: "http://b:4318/custom"},
		{name: "SDK disabled", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_SDK_DISABLED": "TRUE"}},
		{name: "exporter none", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "none"}},
		{name: "batch variables", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BSP_EXPORT_TIMEOUT": "2000", "OTEL_BSP_MAX_QUEUE_SIZE": "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "5"},
			enabled: true, endpoint: "http://a:4318/v1/traces", batch: 4},
		{name: "endpoint not a URL", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "jaeger:4318"}, bad: "OTEL_EXPORTER_OTLP_ENDPOINT"},
		{name: "grpc protocol", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, bad: "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{name: "unknown exporter", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_EXPORTER": "zipkin"}, bad: "OTEL_TRACES_EXPORTER"},
		{name: "unknown sampler", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_TRACES_SAMPLER": "sometimes"}, bad: "OTEL_TRACES_SAMPLER"},
		{name: "ratio out of range", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318",
			"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, bad: "OTEL_TRACES_SAMPLER_ARG"},
		{name: "batch delay not a number", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_BSP_SCHEDULE_DELAY": "5s"}, bad: "OTEL_BSP_SCHEDULE_DELAY"},
		{name: "resource attributes without =", vars: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_RESOURCE_ATTRIBUTES": "prod"}, bad: "OTEL_RESOURCE_ATTRIBUTES"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := tracing.LoadConfig(envOf(c.vars))
			if c.bad != "" {
				if err == nil || !strings.Contains(err.Error(), c.bad) {
					t.Fatalf("err %v, want one naming %s", err, c.bad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Enabled != c.enabled || cfg.EndpointURL != c.endpoint || len(cfg.Options.Batch) != c.batch {
				t.Errorf("enabled %v, endpoint %q, %d batch options; want %v, %q, %d", cfg.Enabled, cfg.EndpointURL, len(cfg.Options.Batch), c.enabled, c.endpoint, c.batch)
			}
		})
	}
}

func TestResourceAttributesAndSampler(t *testing.T) {
	t.Parallel()
	cfg, err := tracing.LoadConfig(envOf(map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment.name=prod,team=card%20ops",
		"OTEL_TRACES_SAMPLER": "always_off",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Options.Resource; got["deployment.environment.name"] != "prod" || got["team"] != "card ops" {
		t.Errorf("resource %v", got)
	}
	exp := tracetest.NewInMemoryExporter()
	cfg.Options.Sync = true
	tr := tracing.New(exp, cfg.Options)
	_, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "dropped")
	span.End()
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("always_off exported %d spans", n)
	}
}

// TestReadsOnlyListedVariables: every variable the tracing set-up reads is in
// config.Variables, so --help and the README's table name it.
func TestReadsOnlyListedVariables(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, v := range config.Variables {
		known[v.Name] = true
	}
	var mu sync.Mutex
	read := map[string]bool{}
	getenv := func(k string) string {
		mu.Lock()
		defer mu.Unlock()
		read[k] = true
		if k == "OTEL_EXPORTER_OTLP_ENDPOINT" {
			return "http://127.0.0.1:4318"
		}
		return ""
	}
	if _, err := tracing.LoadConfig(getenv); err != nil {
		t.Fatal(err)
	}
	if len(read) < 5 {
		t.Fatalf("LoadConfig read only %v", read)
	}
	for k := range read {
		if !known[k] {
			t.Errorf("tracing reads %s, which config.Variables does not list", k)
		}
	}
}

func TestOff(t *testing.T) {
	t.Parallel()
	tr, err := tracing.Setup(context.Background(), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Enabled() || tr.TracerProvider() != nil || tr.QueryTracer() != nil || tr.GormPlugin() != nil {
		t.Error("tracing without an endpoint is not entirely off")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	var none *tracing.Tracing
	if none.Enabled() || none.TracerProvider() != nil {
		t.Error("a nil Tracing traces")
	}
}

// TestExportScrubsCardNumbers: whatever an instrumentation records, no exported name,
// string attribute, event, link attribute or status holds a card-number-like digit run;
// shorter digit runs and other values are exported as recorded.
func TestExportScrubsCardNumbers(t *testing.T) {
	t.Parallel()
	const pan = "4111111111111111"
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.New(exp, tracing.Options{Sync: true})
	tracer := tr.TracerProvider().Tracer("t")
	_, other := tracer.Start(context.Background(), "other")
	other.End()
	link := trace.Link{SpanContext: other.SpanContext(), Attributes: []attribute.KeyValue{attribute.String("why", "card "+pan)}}
	_, span := tracer.Start(context.Background(), "GET /cards/"+pan, trace.WithLinks(link))
	span.SetAttributes(
		attribute.String("url.path", "/v1/cards/"+pan+"/x"),
		attribute.StringSlice("list", []string{"ok", pan}),
		attribute.String("short", "123456789012"),
	)
	span.AddEvent("saw "+pan, trace.WithAttributes(attribute.String("detail", pan)))
	span.SetStatus(codes.Error, "bad card "+pan)
	span.End()
	// Not shut down here: the in-memory exporter forgets its spans on shutdown.

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans exported", len(spans))
	}
	s := spans[1]
	var all []string
	all = append(all, s.Name, s.Status.Description)
	for _, a := range s.Attributes {
		all = append(all, a.Value.String())
	}
	for _, ev := range s.Events {
		all = append(all, ev.Name)
		for _, a := range ev.Attributes {
			all = append(all, a.Value.String())
		}
	}
	for _, l := range s.Links {
		for _, a := range l.Attributes {
			all = append(all, a.Value.String())
		}
	}
	for _, v := range all {
		if strings.Contains(v, pan) {
			t.Errorf("exported %q", v)
		}
	}
	if s.Name != "GET /cards/[redacted]" {
		t.Errorf("name %q", s.Name)
	}
	want := map[string]string{"url.path": "/v1/cards/[redacted]/x", "list": `["ok","[redacted]"]`, "short": "123456789012"}
	for _, a := range s.Attributes {
		if w, ok := want[string(a.Key)]; ok && a.Value.String() != w {
			t.Errorf("%s = %s, want %s", a.Key, a.Value.String(), w)
		}
	}
	if spans[0].Name != "other" {
		t.Errorf("a span without card data changed: %q", spans[0].Name)
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"": "",
		"/v1/subaccounts/0193a5d1-7c2e-7000-8000-123456789012": "/v1/subaccounts/0193a5d1-7c2e-7000-8000-123456789012",
		"4111111111111111":                "[redacted]",
		"a4111111111111b5555555555554444": "a[redacted]b[redacted]",
		"1234567890123":                   "[redacted]",
		"123456789012":                    "123456789012",
	}
	for in, want := range cases {
		if got := tracing.Scrub(in); got != want {
			t.Errorf("Scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestStatementSpans: on both databases a statement gets a span only under a recording
// span, as its child, with its text and without its parameters; a statement without
// one (a background poll) starts no trace.
func TestStatementSpans(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			exp := tracetest.NewInMemoryExporter()
			tr := tracing.New(exp, tracing.Options{Sync: true})
			db := storetest.OpenWith(t, d, store.Options{QueryTracer: tr.QueryTracer(), SQLitePlugin: tr.GormPlugin()})
			ctx := context.Background()
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			if n := len(exp.GetSpans()); n != 0 {
				t.Fatalf("statements without a parent span exported %d spans", n)
			}
			ctx, parent := tr.TracerProvider().Tracer("t").Start(ctx, "parent")
			if _, err := db.GetClient(ctx, "no-such-client-4111111111111111"); err == nil {
				t.Fatal("found a client that does not exist")
			}
			parent.End()
			spans := exp.GetSpans()
			var statements int
			for _, s := range spans {
				if s.Name == "parent" {
					continue
				}
				statements++
				if s.Parent.SpanID() != parent.SpanContext().SpanID() {
					t.Errorf("statement span %q is not the parent's child", s.Name)
				}
				var text string
				for _, a := range s.Attributes {
					if a.Key == "db.query.text" {
						text = a.Value.AsString()
					}
					if strings.Contains(a.Value.String(), "no-such-client") {
						t.Errorf("statement span %q records a parameter: %s=%s", s.Name, a.Key, a.Value.String())
					}
				}
				if s.Name != "SELECT" || !strings.Contains(text, "oauth_clients") {
					t.Errorf("statement span %q with text %q, want SELECT … oauth_clients", s.Name, text)
				}
			}
			if statements != 1 {
				t.Errorf("%d statement spans for one statement, want 1", statements)
			}
		})
	}
}
