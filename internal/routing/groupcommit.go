package routing

import (
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/groupcommit"
)

// GroupCommit tunes how concurrent single-message requests share database transactions.
type GroupCommit struct {
	// MaxBatch is the most messages one transaction carries.
	MaxBatch int
	// MaxWait bounds how long a group stays open for more messages after its first one
	// was taken. A group never waits on an empty queue: under light load each message is
	// committed at once, and under load the messages that queue up during one commit form
	// the next group.
	MaxWait time.Duration
	// Writers is how many groups may be committing at the same time.
	Writers int
	// Observe, when set, learns every group written: its size, and how long its oldest
	// message waited in the queue before the write began (for metrics and tests).
	Observe func(messages int, waited time.Duration)
	// Tracer, when set, starts a span per group written, routing.group_commit, linked to
	// every request it carries (see groupcommit); nil traces nothing.
	Tracer trace.Tracer
}

// DefaultGroupCommit is at most 256 messages or 2 ms per group, two groups in flight:
// with three round trips a group, two writers keep the database busy while the messages
// queued during one commit form the next group (four made groups half the size for the
// same throughput, one let a slow commit hold every request).
var DefaultGroupCommit = GroupCommit{MaxBatch: 256, MaxWait: 2 * time.Millisecond, Writers: 2}

// ErrClosed is returned for messages submitted after the service was closed.
var ErrClosed = groupcommit.ErrClosed

// newCommitter starts the group commit of svc's single messages.
func newCommitter(svc *Service, cfg GroupCommit) *groupcommit.Committer[*message] {
	if cfg.MaxBatch < 1 {
		cfg.MaxBatch = DefaultGroupCommit.MaxBatch
	}
	if cfg.Writers < 1 {
		cfg.Writers = DefaultGroupCommit.Writers
	}
	return groupcommit.New(groupcommit.Config{
		MaxBatch: cfg.MaxBatch, MaxWait: cfg.MaxWait, Writers: cfg.Writers, Observe: cfg.Observe,
		Tracer: cfg.Tracer, SpanName: "routing.group_commit", SizeAttribute: "routing.group.messages",
	}, svc.writeGroup)
}

// traceParent is sc as a W3C traceparent header value, or "" when sc is not valid.
func traceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + sc.TraceFlags().String()
}
