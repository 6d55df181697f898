package httpapi

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/ratelimit"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// BenchmarkMiddleware measures what every request pays before and after its handler in
// this package's own middleware (request id, access log, recovery, deadline, query rule),
// in process, with a handler that only answers: the server's share that no route's work
// hides. The log goes to a JSON handler over io.Discard, as in production but without the
// write.
func BenchmarkMiddleware(b *testing.B) {
	r := gin.New()
	r.Use(withRequest(slog.New(LogHandler(slog.NewJSONHandler(io.Discard, nil)))), withDeadline(10*time.Second))
	r.POST("/v1/transactions", strictQuery(), func(c *gin.Context) { c.Data(http.StatusCreated, "application/json", []byte(`{}`)) })
	// The production default limits every client (CLIENT_RATE_LIMIT=500): a client under
	// its limit pays for the bucket and the RateLimit headers on every request.
	p := subaccounts.Principal{ClientID: "client-1", AccountID: uuid.New()}
	r.POST("/v1/limited", func(c *gin.Context) { c.Set(keyPrincipal, p) },
		limitClients(Limits{Limiter: ratelimit.NewMemory(1000), ClientRate: 1_000_000}, nil),
		func(c *gin.Context) { c.Data(http.StatusCreated, "application/json", []byte(`{}`)) })
	for _, bc := range []struct {
		name, path, requestID string
	}{{"no-request-id", "/v1/transactions", ""}, {"request-id", "/v1/transactions", "load-0123456789abcdef"}, {"rate-limited", "/v1/limited", ""}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, bc.path, strings.NewReader(`{}`))
				if bc.requestID != "" {
					req.Header.Set("X-Request-Id", bc.requestID)
				}
				w := httptest.NewRecorder()
				r.ServeHTTP(w, req)
				if w.Code != http.StatusCreated {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

func TestUsableRequestID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"abc-123", true}, {"A.b_c:d-9", true}, {strings.Repeat("x", 64), true}, {"123456789012", true},
		{"12345678901-23456789012", true},
		{"", false}, {strings.Repeat("x", 65), false}, {"bad id", false}, {"é", false}, {"a/b", false},
		{"4111111111111111", false}, {"id-1234567890123", false},
	}
	for _, tt := range tests {
		if got := usableRequestID(tt.id); got != tt.want {
			t.Errorf("usableRequestID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestScrubPath(t *testing.T) {
	tests := []struct{ path, want string }{
		{"/v1/cards/0b0e8d5e-6b1c-4f7e-9a43-5c2d1f7e8a90", "/v1/cards/0b0e8d5e-6b1c-4f7e-9a43-5c2d1f7e8a90"},
		{"/v1/cards/4111111111111111", "/v1/cards/[redacted]"},
		{"/v1/x/1234567890123/y/123456789012/z/12345678901234567890", "/v1/x/[redacted]/y/123456789012/z/[redacted]"},
	}
	for _, tt := range tests {
		if got := scrubPath(tt.path); got != tt.want {
			t.Errorf("scrubPath(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// TestRateLimitField: the appended header fields are what fmt wrote before.
func TestRateLimitField(t *testing.T) {
	for _, policy := range []string{"default", "token-failures", `odd "name"`} {
		for _, v := range [][2]int{{0, 0}, {500, 1}, {7, 123456}} {
			want := fmt.Sprintf("%q;q=%d;w=%d", policy, v[0], v[1])
			if got := rateLimitField(nil, policy, ";q=", v[0], ";w=", v[1]); got != want {
				t.Errorf("rateLimitField = %q, want %q", got, want)
			}
		}
	}
}
