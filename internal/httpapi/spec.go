package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	apispec "github.com/cardseg/subaccounts"
)

// handleOpenAPI serves the embedded openapi.yaml. The bytes change only with a new
// build, so a strong ETag of their hash lets clients and caches revalidate for nothing;
// max-age matches the other public documents (JWKS, discovery).
func handleOpenAPI() gin.HandlerFunc {
	return serveDocument(apispec.OpenAPI, "application/yaml")
}

// serveDocument answers doc with its ETag, or 304 when If-None-Match names it.
func serveDocument(doc, contentType string) gin.HandlerFunc {
	sum := sha256.Sum256([]byte(doc))
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	return func(c *gin.Context) {
		c.Header("ETag", etag)
		c.Header("Cache-Control", "public, max-age=300")
		if noneMatch(c.GetHeader("If-None-Match"), etag) {
			c.Status(http.StatusNotModified)
			return
		}
		c.Header("Content-Type", contentType)
		c.Status(http.StatusOK)
		_, _ = io.WriteString(c.Writer, doc) // a failed write is the client gone; nothing to tell it
	}
}

// noneMatch reports whether an If-None-Match header matches etag. RFC 9110 §13.1.2
// compares weakly here: W/"x" matches "x", and "*" matches any current representation.
func noneMatch(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}
