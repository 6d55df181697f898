// Package httpapi is the HTTP interface of the service, built on gin: routes, handlers,
// request and response bodies, query strings parsed into the domain's typed filters,
// authentication and idempotency middleware, and the single mapping of errors to RFC 9457
// problem responses. It calls the domain's services (one Deps field each) and never the
// store.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/metrics"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/internal/webhooks"
)

// Deps are what the server needs.
type Deps struct {
	// Tenancy holds accounts, contracts and subaccounts.
	Tenancy *tenancy.Service
	// Cards enrols and manages cards.
	Cards *cards.Service
	// Routing takes the networks' transaction messages.
	Routing *routing.Service
	// Ledger moves money: transfers, top-ups, usage.
	Ledger *ledger.Service
	// Idempotency makes POST requests carrying an Idempotency-Key take effect once.
	Idempotency *idempotency.Service
	// Compliance answers the compliance report.
	Compliance *compliance.Service
	// Webhooks manages the endpoints events are delivered to.
	Webhooks *webhooks.Service
	// Audit reads and verifies the audit log.
	Audit    *audit.Service
	Verifier *auth.Verifier
	// Issuer is the built-in OAuth2 issuer; nil when an external issuer is configured.
	Issuer *issuer.Issuer
	// Ready reports whether the database is reachable and migrated.
	Ready  func(ctx context.Context) error
	Logger *slog.Logger
	// RequestTimeout is every request's deadline; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Limits are the rate limits; the zero value limits nothing.
	Limits Limits
	// TracerProvider, when set, traces every request (a server span named by the route
	// template) and accepts the caller's W3C traceparent; nil traces nothing.
	TracerProvider trace.TracerProvider
	// Metrics, when set, records every request's duration by route, the requests in
	// flight and the rate limits' refusals; nil records nothing.
	Metrics *metrics.Metrics
}

// DefaultRequestTimeout is the deadline of a request when Deps sets none.
const DefaultRequestTimeout = 10 * time.Second

func init() { gin.SetMode(gin.ReleaseMode) }

// NewServer returns the service's HTTP handler.
func NewServer(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.New(LogHandler(slog.Default().Handler()))
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	if d.Metrics != nil {
		r.Use(measureRequests(d.Metrics))
	}
	d.Limits.metrics = d.Metrics
	if d.TracerProvider != nil {
		// First, so the span covers every request and the access log line carries its id.
		r.Use(traceRequests(d.TracerProvider))
	}
	r.Use(withRequest(d.Logger))
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = DefaultRequestTimeout
	}
	r.Use(withDeadline(d.RequestTimeout))
	r.NoRoute(func(c *gin.Context) { abortProblem(c, probNotFound, "No such route.") })
	r.NoMethod(func(c *gin.Context) { abortProblem(c, probMethod, "This route does not accept that method.") })
	addRoutes(r, d)
	return r
}

// accountExists caches positive answers: accounts are never deleted, so once seen an
// account needs no further query on the token path.
func accountExists(svc *tenancy.Service) accountChecker {
	var known sync.Map
	return func(ctx context.Context, id uuid.UUID) (bool, error) {
		if _, ok := known.Load(id); ok {
			return true, nil
		}
		_, err := svc.GetAccount(ctx, id)
		switch {
		case err == nil:
			known.Store(id, struct{}{})
			return true, nil
		case errors.Is(err, subaccounts.ErrNotFound):
			return false, nil
		default:
			return false, err
		}
	}
}

func handleHealthz() gin.HandlerFunc {
	return func(c *gin.Context) { writeJSON(c, http.StatusOK, map[string]string{"status": "ok"}) }
}

func handleReadyz(ready func(ctx context.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			logger(c).WarnContext(c.Request.Context(), "not ready", slog.String("error", err.Error()))
			c.Header("Retry-After", "1")
			abortProblem(c, probUnavailable, "The database is unreachable or not migrated.")
			return
		}
		writeJSON(c, http.StatusOK, map[string]string{"status": "ready"})
	}
}
