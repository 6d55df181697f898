package tracing

import (
	"context"
	"errors"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
)

// Statement spans follow one rule on both databases: a span per statement, named by its
// operation (SELECT, INSERT, WITH, …), a child of the span in the statement's context,
// and only when that span is recording, so the background loops (delivery polls, the
// audit chainer) start no traces of their own. db.query.text is the statement as sent,
// with placeholders: parameters are never recorded.

// statementTracer is otelpgx's tracer for queries, batches and copies only. pgx prepares
// a statement inside its first run on a connection, and the prepare (like a connect)
// would be a second span for the same statement: its time stays in the statement's span.
type statementTracer struct{ t *otelpgx.Tracer }

func newQueryTracer(tp trace.TracerProvider) pgx.QueryTracer {
	return statementTracer{otelpgx.NewTracer(
		otelpgx.WithTracerProvider(tp),
		// Metrics are the Prometheus collector's business; otelpgx's stay no-ops.
		otelpgx.WithMeterProvider(metricnoop.NewMeterProvider()),
	)}
}

func (s statementTracer) TraceQueryStart(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return s.t.TraceQueryStart(ctx, c, d)
}

func (s statementTracer) TraceQueryEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceQueryEndData) {
	s.t.TraceQueryEnd(ctx, c, d)
}

func (s statementTracer) TraceBatchStart(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	return s.t.TraceBatchStart(ctx, c, d)
}

func (s statementTracer) TraceBatchQuery(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchQueryData) {
	s.t.TraceBatchQuery(ctx, c, d)
}

func (s statementTracer) TraceBatchEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceBatchEndData) {
	s.t.TraceBatchEnd(ctx, c, d)
}

func (s statementTracer) TraceCopyFromStart(ctx context.Context, c *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	return s.t.TraceCopyFromStart(ctx, c, d)
}

func (s statementTracer) TraceCopyFromEnd(ctx context.Context, c *pgx.Conn, d pgx.TraceCopyFromEndData) {
	s.t.TraceCopyFromEnd(ctx, c, d)
}

// gormPlugin puts a span around each statement gorm runs, for the embedded SQLite
// database, whose driver has no tracing hook of its own.
type gormPlugin struct {
	tracer trace.Tracer
	system attribute.KeyValue
}

func newGormPlugin(tp trace.TracerProvider, system string) gorm.Plugin {
	return gormPlugin{tracer: tp.Tracer("github.com/cardseg/subaccounts/internal/tracing/gorm"), system: semconv.DBSystemNameKey.String(system)}
}

// Name implements gorm.Plugin.
func (gormPlugin) Name() string { return "subaccounts:tracing" }

// spanKey is where a statement's span waits between the before and after callbacks.
const spanKey = "subaccounts:tracing:span"

// Initialize implements gorm.Plugin: a callback before and after each kind of statement.
func (p gormPlugin) Initialize(db *gorm.DB) error {
	cb := db.Callback()
	regs := []struct {
		name   string
		before func(string, func(*gorm.DB)) error
		after  func(string, func(*gorm.DB)) error
	}{
		{"create", cb.Create().Before("gorm:create").Register, cb.Create().After("gorm:create").Register},
		{"query", cb.Query().Before("gorm:query").Register, cb.Query().After("gorm:query").Register},
		{"update", cb.Update().Before("gorm:update").Register, cb.Update().After("gorm:update").Register},
		{"delete", cb.Delete().Before("gorm:delete").Register, cb.Delete().After("gorm:delete").Register},
		{"row", cb.Row().Before("gorm:row").Register, cb.Row().After("gorm:row").Register},
		{"raw", cb.Raw().Before("gorm:raw").Register, cb.Raw().After("gorm:raw").Register},
	}
	for _, r := range regs {
		if err := r.before("subaccounts:tracing:before_"+r.name, p.before); err != nil {
			return err
		}
		if err := r.after("subaccounts:tracing:after_"+r.name, p.after); err != nil {
			return err
		}
	}
	return nil
}

func (p gormPlugin) before(db *gorm.DB) {
	ctx := db.Statement.Context
	if ctx == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return
	}
	// The statement is not built yet: the name and text are set when it has run.
	_, span := p.tracer.Start(ctx, "statement", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(p.system))
	db.InstanceSet(spanKey, span)
}

func (p gormPlugin) after(db *gorm.DB) {
	v, ok := db.InstanceGet(spanKey)
	if !ok {
		return
	}
	span := v.(trace.Span)
	defer span.End()
	sql := db.Statement.SQL.String()
	op := operationName(sql)
	span.SetName(op)
	span.SetAttributes(semconv.DBQueryText(sql), semconv.DBOperationName(op))
	if db.Error != nil && !errors.Is(db.Error, gorm.ErrRecordNotFound) {
		span.RecordError(db.Error)
		span.SetStatus(codes.Error, db.Error.Error())
	}
}

// operationName is the statement's first word, upper-cased, as otelpgx names its spans.
func operationName(sql string) string {
	for _, w := range strings.Fields(sql) {
		return strings.ToUpper(w)
	}
	return "UNKNOWN"
}
