package httpapi

import (
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// pathID parses a path parameter as a UUID before any query runs.
func pathID(c *gin.Context, name string) (uuid.UUID, bool) {
	return queryID(c, name, c.Param(name))
}

// page reads limit (1–100, default 25) and cursor.
func page(c *gin.Context) (subaccounts.Page, bool) {
	p := subaccounts.Page{Limit: 25}
	if s, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			invalidParam(c, "limit", "must be an integer from 1 to 100")
			return p, false
		}
		p.Limit = n
	}
	if s, ok := c.GetQuery("cursor"); ok {
		id, err := decodeCursor(s)
		if err != nil {
			invalidParam(c, "cursor", "is not a cursor this API returned")
			return p, false
		}
		p.After = id
	}
	return p, true
}

// boolParam reads an optional true/false query parameter.
func boolParam(c *gin.Context, name string) (bool, bool) {
	s, ok := c.GetQuery(name)
	if !ok {
		return false, true
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		invalidParam(c, name, "must be true or false")
		return false, false
	}
	return b, true
}

// queryID parses a path or query parameter as a UUID (in its canonical 36-character form
// only) before any query runs.
func queryID(c *gin.Context, name, value string) (uuid.UUID, bool) {
	id, err := uuid.Parse(value)
	if err != nil || len(value) != 36 {
		invalidParam(c, name, "must be a UUID")
		return uuid.Nil, false
	}
	return id, true
}
