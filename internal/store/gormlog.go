package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/utils"
)

// gormLogger sends gorm's messages through the service's slog logger. gorm's own slog
// adapter logs a message's format string unformatted ("failed to initialize database,
// got error %v") with its arguments in a separate attribute; this one formats them. SQL
// traces are logged as gorm's adapter logs them (a "trace" group with duration, sql,
// rows and error), without statement parameters: ParamsFilter drops them before gorm
// renders the statement, so a bound value (possibly a card number) never reaches a log.
type gormLogger struct {
	log           *slog.Logger
	level         logger.LogLevel
	slowThreshold time.Duration
}

var (
	_ logger.Interface  = gormLogger{}
	_ gorm.ParamsFilter = gormLogger{}
)

func newGormLogger(l *slog.Logger, slowThreshold time.Duration) gormLogger {
	return gormLogger{log: l, level: logger.Warn, slowThreshold: slowThreshold}
}

// LogMode returns the logger at level.
func (l gormLogger) LogMode(level logger.LogLevel) logger.Interface {
	l.level = level
	return l
}

// Info logs gorm's informational message msg, formatted with data.
func (l gormLogger) Info(ctx context.Context, msg string, data ...any) {
	if l.level >= logger.Info {
		l.emit(ctx, slog.LevelInfo, fmt.Sprintf(msg, data...))
	}
}

// Warn logs gorm's warning msg, formatted with data.
func (l gormLogger) Warn(ctx context.Context, msg string, data ...any) {
	if l.level >= logger.Warn {
		l.emit(ctx, slog.LevelWarn, fmt.Sprintf(msg, data...))
	}
}

// Error logs gorm's error msg, formatted with data.
func (l gormLogger) Error(ctx context.Context, msg string, data ...any) {
	if l.level >= logger.Error {
		l.emit(ctx, slog.LevelError, fmt.Sprintf(msg, data...))
	}
}

// Trace logs a statement that failed (other than with record-not-found, which callers
// handle) at ERROR and one slower than the threshold at WARN. A statement that failed
// because the database is unavailable is not logged: the HTTP layer logs one warning per
// request instead, where gorm would add an error per statement, and /readyz reports the
// database's state.
func (l gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (sql string, rowsAffected int64), err error) {
	if l.level <= logger.Silent || (err != nil && unavailable(err)) {
		return
	}
	elapsed := time.Since(begin)
	level, msg := slog.LevelInfo, "SQL executed"
	switch {
	case err != nil && !errors.Is(err, logger.ErrRecordNotFound) && l.level >= logger.Error:
		level = slog.LevelError
	case l.slowThreshold != 0 && elapsed > l.slowThreshold && l.level >= logger.Warn:
		level = slog.LevelWarn
	case l.level >= logger.Info:
	default:
		return
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	sql, rows := fc()
	fields := []slog.Attr{
		slog.String("duration", fmt.Sprintf("%.3fms", float64(elapsed.Nanoseconds())/1e6)),
		slog.String("sql", sql),
	}
	if rows != -1 {
		fields = append(fields, slog.Int64("rows", rows))
	}
	if level == slog.LevelError {
		fields = append(fields, slog.String("error", err.Error()))
	}
	l.emit(ctx, level, msg, slog.Attr{Key: "trace", Value: slog.GroupValue(fields...)})
}

// ParamsFilter drops a statement's parameters before gorm renders it for Trace, so
// traces show placeholders only (gorm's ParameterizedQueries).
func (gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (l gormLogger) emit(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	// The caller gorm reports is the application's line that ran the statement.
	r := slog.NewRecord(time.Now(), level, msg, utils.CallerFrame().PC)
	r.AddAttrs(attrs...)
	_ = l.log.Handler().Handle(ctx, r)
}
