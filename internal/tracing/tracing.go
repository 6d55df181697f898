// Package tracing sets up OpenTelemetry traces for subaccountd: the SDK's tracer
// provider exporting OTLP over HTTP when an OTLP endpoint is configured, and a no-op
// provider otherwise, so that a service without a collector pays nothing. It also holds
// the adapters that put spans around database statements (pgx's QueryTracer for
// PostgreSQL, gorm callbacks for SQLite) and the exporter wrapper that keeps card numbers
// out of everything exported.
//
// The rest of the service sees only the OpenTelemetry API (go.opentelemetry.io/otel/trace):
// the HTTP layer, the group commit and the webhook worker are handed a TracerProvider.
package tracing

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Tracing is the service's tracer provider and what goes with it. The zero value and
// Off() trace nothing.
type Tracing struct {
	sdk *sdktrace.TracerProvider
}

// Off returns a Tracing that records nothing.
func Off() *Tracing { return &Tracing{} }

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t != nil && t.sdk != nil }

// TracerProvider is the provider the instrumented parts start their spans from, or nil
// when tracing is off: each of them then skips its instrumentation altogether (no
// middleware, no span bookkeeping), which costs less than a no-op provider.
func (t *Tracing) TracerProvider() trace.TracerProvider {
	if !t.Enabled() {
		return nil
	}
	return t.sdk
}

// Propagator is how trace context crosses process boundaries: W3C trace context
// (traceparent, tracestate) only. Baggage is not accepted, since a caller's baggage
// would be copied into every outgoing webhook.
func Propagator() propagation.TextMapPropagator { return propagation.TraceContext{} }

// QueryTracer returns pgx's tracer for PostgreSQL connections, or nil when tracing is
// off, so the pool pays nothing.
func (t *Tracing) QueryTracer() pgx.QueryTracer {
	if !t.Enabled() {
		return nil
	}
	return newQueryTracer(t.sdk)
}

// GormPlugin returns the gorm plugin tracing SQLite's statements, or nil when tracing
// is off. PostgreSQL's statements are traced by QueryTracer instead, one level lower,
// so they must not get this plugin too (each statement would have two spans).
func (t *Tracing) GormPlugin() gorm.Plugin {
	if !t.Enabled() {
		return nil
	}
	return newGormPlugin(t.sdk, "sqlite")
}

// Shutdown flushes the spans still queued and stops the exporter, within ctx.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if !t.Enabled() {
		return nil
	}
	if err := t.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// Options shape a Tracing built by New.
type Options struct {
	// ServiceName is the resource's service.name (default DefaultServiceName).
	ServiceName string
	// Resource holds more resource attributes (OTEL_RESOURCE_ATTRIBUTES).
	Resource map[string]string
	// Sampler decides which traces are recorded (default: parent-based, always on).
	Sampler sdktrace.Sampler
	// Batch tunes the batch span processor (OTEL_BSP_*).
	Batch []sdktrace.BatchSpanProcessorOption
	// Sync exports every span as it ends instead of in batches: for tests only.
	Sync bool
}

// DefaultServiceName is service.name when OTEL_SERVICE_NAME is not set.
const DefaultServiceName = "subaccountd"

// New returns a Tracing exporting to exp, through the wrapper that scrubs card-number-like
// digit runs from every exported name and string attribute.
func New(exp sdktrace.SpanExporter, opts Options) *Tracing {
	name := opts.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{semconv.ServiceName(name)}
	for k, v := range opts.Resource {
		if k != string(semconv.ServiceNameKey) {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	sampler := opts.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	scrubbed := scrubbingExporter{exp}
	var processor sdktrace.SpanProcessor
	if opts.Sync {
		processor = sdktrace.NewSimpleSpanProcessor(scrubbed)
	} else {
		processor = sdktrace.NewBatchSpanProcessor(scrubbed, opts.Batch...)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
		sdktrace.WithSampler(sampler),
		sdktrace.WithSpanProcessor(processor),
	)
	return &Tracing{sdk: tp}
}

// Setup builds the service's Tracing from the standard OTEL_* variables read through
// getenv: on, exporting OTLP over HTTP, when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set and OTEL_SDK_DISABLED is not true; off
// otherwise. A variable that is set but unreadable stops the start.
func Setup(ctx context.Context, getenv func(string) string) (*Tracing, error) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	if !cfg.Enabled {
		return Off(), nil
	}
	// The exporter reads OTEL_EXPORTER_OTLP_{,TRACES_}HEADERS, _TIMEOUT, _COMPRESSION
	// and the certificate variables from the process environment itself; the endpoint,
	// read here through getenv, overrides its own reading.
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.EndpointURL))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return New(exp, cfg.Options), nil
}

// errConfig marks configuration errors.
var errConfig = errors.New("invalid tracing configuration")
