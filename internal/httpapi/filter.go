package httpapi

import (
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Query strings are parsed here, into the domain's typed filters: the domain receives
// times and ids, never strings. Each parser adds what it refuses to errs, so that one
// response names every malformed parameter of the request; the caller answers 400 when
// errs is not empty.

// queryUUID parses an optional UUID parameter (canonical form only).
func queryUUID(c *gin.Context, name string, errs *[]subaccounts.FieldError) *uuid.UUID {
	value := c.Query(name)
	if value == "" {
		return nil
	}
	id, err := uuid.Parse(value)
	if err != nil || len(value) != 36 {
		*errs = append(*errs, subaccounts.FieldError{Parameter: name, Detail: "must be a UUID"})
		return nil
	}
	return &id
}

// queryTime parses an optional RFC 3339 date-time parameter, in UTC.
func queryTime(c *gin.Context, name string, errs *[]subaccounts.FieldError) time.Time {
	value := c.Query(name)
	if value == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, value)
	if err != nil {
		*errs = append(*errs, subaccounts.FieldError{Parameter: name, Detail: "must be an RFC 3339 date-time"})
		return time.Time{}
	}
	return t.UTC()
}

// queryWindow parses the optional from (inclusive) and to (exclusive) parameters; when
// both are given, to must be later.
func queryWindow(c *gin.Context, errs *[]subaccounts.FieldError) subaccounts.Window {
	n := len(*errs)
	w := subaccounts.Window{From: queryTime(c, "from", errs), To: queryTime(c, "to", errs)}
	if len(*errs) == n && !w.From.IsZero() && !w.To.IsZero() && !w.From.Before(w.To) {
		*errs = append(*errs, subaccounts.FieldError{Parameter: "to", Detail: "must be later than from"})
	}
	return w
}

// queryInvalid answers 400 naming errs and reports true when there are any.
func queryInvalid(c *gin.Context, errs []subaccounts.FieldError) bool {
	if len(errs) == 0 {
		return false
	}
	fail(c, subaccounts.Invalid(errs...))
	return true
}
