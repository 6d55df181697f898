package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/metrics"
	"github.com/cardseg/subaccounts/internal/ratelimit"
)

// Limits configures rate limiting. The zero value limits nothing.
type Limits struct {
	// Limiter holds the buckets: ratelimit.Memory per replica, or a Redis-backed one
	// shared by every replica. Nil turns every limit off.
	Limiter ratelimit.Limiter
	// ClientRate is the default limit of every client on /v1, in requests per second
	// (burst the same); 0 means clients without their own limit are not limited.
	ClientRate int
	// TokenFailures is how many failed client authentications a minute the token
	// endpoint accepts per client id and per source address; 0 means no limit.
	TokenFailures int
	// TrustForwardedFor takes the source address from the last X-Forwarded-For entry
	// (the one the nearest proxy appended) instead of the TCP peer. Only for a service
	// reachable solely through a proxy that sets it: anyone else could forge it.
	TrustForwardedFor bool
	// metrics counts the refusals; NewServer sets it from Deps.Metrics.
	metrics *metrics.Metrics
}

// verifyCost is what one audit chain verification counts against a client's limit: it
// reads the whole chain, so it costs as much as many ordinary requests. Capped at the
// burst, so a client with a small limit can still verify, just rarely.
const verifyCost = 50

// clientLimiter is what limitClients needs of the built-in issuer: the client's own limit.
type clientLimiter interface {
	ClientRateLimit(ctx context.Context, clientID string) (limit int, ok bool, err error)
}

// limitClients applies each client's token bucket to /v1. It runs after authenticate
// (the key is the verified client, never anything from the body) and before every
// handler, and answers 429 with Retry-After when the bucket is empty. Every limited
// response, refused or not, carries the IETF RateLimit-Policy and RateLimit headers.
func limitClients(l Limits, is *issuer.Issuer) gin.HandlerFunc {
	var own clientLimiter
	if is != nil {
		own = is
	}
	return func(c *gin.Context) {
		if l.Limiter == nil {
			c.Next()
			return
		}
		p := mustPrincipal(c)
		rate := l.ClientRate
		if own != nil && p.ClientID != "" {
			n, ok, err := own.ClientRateLimit(c.Request.Context(), p.ClientID)
			if err != nil {
				fail(c, err)
				return
			}
			if ok {
				rate = n
			}
		}
		if rate <= 0 {
			c.Next()
			return
		}
		lim := ratelimit.PerSecond(rate)
		cost := 1
		if c.FullPath() == "/v1/audit-events/verify" {
			cost = min(verifyCost, lim.Burst)
		}
		// The client id is unique per issuer; the account is part of the key so that an
		// external issuer reusing a client id across tenants does not share one bucket.
		who := p.ClientID
		if who == "" {
			who = "sub:" + p.Subject
		}
		key := "client:" + p.AccountID.String() + ":" + who
		if p.AccountID == uuid.Nil {
			key = "client:operator:" + who
		}
		res, err := l.Limiter.AllowN(c.Request.Context(), key, lim, cost)
		if err != nil {
			// Only a Limiter without a fallback fails; refusing traffic over it would
			// turn a limiter outage into a service outage.
			logger(c).WarnContext(c.Request.Context(), "rate limiter failed; request admitted", "error", err.Error())
			c.Next()
			return
		}
		setRateLimitHeaders(c, "default", lim, res)
		if !res.Allowed {
			l.metrics.RateLimited("client")
			rateLimited(c, res, fmt.Sprintf("This client may send %d requests a second; try again in %d s.", rate, res.RetryAfterSeconds()))
			return
		}
		c.Next()
	}
}

// setRateLimitHeaders writes the structured-field headers of
// draft-ietf-httpapi-ratelimit-headers: the policy (quota q per window w seconds) and the
// current state (r remaining, t seconds until the quota is full again).
// They are appended rather than formatted with fmt (the same "%q;q=%d;w=%d" and
// "%q;r=%d;t=%d"): every limited request sends both.
func setRateLimitHeaders(c *gin.Context, policy string, l ratelimit.Limit, res ratelimit.Result) {
	var buf [64]byte
	c.Header("RateLimit-Policy", rateLimitField(buf[:0], policy, ";q=", l.Burst, ";w=", max(1, int(l.Period.Seconds()))))
	c.Header("RateLimit", rateLimitField(buf[:0], policy, ";r=", max(0, res.Remaining), ";t=", res.ResetSeconds()))
}

// rateLimitField is the structured field "policy";k1=v1;k2=v2, policy quoted as %q does.
func rateLimitField(b []byte, policy, k1 string, v1 int, k2 string, v2 int) string {
	b = strconv.AppendQuote(b, policy)
	b = strconv.AppendInt(append(b, k1...), int64(v1), 10)
	b = strconv.AppendInt(append(b, k2...), int64(v2), 10)
	return string(b)
}

func rateLimited(c *gin.Context, res ratelimit.Result, detail string) {
	c.Header("Retry-After", strconv.Itoa(res.RetryAfterSeconds()))
	abortProblem(c, probRateLimited, detail)
}

// tokenGuard limits failed client authentications at the token endpoint, per client id
// and per source address, so that guessing secrets costs the guesser time and the
// service at most TokenFailures bcrypt runs a minute per id and per address.
type tokenGuard struct {
	metrics           *metrics.Metrics
	lim               ratelimit.Limiter
	limit             ratelimit.Limit
	trustForwardedFor bool
}

func newTokenGuard(l Limits) *tokenGuard {
	if l.Limiter == nil || l.TokenFailures <= 0 {
		return nil
	}
	return &tokenGuard{metrics: l.metrics, lim: l.Limiter, limit: ratelimit.PerMinute(l.TokenFailures), trustForwardedFor: l.TrustForwardedFor}
}

// keys are the buckets of one attempt. The client id is hashed: it is whatever the caller
// sent (possibly a pasted card number) and must not be stored as sent in Redis.
func (g *tokenGuard) keys(c *gin.Context, clientID string) []string {
	sum := sha256.Sum256([]byte("token-failures\x00" + clientID))
	return []string{
		"token-fail:id:" + hex.EncodeToString(sum[:16]),
		"token-fail:addr:" + sourceAddr(c, g.trustForwardedFor),
	}
}

// blocked reports whether either bucket is empty, with the state to answer 429 with. It
// counts nothing: only failures do.
func (g *tokenGuard) blocked(c *gin.Context, clientID string) (ratelimit.Result, bool) {
	if g == nil {
		return ratelimit.Result{}, false
	}
	for _, k := range g.keys(c, clientID) {
		res, err := g.lim.AllowN(c.Request.Context(), k, g.limit, 0)
		if err == nil && !res.Allowed {
			return res, true
		}
	}
	return ratelimit.Result{}, false
}

// refuse answers a blocked token request.
func (g *tokenGuard) refuse(c *gin.Context, res ratelimit.Result) {
	g.metrics.RateLimited("token-failures")
	setRateLimitHeaders(c, "token-failures", g.limit, res)
	rateLimited(c, res, fmt.Sprintf("Too many failed client authentications; try again in %d s.", res.RetryAfterSeconds()))
}

// failed counts one failed authentication against both buckets.
func (g *tokenGuard) failed(c *gin.Context, clientID string) {
	if g == nil {
		return
	}
	for _, k := range g.keys(c, clientID) {
		_, _ = g.lim.AllowN(c.Request.Context(), k, g.limit, 1)
	}
}

// sourceAddr is the address a request came from: the TCP peer, or with trustXFF the last
// X-Forwarded-For entry. IPv6 addresses count by their /64, which one host usually holds
// whole.
func sourceAddr(c *gin.Context, trustXFF bool) string {
	host := c.Request.RemoteAddr
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if trustXFF {
		if xff := c.Request.Header.Values("X-Forwarded-For"); len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			host = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "unknown"
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
