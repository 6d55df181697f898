package httpapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
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
	} {
		f.Add([]byte(seed))
	}
	typ := reflect.TypeOf(createSubaccountBody{})
	f.Fuzz(func(t *testing.T, body []byte) {
		fe := checkJSON(body, typ)
		if fe != nil {
			return
		}
		if !json.Valid(body) {
			t.Fatalf("checkJSON accepted invalid JSON %q", body)
		}
		var v createSubaccountBody
		err := json.Unmarshal(body, &v)
		var te *json.UnmarshalTypeError
		if err != nil && !errors.As(err, &te) {
			t.Fatalf("checkJSON accepted %q but decoding fails: %v", body, err)
		}
	})
}
