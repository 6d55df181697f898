package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cardseg/subaccounts/internal/metrics"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func TestEnrolmentOutcome(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"enrolled", nil, metrics.EnrolmentEnrolled},
		{"card exists", fmt.Errorf("enrol card: %w", &subaccounts.Error{Code: subaccounts.CodeCardExists}), metrics.EnrolmentCardExists},
		{"invalid", subaccounts.Invalid(subaccounts.FieldError{Pointer: "/number"}), metrics.EnrolmentInvalid},
		{"outside the configuration", &subaccounts.Error{Code: subaccounts.CodePolicy}, metrics.EnrolmentRefused},
		{"quota", &subaccounts.Error{Code: subaccounts.CodeQuotaExceeded}, metrics.EnrolmentRefused},
		{"no such subaccount", subaccounts.NotFound("subaccount"), metrics.EnrolmentNotFound},
		{"database away", fmt.Errorf("x: %w", subaccounts.ErrUnavailable), metrics.EnrolmentUnavailable},
		{"anything else", errors.New("boom"), metrics.EnrolmentError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := metrics.EnrolmentOutcome(tt.err); got != tt.want {
				t.Errorf("EnrolmentOutcome(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

// A client cannot mint label values: unknown methods become _OTHER, odd statuses too.
func TestRequestLabelsAreBounded(t *testing.T) {
	m := metrics.New()
	m.RequestStarted("BREW")
	m.RequestDone("BREW", "", 999, time.Millisecond)
	m.RequestStarted(http.MethodGet)
	m.RequestDone(http.MethodGet, "/v1/account", 200, time.Millisecond)
	want := `
# HELP http_server_active_requests Number of HTTP server requests being handled.
# TYPE http_server_active_requests gauge
http_server_active_requests{http_request_method="GET"} 0
http_server_active_requests{http_request_method="_OTHER"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "http_server_active_requests"); err != nil {
		t.Error(err)
	}
	n, err := testutil.GatherAndCount(m.Registry(), "http_server_request_duration_seconds")
	if err != nil || n != 2 {
		t.Fatalf("%d request series (%v), want 2", n, err)
	}
	body := scrapeText(t, m)
	if !strings.Contains(body, `http_server_request_duration_seconds_count{http_request_method="_OTHER",http_response_status_code="_OTHER",http_route=""} 1`) {
		t.Errorf("the odd request is not counted under _OTHER:\n%s", grep(body, "http_server_request_duration_seconds_count"))
	}
}

// A nil *Metrics records nothing and does not panic: METRICS_ADDR=off passes nil.
func TestNilMetrics(t *testing.T) {
	var m *metrics.Metrics
	m.RequestStarted("GET")
	m.RequestDone("GET", "/", 200, time.Second)
	m.GroupWritten(3, time.Millisecond)
	m.Messages(metrics.MessageRouted, 1)
	m.Enrolments(metrics.EnrolmentEnrolled, 1)
	m.Delivery("delivered", time.Second)
	m.Streamed(1, time.Second)
	m.TokenVerified(nil)
	m.RateLimited("client")
	m.WatchPool(nil)
	m.WatchBacklog(nil, time.Second)
}

func TestBacklog(t *testing.T) {
	oldest := time.Now().Add(-90 * time.Second)
	t.Run("read", func(t *testing.T) {
		m := metrics.New()
		m.WatchBacklog(func(context.Context, time.Time) (subaccounts.Backlog, error) {
			return subaccounts.Backlog{PendingDeliveries: 7, DueDeliveries: 3, OldestDue: &oldest, UnchainedAudit: 2, OldestUnchained: &oldest}, nil
		}, time.Second)
		body := scrapeText(t, m)
		for _, want := range []string{"subaccountd_backlog_up 1", "subaccountd_webhook_deliveries_pending 7", "subaccountd_webhook_deliveries_due 3", "subaccountd_stream_events_pending 0", "subaccountd_stream_oldest_pending_seconds 0", "subaccountd_audit_unchained_events 2"} {
			if !strings.Contains(body, want+"\n") {
				t.Errorf("no %q in\n%s", want, grep(body, "subaccountd_"))
			}
		}
		for _, lag := range []string{"subaccountd_webhook_oldest_due_seconds", "subaccountd_audit_chain_lag_seconds"} {
			v, err := testutil.GatherAndCount(m.Registry(), lag)
			if err != nil || v != 1 {
				t.Errorf("%s: %d series (%v)", lag, v, err)
			}
			if !strings.Contains(body, lag+" 9") { // 90 s and a little
				t.Errorf("%s is not about 90 s:\n%s", lag, grep(body, lag))
			}
		}
	})
	t.Run("database away", func(t *testing.T) {
		m := metrics.New()
		m.WatchBacklog(func(ctx context.Context, _ time.Time) (subaccounts.Backlog, error) {
			return subaccounts.Backlog{PendingDeliveries: 7}, subaccounts.ErrUnavailable
		}, time.Second)
		body := scrapeText(t, m)
		if !strings.Contains(body, "subaccountd_backlog_up 0\n") || strings.Contains(body, "subaccountd_webhook_deliveries_pending") {
			t.Errorf("a failed read reports figures:\n%s", grep(body, "subaccountd_"))
		}
	})
}

func scrapeText(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

func grep(body, prefix string) string {
	var out []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
