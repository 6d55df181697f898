package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// MaxBodyBytes caps every request body.
const MaxBodyBytes = 1 << 20

// decode reads a JSON body into dst strictly: the media type must be JSON, the body at
// most 1 MiB, object keys must match dst's fields exactly (no unknown fields, no case
// folding), no key may repeat, no value may be null, and nothing may follow the value. On failure it has
// answered the request and returns false.
func decode(c *gin.Context, dst any) bool {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		abortProblem(c, probMediaType, "Send the body as application/json.")
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			abortProblem(c, probTooLarge, fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes))
			return false
		}
		fail(c, fmt.Errorf("read body: %w", err))
		return false
	}
	if fe := checkJSON(body, reflect.TypeOf(dst).Elem()); fe != nil {
		fail(c, subaccounts.Invalid(*fe))
		return false
	}
	if err := json.Unmarshal(body, dst); err != nil {
		fe := subaccounts.FieldError{Pointer: "", Detail: "malformed JSON"}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			fe = subaccounts.FieldError{Pointer: "/" + strings.ReplaceAll(te.Field, ".", "/"), Detail: "must be " + jsonKind(te.Type)}
		}
		fail(c, subaccounts.Invalid(fe))
		return false
	}
	return true
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of another type"
}

// checkJSON walks the token stream once, tracking the Go type each value lands in, and
// reports the first syntax error, unknown or case-mismatched key, duplicate key or
// trailing data, with its JSON pointer.
func checkJSON(body []byte, t reflect.Type) *subaccounts.FieldError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if fe := walk(dec, t, ""); fe != nil {
		return fe
	}
	if _, err := dec.Token(); err != io.EOF {
		return &subaccounts.FieldError{Pointer: "", Detail: "unexpected data after the JSON value"}
	}
	return nil
}

func syntaxError(dec *json.Decoder, err error) *subaccounts.FieldError {
	if err == io.EOF {
		return &subaccounts.FieldError{Pointer: "", Detail: "the body is empty or ends early"}
	}
	return &subaccounts.FieldError{Pointer: "", Detail: fmt.Sprintf("malformed JSON near byte %d", dec.InputOffset())}
}

func walk(dec *json.Decoder, t reflect.Type, ptr string) *subaccounts.FieldError {
	tok, err := dec.Token()
	if err != nil {
		return syntaxError(dec, err)
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if tok == nil {
		// null is refused rather than read as "absent": one meaning per body, and the
		// spec declares no field nullable.
		return &subaccounts.FieldError{Pointer: ptr, Detail: "must not be null; omit the field instead"}
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return syntaxError(dec, err)
			}
			key := kt.(string)
			kptr := ptr + "/" + pointerEscaper.Replace(key)
			if seen[key] {
				return &subaccounts.FieldError{Pointer: kptr, Detail: "duplicate key"}
			}
			seen[key] = true
			var next reflect.Type
			if t != nil {
				switch t.Kind() {
				case reflect.Struct:
					f, ok := fieldByJSONName(t, key)
					if !ok && subaccounts.ForbiddenCardField(key) {
						// Named apart from other unknown fields: a client sending one has a
						// data-handling bug worth seeing, and the value is never read.
						return &subaccounts.FieldError{Pointer: kptr, Detail: "must never be sent: card security codes, track data and PINs are not accepted"}
					}
					if !ok {
						return &subaccounts.FieldError{Pointer: kptr, Detail: "unknown field"}
					}
					next = f
				case reflect.Map:
					next = t.Elem()
				}
			}
			if fe := walk(dec, next, kptr); fe != nil {
				return fe
			}
		}
		if _, err := dec.Token(); err != nil {
			return syntaxError(dec, err)
		}
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if fe := walk(dec, elem, ptr+"/"+strconv.Itoa(i)); fe != nil {
				return fe
			}
		}
		if _, err := dec.Token(); err != nil {
			return syntaxError(dec, err)
		}
	}
	return nil
}

// pointerEscaper escapes an object key for a JSON pointer (RFC 6901). Built once: it sits
// on the path of every key of every body.
var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

func fieldByJSONName(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name && tag != "-" {
			return f.Type, true
		}
	}
	return nil, false
}
