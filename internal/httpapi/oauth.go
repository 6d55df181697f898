package httpapi

import (
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/issuer"
)

func handleDiscovery(is *issuer.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		writeJSON(c, http.StatusOK, is.Discovery())
	}
}

func handleJWKS(is *issuer.Issuer) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Header("Cache-Control", "public, max-age=300")
		writeJSON(c, http.StatusOK, is.JWKS())
	}
}

func oauthError(c *gin.Context, e *issuer.OAuthError) {
	if e.Status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Basic realm="oauth2"`)
	}
	c.Header("Cache-Control", "no-store")
	writeJSON(c, e.Status, e)
	c.Abort()
}

// handleToken is the client-credentials token endpoint (RFC 6749 §4.4), with
// client_secret_basic and client_secret_post authentication.
func handleToken(is *issuer.Issuer, guard *tokenGuard) gin.HandlerFunc {
	return func(c *gin.Context) {
		mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
		if mt != "application/x-www-form-urlencoded" {
			oauthError(c, &issuer.OAuthError{Status: 400, Code: "invalid_request", Description: "the body must be application/x-www-form-urlencoded"})
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 64<<10)
		if err := c.Request.ParseForm(); err != nil {
			oauthError(c, &issuer.OAuthError{Status: 400, Code: "invalid_request", Description: "malformed form body"})
			return
		}
		form := c.Request.PostForm
		for _, k := range []string{"grant_type", "scope", "client_id", "client_secret"} {
			if len(form[k]) > 1 {
				oauthError(c, &issuer.OAuthError{Status: 400, Code: "invalid_request", Description: k + " repeated"})
				return
			}
		}
		if form.Get("grant_type") != "client_credentials" {
			oauthError(c, &issuer.OAuthError{Status: 400, Code: "unsupported_grant_type", Description: "only client_credentials is supported"})
			return
		}
		id, secret, basic := c.Request.BasicAuth()
		if basic {
			// RFC 6749 §2.3.1: the id and secret are form-urlencoded inside Basic.
			var err1, err2 error
			id, err1 = url.QueryUnescape(id)
			secret, err2 = url.QueryUnescape(secret)
			if err1 != nil || err2 != nil || form.Has("client_secret") {
				oauthError(c, &issuer.OAuthError{Status: 400, Code: "invalid_request", Description: "use exactly one client authentication method"})
				return
			}
		} else {
			id, secret = form.Get("client_id"), form.Get("client_secret")
		}
		if id == "" || secret == "" {
			oauthError(c, &issuer.OAuthError{Status: 401, Code: "invalid_client", Description: "client authentication required"})
			return
		}
		token := is.Token
		res, blocked := guard.blocked(c, id)
		if blocked {
			// Only a secret this replica verified recently still gets a token: no bcrypt
			// runs, and the client is not locked out by someone else's failures.
			token = is.RememberedToken
		}
		resp, err := token(c.Request.Context(), id, secret, form.Get("scope"))
		if errors.Is(err, issuer.ErrNotRemembered) {
			guard.refuse(c, res)
			return
		}
		if err != nil {
			var oe *issuer.OAuthError
			if errors.As(err, &oe) {
				if oe.Code == "invalid_client" {
					guard.failed(c, id)
				}
				oauthError(c, oe)
				return
			}
			fail(c, err)
			return
		}
		c.Header("Cache-Control", "no-store")
		writeJSON(c, http.StatusOK, resp)
	}
}
