package httpapi

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

// setETag names the representation's version: every write of the row bumps it.
func setETag(c *gin.Context, version int64) {
	c.Header("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
}

// ifMatch reads If-Match into the versions it names: nil when the header is absent or
// "*" (the resource exists, or the handler answers 404 anyway), and an empty, non-nil
// list when it names only tags this API never issued, which therefore never match. Weak
// tags never match, as RFC 9110 requires of If-Match.
func ifMatch(c *gin.Context) []int64 {
	h := strings.TrimSpace(c.GetHeader("If-Match"))
	if h == "" || h == "*" {
		return nil
	}
	out := []int64{}
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil {
			out = append(out, v)
		}
	}
	return out
}
