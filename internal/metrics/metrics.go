// Package metrics is the service's Prometheus instrumentation: one registry of its own
// (never the global one), the instruments every other package reports to through the
// small hooks it exposes, the scrape-time collectors of the database's queues and pool,
// and the private handler that serves them with net/http/pprof on METRICS_ADDR.
//
// HTTP metrics follow the OpenTelemetry HTTP server semantic conventions in their
// Prometheus form (http_server_request_duration_seconds by http_request_method,
// http_route and http_response_status_code; http_server_active_requests); the rest are
// prefixed subaccountd_. No label carries a tenant id, a card number or any value a
// client chooses: every label value comes from a fixed set the code names.
package metrics

import (
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Metrics holds the registry and the service's instruments. Its methods are safe for
// concurrent use and cost a few atomic operations each; a nil *Metrics records nothing,
// so callers need no check.
type Metrics struct {
	reg *prometheus.Registry

	requestDuration *prometheus.HistogramVec
	activeRequests  *prometheus.GaugeVec
	groupMessages   prometheus.Histogram
	groupWait       prometheus.Histogram
	enrolGroups     prometheus.Histogram
	messages        *prometheus.CounterVec
	enrolments      *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	deliveryLag     prometheus.Histogram
	streamed        prometheus.Counter
	streamLag       prometheus.Histogram
	tokens          *prometheus.CounterVec
	rateLimited     *prometheus.CounterVec
}

// durationBuckets are the OpenTelemetry semantic conventions' advice for
// http.server.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// New returns the instruments registered in a registry of their own, with the Go
// runtime's and the process's collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_server_request_duration_seconds",
			Help:    "Duration of HTTP server requests, by method, route template and status code.",
			Buckets: durationBuckets,
		}, []string{"http_request_method", "http_route", "http_response_status_code"}),
		activeRequests: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "http_server_active_requests",
			Help: "Number of HTTP server requests being handled.",
		}, []string{"http_request_method"}),
		groupMessages: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "subaccountd_group_commit_messages",
			Help:    "Messages per group commit transaction (single-message ingest).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000},
		}),
		groupWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "subaccountd_group_commit_wait_seconds",
			Help:    "How long a group's oldest message waited in the queue before its group was written.",
			Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}),
		enrolGroups: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "subaccountd_group_commit_enrolments",
			Help:    "Enrolments per group-commit transaction (single enrolments).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "subaccountd_messages_total",
			Help: "Transaction messages answered, by outcome: routed, unrouted, duplicate or invalid.",
		}, []string{"outcome"}),
		enrolments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "subaccountd_enrolments_total",
			Help: "Card enrolments answered, by outcome.",
		}, []string{"outcome"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "subaccountd_webhook_deliveries_total",
			Help: "Webhook delivery attempts, by outcome: delivered, refused (a non-2xx answer), gone (410) or no-answer.",
		}, []string{"outcome"}),
		deliveryLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "subaccountd_webhook_delivery_lag_seconds",
			Help:    "Time from an event's creation to each delivery attempt of it.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000},
		}),
		streamed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "subaccountd_stream_published_total",
			Help: "Events published to the NATS JetStream stream and acknowledged.",
		}),
		streamLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "subaccountd_stream_lag_seconds",
			Help:    "Age of the oldest event of each published batch when the stream acknowledged it.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "subaccountd_token_verifications_total",
			Help: "Access tokens verified, by result: valid, refused or unavailable (the key set or database could not be asked).",
		}, []string{"result"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "subaccountd_rate_limited_total",
			Help: "Requests refused with 429, by limit: client (a client's bucket on /v1) or token-failures (failed authentications at the token endpoint).",
		}, []string{"limit"}),
	}
	m.reg.MustRegister(
		m.requestDuration, m.activeRequests, m.groupMessages, m.groupWait, m.enrolGroups, m.messages, m.enrolments,
		m.deliveries, m.deliveryLag, m.streamed, m.streamLag, m.tokens, m.rateLimited,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Registry is where every instrument is registered; tests gather from it.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// WatchPool adds the database/sql pool's statistics (go_sql_* with db_name
// "subaccountd": connections open, in use and idle, waits and their total time).
func (m *Metrics) WatchPool(db *sql.DB) {
	if m == nil || db == nil {
		return
	}
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, "subaccountd"))
}

// methods are the request methods a label may carry; any other is "_OTHER", as the
// semantic conventions say, so a client cannot mint label values.
var methods = map[string]string{
	http.MethodGet: http.MethodGet, http.MethodHead: http.MethodHead, http.MethodPost: http.MethodPost,
	http.MethodPut: http.MethodPut, http.MethodPatch: http.MethodPatch, http.MethodDelete: http.MethodDelete,
	http.MethodOptions: http.MethodOptions, http.MethodConnect: http.MethodConnect, http.MethodTrace: http.MethodTrace,
}

func method(m string) string {
	if known, ok := methods[m]; ok {
		return known
	}
	return "_OTHER"
}

// statusCodes holds every status's label value, so a request formats none.
var statusCodes = func() [600]string {
	var s [600]string
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// RequestStarted counts a request in flight; RequestDone must follow with the same
// method.
func (m *Metrics) RequestStarted(httpMethod string) {
	if m == nil {
		return
	}
	m.activeRequests.WithLabelValues(method(httpMethod)).Inc()
}

// RequestDone records a finished request. route is the matched route's template
// (never the raw path), empty when no route matched.
func (m *Metrics) RequestDone(httpMethod, route string, status int, took time.Duration) {
	if m == nil {
		return
	}
	meth := method(httpMethod)
	m.activeRequests.WithLabelValues(meth).Dec()
	code := "_OTHER"
	if status >= 100 && status < len(statusCodes) {
		code = statusCodes[status]
	}
	m.requestDuration.WithLabelValues(meth, route, code).Observe(took.Seconds())
}

// GroupWritten records one group commit: its size, and how long its oldest message
// waited before the group was written.
func (m *Metrics) GroupWritten(messages int, waited time.Duration) {
	if m == nil {
		return
	}
	m.groupMessages.Observe(float64(messages))
	m.groupWait.Observe(waited.Seconds())
}

// EnrolmentGroupWritten records the size of one group commit of enrolments.
func (m *Metrics) EnrolmentGroupWritten(enrolments int, _ time.Duration) {
	if m == nil {
		return
	}
	m.enrolGroups.Observe(float64(enrolments))
}

// The outcomes of a message.
const (
	MessageRouted    = "routed"
	MessageUnrouted  = "unrouted"
	MessageDuplicate = "duplicate"
	MessageInvalid   = "invalid"
)

// Messages counts n messages answered with outcome (one of the Message constants).
func (m *Metrics) Messages(outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.messages.WithLabelValues(outcome).Add(float64(n))
}

// Enrolments counts n enrolments answered with outcome (see EnrolmentOutcome).
func (m *Metrics) Enrolments(outcome string, n int) {
	if m == nil || n == 0 {
		return
	}
	m.enrolments.WithLabelValues(outcome).Add(float64(n))
}

// Delivery records one webhook delivery attempt and how long after its event's creation
// it was made.
func (m *Metrics) Delivery(outcome string, lag time.Duration) {
	if m == nil {
		return
	}
	m.deliveries.WithLabelValues(outcome).Inc()
	m.deliveryLag.Observe(lag.Seconds())
}

// Streamed records a batch of events the stream acknowledged and the age of its oldest.
func (m *Metrics) Streamed(published int, lag time.Duration) {
	if m == nil {
		return
	}
	m.streamed.Add(float64(published))
	m.streamLag.Observe(lag.Seconds())
}

// The results of a token verification.
const (
	TokenValid       = "valid"
	TokenRefused     = "refused"
	TokenUnavailable = "unavailable"
)

// Token counts one token verification with result (one of the Token constants).
func (m *Metrics) Token(result string) {
	if m == nil {
		return
	}
	m.tokens.WithLabelValues(result).Inc()
}

// RateLimited counts one request refused by limit ("client" or "token-failures").
func (m *Metrics) RateLimited(limit string) {
	if m == nil {
		return
	}
	m.rateLimited.WithLabelValues(limit).Inc()
}

// TokenVerified counts one token verification by its error: nil is valid, one wrapping
// subaccounts.ErrUnavailable could not be decided, any other was refused.
func (m *Metrics) TokenVerified(err error) {
	switch {
	case err == nil:
		m.Token(TokenValid)
	case errors.Is(err, subaccounts.ErrUnavailable):
		m.Token(TokenUnavailable)
	default:
		m.Token(TokenRefused)
	}
}

// The outcomes of an enrolment.
const (
	EnrolmentEnrolled    = "enrolled"
	EnrolmentCardExists  = "card-exists"
	EnrolmentRefused     = "refused"
	EnrolmentInvalid     = "invalid"
	EnrolmentNotFound    = "not-found"
	EnrolmentUnavailable = "unavailable"
	EnrolmentError       = "error"
)

// EnrolmentOutcome names the outcome of an enrolment that ended with err: enrolled,
// card-exists, refused (outside the configuration, suspended, over a limit or quota),
// invalid, not-found, unavailable or error.
func EnrolmentOutcome(err error) string {
	var e *subaccounts.Error
	switch {
	case err == nil:
		return EnrolmentEnrolled
	case errors.Is(err, subaccounts.ErrUnavailable):
		return EnrolmentUnavailable
	case errors.Is(err, subaccounts.ErrNotFound):
		return EnrolmentNotFound
	case !errors.As(err, &e):
		return EnrolmentError
	}
	switch e.Code {
	case subaccounts.CodeCardExists:
		return EnrolmentCardExists
	case subaccounts.CodeValidation:
		return EnrolmentInvalid
	case subaccounts.CodeNotFound:
		return EnrolmentNotFound
	default:
		return EnrolmentRefused
	}
}
