package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// FuzzCheckJSON: the strict checker never panics, accepts only valid JSON, and whatever it
// accepts decodes into the body type with the standard decoder.
func FuzzCheckJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"x"}`,
		`{"name":"x","configurations":[{"countries":["USA"],"networks":["VISA"]}],"metadata":{"a":"b"}}`,
		`{"name":"x","name":"y"}`,
		`{"Name":"x"}`,
		`{"name":"x"} {}`,
		`{"metadata":{"a/b":"c","a~b":"d"}}`,
		`[1,2,3]`, `null`, `"str"`, `{`, ``, `{"configurations":[{"x":1}]}`,
		`{"name":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}`,
		`{"metadata":{"cvv":"1"}}`, `{"name":"\u00e9\"","metadata":{"a\/b":"1e5"}}`,
		`{"maxCards":-0.5e+3}`, `{"maxCards":01}`, `{"name":"\x"}`, "{\"name\":\"\x01\"}",
		`{"name":tru}`, `{"name":"x",}`, `[1,]`, ` {"name" : "x" } `,
	} {
		f.Add([]byte(seed))
	}
	typ := reflect.TypeOf(api.CreateSubaccountRequest{})
	f.Fuzz(func(t *testing.T, body []byte) {
		fe := checkJSON(body, typ)
		valid := json.Valid(body)
		if fe != nil {
			// A body refused for something else may stop the scan before a later syntax
			// error; a syntax error must be one encoding/json sees too.
			if valid && isSyntaxDetail(fe.Detail) {
				t.Fatalf("checkJSON calls valid JSON %q malformed: %v", body, fe)
			}
			return
		}
		if !valid {
			t.Fatalf("checkJSON accepted invalid JSON %q", body)
		}
		var v api.CreateSubaccountRequest
		err := json.Unmarshal(body, &v)
		var te *json.UnmarshalTypeError
		if err != nil && !errors.As(err, &te) {
			t.Fatalf("checkJSON accepted %q but decoding fails: %v", body, err)
		}
	})
}

func isSyntaxDetail(d string) bool {
	return strings.HasPrefix(d, "malformed JSON") || d == "the body is empty or ends early" || d == "unexpected data after the JSON value"
}

func TestCheckJSON(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	tests := []struct {
		name, body string
		want       *subaccounts.FieldError // nil: accepted
	}{
		{"accepted", `{"name":"x","metadata":{"a":"b"},"configurations":[{"countries":["USA"],"networks":["VISA"]}]}`, nil},
		{"escaped key", `{"n\u0061me":"x"}`, nil},
		{"nesting at the cap", `{"name":` + deep[:MaxDepth-1] + deep[MaxDepth+1:] + `}`, nil},
		{"nesting past the cap", `{"name":` + deep + `}`, &subaccounts.FieldError{
			Pointer: "/name" + strings.Repeat("/0", MaxDepth-1), Detail: "nests deeper than 32 levels"}},
		{"duplicate field", `{"name":"x","name":"y"}`, &subaccounts.FieldError{Pointer: "/name", Detail: "duplicate key"}},
		{"duplicate metadata key", `{"metadata":{"a":"1","b":"2","a":"3"}}`, &subaccounts.FieldError{Pointer: "/metadata/a", Detail: "duplicate key"}},
		{"case-mismatched field", `{"Name":"x"}`, &subaccounts.FieldError{Pointer: "/Name", Detail: "unknown field"}},
		{"top-level card field", `{"CVV":"123"}`, &subaccounts.FieldError{Pointer: "/CVV", Detail: forbiddenDetail}},
		{"card field in metadata", `{"metadata":{"cvv":"123"}}`, &subaccounts.FieldError{Pointer: "/metadata/cvv", Detail: forbiddenDetail}},
		{"card field deep down", `{"configurations":[{"countries":[{"Track_2":"x"}]}]}`, &subaccounts.FieldError{Pointer: "/configurations/0/countries/0/Track_2", Detail: forbiddenDetail}},
		{"escaped card field", `{"metadata":{"p\u0069n":"1"}}`, &subaccounts.FieldError{Pointer: "/metadata/pin", Detail: forbiddenDetail}},
		{"pointer escapes", `{"metadata":{"a/b~":null}}`, &subaccounts.FieldError{Pointer: "/metadata/a~1b~0", Detail: "must not be null; omit the field instead"}},
		{"too many metadata keys", `{"metadata":{` + manyMembers(maxMapKeys+1) + `}}`, &subaccounts.FieldError{Pointer: "/metadata", Detail: "must hold at most 50 keys"}},
		{"too many items", `{"configurations":[` + strings.Repeat("{},", maxArrayItems) + `{}]}`, &subaccounts.FieldError{Pointer: "/configurations", Detail: "must hold at most 1000 items"}},
		{"card number as a key", `{"metadata":{"4111 1111 1111 1111":null}}`, &subaccounts.FieldError{Pointer: "/metadata", Detail: "member names must not contain a card number"}},
		{"card number as an unknown field", `{"4111111111111111":"x"}`, &subaccounts.FieldError{Pointer: "", Detail: "member names must not contain a card number"}},
		{"trailing data", `{"name":"x"} {}`, &subaccounts.FieldError{Pointer: "", Detail: "unexpected data after the JSON value"}},
		{"empty", ``, &subaccounts.FieldError{Pointer: "", Detail: "the body is empty or ends early"}},
		{"malformed", `{"name":x}`, &subaccounts.FieldError{Pointer: "", Detail: "malformed JSON near byte 8"}},
	}
	typ := reflect.TypeOf(api.CreateSubaccountRequest{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkJSON([]byte(tt.body), typ); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("checkJSON(%.60q) = %+v, want %+v", tt.body, got, tt.want)
			}
		})
	}
}

const forbiddenDetail = "must never be sent: card security codes, track data and PINs are not accepted"

func manyMembers(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"k` + strconv.Itoa(i) + `":"v"`
	}
	return strings.Join(parts, ",")
}
