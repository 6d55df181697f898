package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/auth"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tracing"
)

const (
	keyRequestID = "requestID"
	keyLogger    = "logger"
	keyPrincipal = "principal"
	keyToken     = "token"
)

// Logging: handlers log through logger(c) with c.Request.Context(); the context carries
// the request id, which LogHandler adds to every line.

func requestID(c *gin.Context) string { return c.GetString(keyRequestID) }

func logger(c *gin.Context) *slog.Logger {
	if l, ok := c.Get(keyLogger); ok {
		return l.(*slog.Logger)
	}
	return slog.Default()
}

// scrubPath hides card-number-like digit runs (13 digits or more) of a request path
// before it is logged or echoed in a problem's instance. No id of this API has one (a
// UUID's longest all-digit group is 12), so such a run can only be data a client put
// there by mistake — possibly a PAN. It is the tracing exporter's scrub, which costs a
// path without such a run no regexp and no allocation (every request logs its path).
func scrubPath(path string) string { return tracing.Scrub(path) }

// usableRequestID reports whether a caller's X-Request-Id can be kept: 1 to 64 of
// [A-Za-z0-9._:-] and no card-number-like digit run. A loop rather than the regexps it
// replaced, which cost every request that sent one about 2 µs.
func usableRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	digits := 0
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= '0' && c <= '9':
			if digits++; digits >= 13 {
				return false
			}
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
		digits = 0
	}
	return true
}

// withRequest gives every request an id (the caller's X-Request-Id when it is sane) in
// its context, one access-log line, and a recovery that turns a panic into a 500 without
// logging the panic value, which could hold request data.
func withRequest(l *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		// First, so every response carries it: 404, 405, problems and panics included.
		c.Header("X-Content-Type-Options", "nosniff")
		id := c.GetHeader("X-Request-Id")
		if !usableRequestID(id) {
			id = uuid.NewString()
		}
		c.Set(keyRequestID, id)
		c.Header("X-Request-Id", id)
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey{}, id))
		c.Set(keyLogger, l)
		start := time.Now()
		defer func() {
			if r := recover(); r != nil {
				l.LogAttrs(c.Request.Context(), slog.LevelError, "panic", slog.String("stack", string(debug.Stack())))
				if !c.Writer.Written() {
					abortProblem(c, probInternal, "An internal error occurred; quote the request id when reporting it.")
				}
			}
			attrs := make([]slog.Attr, 0, 7)
			attrs = append(attrs,
				slog.String("method", c.Request.Method),
				slog.String("route", c.FullPath()),
				slog.String("path", scrubPath(c.Request.URL.Path)),
				slog.Int("status", c.Writer.Status()),
				// Milliseconds with µs precision, the unit in the name: slog.Duration
				// would log nanoseconds as a bare integer.
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			)
			if p, ok := principal(c); ok {
				attrs = append(attrs, slog.String("client_id", p.ClientID))
				if p.AccountID != uuid.Nil {
					attrs = append(attrs, slog.String("account_id", p.AccountID.String()))
				}
			}
			accessLog(c.Request.Context(), l, attrs)
		}()
		c.Next()
	}
}

// accessLog writes a request's access-log line. It is l.LogAttrs without the caller's
// program counter, which slog captures on every call (a stack walk per request) for a
// source the handler is not configured to print, and which would always name withRequest.
func accessLog(ctx context.Context, l *slog.Logger, attrs []slog.Attr) {
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(attrs...)
	_ = l.Handler().Handle(ctx, r)
}

// noStore marks a route's responses, replays of idempotent ones included, as not to be
// stored by any cache: they carry a secret.
func noStore() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}

// withDeadline gives every request a deadline d from when its handling starts. Whatever
// the request waits on (a pooled connection, a statement, a lock, the group commit, an
// issuer's key set) gives up at it, and the request is answered 503 instead of hanging:
// d must be shorter than the server's WriteTimeout, so that answer can still be written.
func withDeadline(d time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

func principal(c *gin.Context) (subaccounts.Principal, bool) {
	v, ok := c.Get(keyPrincipal)
	if !ok {
		return subaccounts.Principal{}, false
	}
	return v.(subaccounts.Principal), true
}

func mustPrincipal(c *gin.Context) subaccounts.Principal {
	p, _ := principal(c)
	return p
}

func unauthorized(c *gin.Context, description string) {
	c.Header("WWW-Authenticate", fmt.Sprintf(`Bearer error="invalid_token", error_description=%q`, description))
	abortProblem(c, probUnauthorized, description)
}

// bearerRealm names the protection space in the challenge to a request without a token.
const bearerRealm = "subaccounts"

// noCredentials reports whether an Authorization header carries no bearer credentials at
// all (none, or another scheme). RFC 6750 §3.1: such a request gets a challenge without
// an error code, since it did not try and fail.
func noCredentials(header string) bool {
	scheme, _, _ := strings.Cut(strings.TrimSpace(header), " ")
	return scheme == "" || !strings.EqualFold(scheme, "Bearer")
}

// authenticate verifies the bearer token of every /v1 request.
func authenticate(v *auth.Verifier) gin.HandlerFunc {
	return func(c *gin.Context) {
		if header := c.GetHeader("Authorization"); noCredentials(header) && len(header) <= auth.MaxHeaderBytes {
			c.Header("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", bearerRealm))
			abortProblem(c, probUnauthorized, "a Bearer token is required")
			return
		}
		tok, err := v.Verify(c.Request.Context(), c.GetHeader("Authorization"))
		if err != nil {
			var ae *auth.Error
			if errors.As(err, &ae) {
				unauthorized(c, ae.Description)
				return
			}
			fail(c, err)
			return
		}
		c.Set(keyToken, tok)
		c.Set(keyPrincipal, tok.Principal)
		// Handlers pass c.Request.Context() to the service, so the audit log names the caller.
		c.Request = c.Request.WithContext(subaccounts.WithActor(c.Request.Context(), subaccounts.Actor{
			Subject: tok.Principal.Subject, ClientID: tok.Principal.ClientID, RequestID: requestID(c),
		}))
		c.Next()
	}
}

func insufficientScope(c *gin.Context, scope string) {
	c.Header("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q`, scope))
	p := newProblem(c, probInsufficient, fmt.Sprintf("This request needs the %s scope.", scope))
	p.Scope = scope
	writeProblem(c, p)
}

// operator admits platform-operator tokens: the accounts:admin scope and no account
// claim. A tenant's token that an external issuer wrongly granted accounts:admin still
// cannot reach every account.
func operator() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !mustPrincipal(c).HasScope(subaccounts.ScopeAccountsAdmin) {
			insufficientScope(c, subaccounts.ScopeAccountsAdmin)
			return
		}
		if v, _ := c.Get(keyToken); v.(auth.Token).AccountErr == nil {
			abortProblem(c, probForbidden, "Operator routes take the operator's token, which names no account.")
			return
		}
		c.Next()
	}
}

// accountChecker reports whether an account exists.
type accountChecker func(ctx context.Context, id uuid.UUID) (bool, error)

// tenant admits tokens that name an existing account in the account claim; the scope
// check is per route.
func tenant(exists accountChecker) gin.HandlerFunc {
	return func(c *gin.Context) {
		v, _ := c.Get(keyToken)
		tok := v.(auth.Token)
		if tok.AccountErr != nil {
			var ae *auth.Error
			if errors.As(tok.AccountErr, &ae) {
				unauthorized(c, ae.Description)
				return
			}
		}
		ok, err := exists(c.Request.Context(), tok.Principal.AccountID)
		if err != nil {
			fail(c, err)
			return
		}
		if !ok {
			unauthorized(c, "the token's account does not exist")
			return
		}
		c.Next()
	}
}

// scope admits principals holding scope.
func scope(s string) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !mustPrincipal(c).HasScope(s) {
			insufficientScope(c, s)
			return
		}
		c.Next()
	}
}

func writeJSON(c *gin.Context, status int, v any) {
	writeJSONType(c, status, "application/json", v)
}

func writeJSONType(c *gin.Context, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, contentType, b)
}
