package tracing

import (
	"context"
	"regexp"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// cardNumberLike matches a digit run as long as a card number or longer. No identifier of
// this service has one (a UUID's longest all-digit group is 12), so such a run in a span
// can only be data a client put where it did not belong: a PAN in a URL path, say, which
// the HTTP instrumentation records as url.path.
var cardNumberLike = regexp.MustCompile(`[0-9]{13,}`)

// redacted replaces what cardNumberLike matched.
const redacted = "[redacted]"

// Scrub returns s with every card-number-like digit run replaced.
func Scrub(s string) string {
	if !hasLongDigitRun(s) {
		return s
	}
	return cardNumberLike.ReplaceAllString(s, redacted)
}

// hasLongDigitRun is cardNumberLike.MatchString without the regexp, for the common case
// of a string that has none: every exported string goes through it.
func hasLongDigitRun(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if run++; run >= 13 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// scrubbingExporter is the last guard before a span leaves the process: whatever an
// instrumentation recorded, no exported span name, string attribute (of the span, its
// events and links) or status description holds a card-number-like digit run. The
// sources are kept clean too (route templates as span names, statements without their
// parameters); this catches what a library adds that we did not foresee.
type scrubbingExporter struct{ sdktrace.SpanExporter }

func (e scrubbingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]sdktrace.ReadOnlySpan, len(spans))
	for i, s := range spans {
		if needsScrub(s) {
			out[i] = scrubbedSpan{s}
		} else {
			out[i] = s
		}
	}
	return e.SpanExporter.ExportSpans(ctx, out)
}

func needsScrub(s sdktrace.ReadOnlySpan) bool {
	if hasLongDigitRun(s.Name()) || hasLongDigitRun(s.Status().Description) || attrsNeedScrub(s.Attributes()) {
		return true
	}
	for _, ev := range s.Events() {
		if hasLongDigitRun(ev.Name) || attrsNeedScrub(ev.Attributes) {
			return true
		}
	}
	for _, l := range s.Links() {
		if attrsNeedScrub(l.Attributes) {
			return true
		}
	}
	return false
}

func attrsNeedScrub(attrs []attribute.KeyValue) bool {
	for _, a := range attrs {
		switch a.Value.Type() {
		case attribute.STRING:
			if hasLongDigitRun(a.Value.AsString()) {
				return true
			}
		case attribute.STRINGSLICE:
			for _, s := range a.Value.AsStringSlice() {
				if hasLongDigitRun(s) {
					return true
				}
			}
		}
	}
	return false
}

func scrubAttrs(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, len(attrs))
	for i, a := range attrs {
		switch a.Value.Type() {
		case attribute.STRING:
			a = a.Key.String(Scrub(a.Value.AsString()))
		case attribute.STRINGSLICE:
			ss := a.Value.AsStringSlice()
			for j := range ss {
				ss[j] = Scrub(ss[j])
			}
			a = a.Key.StringSlice(ss)
		}
		out[i] = a
	}
	return out
}

// scrubbedSpan is a span as exported: its strings scrubbed, everything else as recorded.
type scrubbedSpan struct{ sdktrace.ReadOnlySpan }

func (s scrubbedSpan) Name() string { return Scrub(s.ReadOnlySpan.Name()) }

func (s scrubbedSpan) Attributes() []attribute.KeyValue {
	return scrubAttrs(s.ReadOnlySpan.Attributes())
}

func (s scrubbedSpan) Status() sdktrace.Status {
	st := s.ReadOnlySpan.Status()
	st.Description = Scrub(st.Description)
	return st
}

func (s scrubbedSpan) Events() []sdktrace.Event {
	evs := s.ReadOnlySpan.Events()
	out := make([]sdktrace.Event, len(evs))
	for i, ev := range evs {
		ev.Name = Scrub(ev.Name)
		ev.Attributes = scrubAttrs(ev.Attributes)
		out[i] = ev
	}
	return out
}

func (s scrubbedSpan) Links() []sdktrace.Link {
	ls := s.ReadOnlySpan.Links()
	out := make([]sdktrace.Link, len(ls))
	for i, l := range ls {
		l.Attributes = scrubAttrs(l.Attributes)
		out[i] = l
	}
	return out
}
