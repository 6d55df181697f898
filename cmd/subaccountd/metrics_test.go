package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

var metricsLine = regexp.MustCompile(`subaccountd metrics on (http://\S+)`)

// scrape reads base's /metrics in the Prometheus text format.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// sample finds the series of name whose labels include want; ok is false when none has.
func sample(families map[string]*dto.MetricFamily, name string, want map[string]string) (*dto.Metric, bool) {
	f := families[name]
	if f == nil {
		return nil, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

// value is a counter's or gauge's value, a histogram's count; 0 when absent.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	m, ok := sample(families, name, labels)
	switch {
	case !ok:
		return 0
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// TestMetrics drives known traffic through the real run() and scrapes METRICS_ADDR:
// the HTTP histogram by route template, messages and enrolments by outcome, token
// verifications, rate-limit refusals, the group commit, the pool and the backlog —
// and no label naming the tenant, a card or anything a client sent. /metrics and the
// profiles are on the private listener only.
func TestMetrics(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{
				"DATA_DIR": t.TempDir(), "ADMIN_CLIENT_ID": failAdminID, "ADMIN_CLIENT_SECRET": failAdminSecret,
				"TOKEN_FAILURE_LIMIT": "2",
			}
			if dialect == "postgres" {
				env["DATABASE_URL"] = storetest.PostgresURL(t)
				env["MASTER_KEY"] = testMasterKey
			}
			s := start(t, env)
			m := metricsLine.FindStringSubmatch(s.stdout.String())
			if m == nil {
				t.Fatalf("no metrics line in stdout: %q", s.stdout.String())
			}
			private := m[1]
			if private == s.url {
				t.Fatal("metrics on the public listener")
			}
			e := setUpTenant(t, s)

			// Enrolments: one enrolled by setUpTenant, then the same card again and an
			// invalid one.
			const pan = "4111111111111111"
			cardsURL := s.url + "/v1/subaccounts/" + e.subID + "/cards"
			year := time.Now().Year() + 2
			if code, body := setupCall(t, "POST", cardsURL, e.tenant, map[string]any{
				"number": pan, "expMonth": 12, "expYear": year, "countryCode": "USA", "termsOfUse": true,
			}); code != http.StatusConflict {
				t.Fatalf("enrol the same card: %d %v", code, body)
			}
			if code, body := setupCall(t, "POST", cardsURL, e.tenant, map[string]any{
				"number": "4111111111111112", "expMonth": 12, "expYear": year, "countryCode": "USA", "termsOfUse": true,
			}); code != http.StatusBadRequest {
				t.Fatalf("enrol a bad number: %d %v", code, body)
			}

			// Messages: routed, its duplicate, one for an unknown card, one invalid.
			if a := e.ingest("metrics-1"); a.code != http.StatusCreated {
				t.Fatalf("ingest: %+v", a)
			}
			if a := e.ingest("metrics-1"); a.code != http.StatusOK {
				t.Fatalf("duplicate: %+v", a)
			}
			unknown := e.message("metrics-2")
			unknown["cardId"] = "0190d7a0-0000-7000-8000-000000000001"
			if a := do("POST", s.url+"/v1/transactions", e.tenant, unknown); a.code/100 != 2 {
				t.Fatalf("unknown card: %+v", a)
			}
			bad := e.message("metrics-3")
			bad["amount"] = -1
			if a := do("POST", s.url+"/v1/transactions", e.tenant, bad); a.code != http.StatusBadRequest {
				t.Fatalf("invalid message: %+v", a)
			}
			// A transaction looked up by id: the route template, not the id, is the label.
			if code, _ := call(t, "GET", s.url+"/v1/transactions/"+pan, e.tenant, nil); code/100 != 4 {
				t.Fatalf("GET with a card number for an id: %d", code)
			}

			// Tokens: a refused one, and failed client authentications past the limit.
			if code, _ := call(t, "GET", s.url+"/v1/account", "not-a-token", nil); code != http.StatusUnauthorized {
				t.Fatalf("bad token: %d", code)
			}
			limited := 0
			for range 4 {
				form := url.Values{"grant_type": {"client_credentials"}, "client_id": {pan}, "client_secret": {"wrong-secret-wrong-secret"}}
				resp, err := http.PostForm(s.url+"/oauth2/token", form)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					limited++
				}
			}
			if limited == 0 {
				t.Fatal("TOKEN_FAILURE_LIMIT=2 refused none of four failed authentications")
			}

			f := scrape(t, private)
			for _, c := range []struct {
				name   string
				labels map[string]string
				want   float64
			}{
				{"subaccountd_messages_total", map[string]string{"outcome": "routed"}, 1},
				{"subaccountd_messages_total", map[string]string{"outcome": "duplicate"}, 1},
				{"subaccountd_messages_total", map[string]string{"outcome": "unrouted"}, 1},
				{"subaccountd_messages_total", map[string]string{"outcome": "invalid"}, 1},
				{"subaccountd_enrolments_total", map[string]string{"outcome": "enrolled"}, 1},
				{"subaccountd_enrolments_total", map[string]string{"outcome": "card-exists"}, 1},
				{"subaccountd_enrolments_total", map[string]string{"outcome": "invalid"}, 1},
				{"subaccountd_rate_limited_total", map[string]string{"limit": "token-failures"}, float64(limited)},
				{"http_server_request_duration_seconds", map[string]string{
					"http_request_method": "POST", "http_route": "/v1/transactions", "http_response_status_code": "400",
				}, 1},
				{"http_server_request_duration_seconds", map[string]string{
					"http_request_method": "POST", "http_route": "/v1/subaccounts/:subaccountId/cards", "http_response_status_code": "409",
				}, 1},
				{"http_server_request_duration_seconds", map[string]string{
					"http_request_method": "GET", "http_route": "/v1/account", "http_response_status_code": "401",
				}, 1},
				{"subaccountd_backlog_up", nil, 1},
			} {
				if got := value(f, c.name, c.labels); got != c.want {
					t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
				}
			}
			for _, c := range []struct {
				name   string
				labels map[string]string
				least  float64
			}{
				// Every message but the invalid one went through the group commit.
				{"subaccountd_group_commit_messages", nil, 1},
				{"subaccountd_group_commit_wait_seconds", nil, 1},
				// setUpTenant's enrolment and the two refused ones: the invalid one is
				// refused before the group commit.
				{"subaccountd_group_commit_enrolments", nil, 2},
				{"subaccountd_token_verifications_total", map[string]string{"result": "valid"}, 8},
				{"subaccountd_token_verifications_total", map[string]string{"result": "refused"}, 1},
				{"http_server_request_duration_seconds", map[string]string{"http_route": "/v1/transactions/:transactionId"}, 1},
				{"go_sql_open_connections", map[string]string{"db_name": "subaccountd"}, 1},
				{"go_goroutines", nil, 1},
				{"process_cpu_seconds_total", nil, 0},
			} {
				if _, ok := sample(f, c.name, c.labels); !ok {
					t.Errorf("no %s%v", c.name, c.labels)
				} else if got := value(f, c.name, c.labels); got < c.least {
					t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, got, c.least)
				}
			}
			for _, name := range []string{"subaccountd_webhook_deliveries_pending", "subaccountd_stream_events_pending", "subaccountd_audit_unchained_events", "subaccountd_audit_chain_lag_seconds", "http_server_active_requests"} {
				if f[name] == nil {
					t.Errorf("no %s", name)
				}
			}
			if got, want := value(f, "subaccountd_group_commit_messages", nil), 0.0; got == want {
				t.Error("no group commit observed")
			}

			// No label names the tenant, a card, an id or a digit run a client sent.
			uuidLike := regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-`)
			digits := regexp.MustCompile(`[0-9]{13,}`)
			for name, fam := range f {
				for _, s := range fam.GetMetric() {
					for _, l := range s.GetLabel() {
						v := l.GetValue()
						if strings.Contains(v, e.accountID) || strings.Contains(v, e.cardID) || uuidLike.MatchString(v) || digits.MatchString(v) {
							t.Errorf("%s has label %s=%q", name, l.GetName(), v)
						}
					}
				}
			}

			// /metrics and the profiles answer on the private listener only.
			for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
				resp, err := http.Get(s.url + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("public GET %s: %d, want 404", path, resp.StatusCode)
				}
				resp, err = http.Get(private + path)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("private GET %s: %d, want 200", path, resp.StatusCode)
				}
			}
			if err := s.stop(); err != nil {
				t.Errorf("shutdown: %v", err)
			}
			if _, err := http.Get(private + "/metrics"); err == nil {
				t.Errorf("the metrics listener %s still answers after shutdown", private)
			}
		})
	}
}
