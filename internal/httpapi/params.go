package httpapi

import (
	"maps"
	"net/url"
	"slices"
	"strconv"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/pan"
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

// boolParam reads an optional query parameter that is exactly true or false: the other
// forms strconv.ParseBool knows (1, t, TRUE…) are refused, so that a client's typo never
// turns into a destructive yes (cascade=1 used to delete).
func boolParam(c *gin.Context, name string) (bool, bool) {
	switch s, ok := c.GetQuery(name); {
	case !ok:
		return false, true
	case s == "true":
		return true, true
	case s == "false":
		return false, true
	}
	invalidParam(c, name, "must be true or false")
	return false, false
}

// strictQuery applies the one rule every query string of the API follows, before any
// handler reads it: well-formed, no parameter given twice (every parameter is single
// valued, and which of two values would win is not something a client should guess), and
// no empty value (an empty filter would otherwise read as "no filter").
func strictQuery() gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.URL.RawQuery == "" {
			return
		}
		q, err := url.ParseQuery(c.Request.URL.RawQuery)
		if err != nil {
			abortProblem(c, probValidation, "The query string is malformed.")
			return
		}
		// Sorted, so that the same query always gets the same answer.
		for _, name := range slices.Sorted(maps.Keys(q)) {
			v := q[name]
			switch {
			case pan.ContainsCardNumber(name):
				// Not named in the answer: a problem never echoes a card number.
				abortProblem(c, probValidation, "A query parameter name must not contain a card number.")
			case len(v) > 1:
				invalidParam(c, name, "must be given at most once")
			case v[0] == "":
				invalidParam(c, name, "must not be empty; omit the parameter instead")
			default:
				continue
			}
			return
		}
	}
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
