package httpapi

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/idempotency"
)

// idempotencyKeyHeader names the header of idempotent writes, and replayedHeader the
// header that marks a replayed response.
const (
	idempotencyKeyHeader = "Idempotency-Key"
	replayedHeader       = "Idempotent-Replayed"
)

// idempotent makes a POST route honour Idempotency-Key (see idempotency.Service.Idempotently):
// without the header the route runs as it always did. It must come after authentication
// and the scope check, and last before the handler, because it runs the handler itself,
// inside the request's database transaction and against a buffered response, possibly
// more than once when the database asks for a retry. A response reaches the client only
// after the transaction holding its effect and its key committed.
func idempotent(svc *idempotency.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		keys, present := c.Request.Header[http.CanonicalHeaderKey(idempotencyKeyHeader)]
		if !present {
			c.Next()
			return
		}
		if len(keys) != 1 || !idempotency.ValidKey(keys[0]) {
			invalidParam(c, idempotencyKeyHeader, "must be sent once, as 1 to %d visible ASCII characters", idempotency.MaxKeyLen)
			return
		}
		body, ok := readBody(c)
		if !ok {
			return
		}
		handler := c.Handler()
		out, req := c.Writer, c.Request
		var last *bufferedWriter
		// Restored however the handler ends, a panic included, so that the recovery in
		// withRequest answers on the real writer.
		defer func() { c.Writer, c.Request = out, req }()
		pr := mustPrincipal(c)
		caller := pr.ClientID
		if pr.SubaccountID != nil {
			caller += "/" + pr.SubaccountID.String()
		}
		in := idempotency.Request{
			AccountID: pr.AccountID, // uuid.Nil for the operator
			Key:       keys[0],
			Caller:    caller,
			Method:    req.Method, Path: req.URL.Path, StoredPath: scrubPath(req.URL.Path), RawQuery: req.URL.RawQuery,
			Body: body,
		}
		resp, replayed, err := svc.Idempotently(req.Context(), in, func(ctx context.Context) (idempotency.Response, error) {
			// Each attempt starts from the request as received and an empty response.
			last = newBufferedWriter(out)
			c.Writer = last
			c.Request = req.WithContext(ctx)
			c.Request.Body = io.NopCloser(bytes.NewReader(body))
			handler(c)
			return last.response(), nil
		})
		c.Writer, c.Request = out, req
		c.Abort() // the handler ran here, or must not run at all
		switch {
		case err != nil:
			// Nothing buffered is sent: without a commit its effect did not happen.
			fail(c, err)
		case replayed:
			h := out.Header()
			for name, v := range map[string]string{"Content-Type": resp.ContentType, "Location": resp.Location, "ETag": resp.ETag} {
				if v != "" {
					h.Set(name, v)
				}
			}
			h.Set(replayedHeader, "true")
			out.WriteHeader(resp.Status)
			_, _ = out.Write(resp.Body)
		default:
			last.sendTo(out)
		}
	}
}

// bufferedWriter holds a handler's response until the transaction it was made in has
// committed or rolled back.
type bufferedWriter struct {
	gin.ResponseWriter // the real writer; only its connection-level methods are used
	header             http.Header
	status             int
	written            bool
	body               bytes.Buffer
}

func newBufferedWriter(w gin.ResponseWriter) *bufferedWriter {
	return &bufferedWriter{ResponseWriter: w, header: w.Header().Clone(), status: http.StatusOK}
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(code int) {
	if code > 0 && !w.written {
		w.status = code
	}
}

func (w *bufferedWriter) WriteHeaderNow() { w.written = true }

func (w *bufferedWriter) Write(b []byte) (int, error) {
	w.written = true
	return w.body.Write(b)
}

func (w *bufferedWriter) WriteString(s string) (int, error) {
	w.written = true
	return w.body.WriteString(s)
}

func (w *bufferedWriter) Status() int { return w.status }

func (w *bufferedWriter) Size() int {
	if !w.written {
		return -1
	}
	return w.body.Len()
}

func (w *bufferedWriter) Written() bool { return w.written }

// Flush does nothing: nothing may leave before the commit.
func (w *bufferedWriter) Flush() {}

func (w *bufferedWriter) response() idempotency.Response {
	return idempotency.Response{
		Status:      w.status,
		ContentType: w.header.Get("Content-Type"),
		Location:    w.header.Get("Location"),
		ETag:        w.header.Get("ETag"),
		Body:        bytes.Clone(w.body.Bytes()),
	}
}

// sendTo writes the buffered response to the real writer.
func (w *bufferedWriter) sendTo(out gin.ResponseWriter) {
	h := out.Header()
	clear(h)
	for k, v := range w.header {
		h[k] = v
	}
	h.Set("Content-Length", strconv.Itoa(w.body.Len()))
	out.WriteHeader(w.status)
	_, _ = out.Write(w.body.Bytes())
}
