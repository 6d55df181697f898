package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceRequests starts a server span per request, continuing the caller's trace when the
// request carries a W3C traceparent. The span is named by the method and the route
// template ("POST /v1/transactions", "GET /v1/subaccounts/:id"), never the path, which
// may hold a client's mistake (a card number where an id belongs); url.path, which the
// instrumentation records, is scrubbed on export by the tracing package. Request
// metrics are not this middleware's (the no-op meter).
func traceRequests(tp trace.TracerProvider) gin.HandlerFunc {
	return otelgin.Middleware("subaccountd",
		otelgin.WithTracerProvider(tp),
		otelgin.WithPropagators(propagation.TraceContext{}),
		otelgin.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelgin.WithSpanNameFormatter(routeSpanName),
	)
}

// routeSpanName is "METHOD /route/:template", or the method alone for an unmatched
// route; a method outside HTTP's own is "HTTP", so a client cannot name spans.
func routeSpanName(c *gin.Context) string {
	method := c.Request.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
	default:
		method = "HTTP"
	}
	if route := c.FullPath(); route != "" {
		return method + " " + route
	}
	return method
}
