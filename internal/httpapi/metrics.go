package httpapi

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/metrics"
)

// measureRequests records every request in http_server_request_duration_seconds by its
// route template (gin's FullPath: empty when no route matched, never the raw path, which
// may hold anything a client sent) and counts it in http_server_active_requests while
// it runs.
func measureRequests(m *metrics.Metrics) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		method := c.Request.Method
		m.RequestStarted(method)
		defer func() {
			// Deferred, so a request that panics is still counted out of the active ones.
			m.RequestDone(method, c.FullPath(), c.Writer.Status(), time.Since(start))
		}()
		c.Next()
	}
}
