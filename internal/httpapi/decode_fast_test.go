package httpapi

import (
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// fastBodies are every fastBody type, each with the generic decoding it must match.
var fastBodies = []struct {
	name string
	new  func() fastBody
}{
	{"message", func() fastBody { return new(messageBody) }},
	{"merchant", func() fastBody { return new(merchantBody) }},
	{"card", func() fastBody { return new(cardBody) }},
	{"batch", func() fastBody { return new(messageBatchBody) }},
}

// TestFastBodyMembersMatchTags: a fastBody's hand-written member lookup names exactly
// its fields' json tags (case and all), each at a distinct index the duplicate check can
// hold, and points at the field itself, so that the fast decoder and the struct cannot
// drift apart.
func TestFastBodyMembersMatchTags(t *testing.T) {
	for _, fb := range fastBodies {
		t.Run(fb.name, func(t *testing.T) {
			b := fb.new()
			v := reflect.ValueOf(b).Elem()
			seen := map[int]string{}
			for i := range v.NumField() {
				tag, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
				idx, dst, ok := b.member([]byte(tag))
				if !ok {
					t.Fatalf("member(%q) unknown", tag)
				}
				if other, dup := seen[idx]; dup || idx >= 64 {
					t.Errorf("member(%q) has index %d, also %q's (or past the duplicate check's 64)", tag, idx, other)
				}
				seen[idx] = tag
				f := v.Field(i)
				var want uintptr
				if _, nested := dst.(fastBody); nested {
					want = f.Pointer() // the member object, made for its value
				} else {
					want = f.Addr().Pointer()
				}
				if got := reflect.ValueOf(dst).Pointer(); got != want {
					t.Errorf("member(%q) points at %#x, want field %s at %#x", tag, got, v.Type().Field(i).Name, want)
				}
				if _, _, ok := b.member([]byte(strings.ToUpper(tag[:1]) + tag[1:])); ok {
					t.Errorf("member accepts %q in another case", tag)
				}
			}
			if len(seen) != v.NumField() {
				t.Errorf("%d distinct members for %d fields", len(seen), v.NumField())
			}
		})
	}
}

func TestDecodeFast(t *testing.T) {
	fe := func(ptr, detail string) *subaccounts.FieldError {
		return &subaccounts.FieldError{Pointer: ptr, Detail: detail}
	}
	tests := []struct {
		name, body string
		want       *subaccounts.FieldError
	}{
		{"accepted", `{"type":"auth","amount":-12,"merchant":{"name":"A\u00e9","city":"x"},"cardId":"c"}`, nil},
		{"wrong type", `{"amount":"12.50"}`, fe("/amount", "must be an integer")},
		{"fraction", `{"amount":1.5}`, fe("/amount", "must be an integer")},
		{"exponent", `{"amount":1e2}`, fe("/amount", "must be an integer")},
		{"overflow", `{"amount":9223372036854775808}`, fe("/amount", "must be an integer")},
		{"nested wrong type", `{"merchant":{"mcc":5}}`, fe("/merchant/mcc", "must be a string")},
		{"object for a string", `{"type":{"a":[1]}}`, fe("/type", "must be a string")},
		{"array for an object", `[{"type":"x"}]`, fe("", "must be an object")},
		{"first type error wins", `{"type":1,"amount":"x"}`, fe("/type", "must be a string")},
		{"check beats an earlier type error", `{"type":1,"bogus":2}`, fe("/bogus", "unknown field")},
		{"syntax beats a type error", `{"type":1,"amount":}`, fe("", "malformed JSON near byte 19")},
		{"trailing data beats a type error", `{"type":1} x`, fe("", "unexpected data after the JSON value")},
		{"null in a wrongly typed value", `{"type":[null]}`, fe("/type/0", "must not be null; omit the field instead")},
		{"card field in a wrongly typed value", `{"type":{"cvv":1}}`, fe("/type/cvv", forbiddenDetail)},
		{"duplicate", `{"type":"a","type":"b"}`, fe("/type", "duplicate key")},
		{"escaped duplicate", `{"type":"a","t\u0079pe":"b"}`, fe("/type", "duplicate key")},
		{"case", `{"Type":"a"}`, fe("/Type", "unknown field")},
		{"unknown nested", `{"merchant":{"street":"a"}}`, fe("/merchant/street", "unknown field")},
		{"card number key", `{"merchant":{"4111111111111111":"a"}}`, fe("/merchant", "member names must not contain a card number")},
		{"empty", ``, fe("", "the body is empty or ends early")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fast, generic messageBody
			got := decodeFast([]byte(tt.body), &fast)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeFast(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
			if ref := decodeGeneric([]byte(tt.body), &generic); !reflect.DeepEqual(got, ref) {
				t.Errorf("decodeFast(%q) = %+v, decodeGeneric %+v", tt.body, got, ref)
			}
			if got == nil && !reflect.DeepEqual(fast, generic) {
				t.Errorf("decodeFast(%q) filled %+v, decodeGeneric %+v", tt.body, fast, generic)
			}
		})
	}
}

func TestDecodeFastMetadata(t *testing.T) {
	tests := []struct {
		name, body string
		want       *subaccounts.FieldError
	}{
		{"accepted", `{"metadata":{"a":"1","b\u00e9":"2"}}`, nil},
		{"empty", `{"metadata":{}}`, nil},
		{"value type", `{"metadata":{"a":1}}`, &subaccounts.FieldError{Pointer: "/metadata", Detail: "must be a string"}},
		{"duplicate", `{"metadata":{"a":"1","a":"2"}}`, &subaccounts.FieldError{Pointer: "/metadata/a", Detail: "duplicate key"}},
		{"too many", `{"metadata":{` + manyMembers(maxMapKeys+1) + `}}`, &subaccounts.FieldError{Pointer: "/metadata", Detail: "must hold at most 50 keys"}},
		{"invalid UTF-8", "{\"metadata\":{\"a\xff\":\"b\xfe\"}}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fast, generic cardBody
			got := decodeFast([]byte(tt.body), &fast)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeFast(%q) = %+v, want %+v", tt.body, got, tt.want)
			}
			if ref := decodeGeneric([]byte(tt.body), &generic); !reflect.DeepEqual(got, ref) {
				t.Errorf("decodeFast(%q) = %+v, decodeGeneric %+v", tt.body, got, ref)
			}
			if got == nil && !reflect.DeepEqual(fast, generic) {
				t.Errorf("decodeFast(%q) filled %+v, decodeGeneric %+v", tt.body, fast, generic)
			}
		})
	}
}

// TestDecodeFastBatch: a batch's items are read in the batch's scan with the results of
// reading each on its own, while the batch's own errors still refuse it whole.
func TestDecodeFastBatch(t *testing.T) {
	tests := []struct {
		name, body string
	}{
		{"items", `{"messages":[42,"x",true,[],{"bogus":1},{"amount":"1"},{"type":"auth"},{"amount":1,"bogus":{"a":[1]},"type":2}]}`},
		{"item error then a batch error", `{"messages":[{"bogus":1,"x":null}]}`},
		{"item error then a card field", `{"messages":[{"bogus":1,"merchant":{"cvv":"1"}}]}`},
		{"card number key in an item", `{"messages":[{"4111111111111111":1}]}`},
		{"null item", `{"messages":[{},null]}`},
		{"not an array", `{"messages":7}`},
		{"object for the array", `{"messages":{"a":{"b":1}}}`},
		{"too many", `{"messages":[` + strings.Repeat("{},", maxArrayItems) + `{}]}`},
		{"deep item", `{"messages":[{"type":` + strings.Repeat("[", MaxDepth-3) + strings.Repeat("]", MaxDepth-3) + `}]}`},
		{"too deep item", `{"messages":[{"type":` + strings.Repeat("[", MaxDepth-2) + strings.Repeat("]", MaxDepth-2) + `}]}`},
		{"ends early", `{"messages":[{}`},
		{"empty", `{"messages":[]}`},
		{"absent", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			compareBatch(t, []byte(tt.body))
		})
	}
}

// refBatch is a batch as the handler read it before the fast decoder: the envelope
// checked and decoded whole, then each item on its own.
type refBatch struct {
	Messages []json.RawMessage `json:"messages"`
}

func compareBatch(t *testing.T, body []byte) {
	t.Helper()
	var fast messageBatchBody
	got := decodeFast(body, &fast)
	var ref refBatch
	want := decodeGeneric(body, &ref)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("batch %q: decodeFast %+v, decodeGeneric %+v", body, got, want)
	}
	if got != nil {
		return
	}
	if len(fast.Messages) != len(ref.Messages) {
		t.Fatalf("batch %q: %d items, want %d", body, len(fast.Messages), len(ref.Messages))
	}
	for i, raw := range ref.Messages {
		var m messageBody
		wantErr := decodeGeneric(raw, &m)
		if it := fast.Messages[i]; !reflect.DeepEqual(it.err, wantErr) || (wantErr == nil && !reflect.DeepEqual(it.body, m)) {
			t.Errorf("batch %q item %d: %+v %+v, want %+v %+v", body, i, it.err, it.body, wantErr, m)
		}
	}
}

// FuzzDecodeFast: on any input the fast decoder reports exactly what the generic path
// (checkJSON, then encoding/json) reports, and fills the same value, for every fast
// body, and for a batch item by item.
func FuzzDecodeFast(f *testing.F) {
	for _, seed := range []string{
		`{"networkTransactionId":"n","type":"auth","cardId":"c","amount":100,"currency":"USD","datetime":"2024-01-01T00:00:00Z","merchant":{"name":"M","mcc":"5411","countryCode":"USA","city":"X"},"authCode":"A"}`,
		`{"number":"4111111111111111","expMonth":12,"expYear":2030,"countryCode":"USA","termsOfUse":true,"metadata":{"a":"b"}}`,
		`{"messages":[{"type":"auth"},{"amount":"1"},42,{"bogus":1}]}`,
		`{"amount":1.5}`, `{"merchant":"x"}`, `{"merchant":{"name":1}}`, `{"metadata":{"a":1,"a":2}}`,
		`{"expMonth":true}`, `{"termsOfUse":"yes"}`, `{"Type":"a"}`, `{"type":"\ud800"}`, "{\"type\":\"\xff\"}",
		`{"type":[[[]]]}`, `{"messages":[[null]]}`, `{"messages":{}}`, `{"cvv":1}`, `{"metadata":{"p\u0069n":"1"}}`,
		`{"amount":-0}`, `{"amount":01}`, `{} {}`, ``, `[`, `{"type":"a",}`, ` {"name" : "x" } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		compareBatch(t, body)
		for _, fb := range fastBodies {
			fast, generic := fb.new(), fb.new()
			if _, batch := fast.(*messageBatchBody); batch {
				continue // compared item by item above
			}
			got, want := decodeFast(body, fast), decodeGeneric(body, generic)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s %q: decodeFast %+v, decodeGeneric %+v", fb.name, body, got, want)
			}
			if got == nil && !reflect.DeepEqual(fast, generic) {
				t.Fatalf("%s %q: decodeFast filled %+v, decodeGeneric %+v", fb.name, body, fast, generic)
			}
		}
	})
}

// TestDecodeFastWorstShapesBounded: the fast decoder keeps the check's bound of a small
// multiple of the body's size in memory on the worst shapes, aimed at each fast body's
// members (a string member for the deep and long shapes, the metadata map, the batch).
func TestDecodeFastWorstShapesBounded(t *testing.T) {
	const limit = 4 // bytes allocated per body byte
	targets := []struct {
		name     string
		new      func() fastBody
		replacer *strings.Replacer
	}{
		{"message", func() fastBody { return new(messageBody) }, strings.NewReplacer(`"name"`, `"type"`, `"metadata"`, `"merchant"`, `"configurations"`, `"currency"`)},
		{"card", func() fastBody { return new(cardBody) }, strings.NewReplacer(`"name"`, `"number"`, `"configurations"`, `"countryCode"`)},
		{"batch", func() fastBody { return new(messageBatchBody) }, strings.NewReplacer(`"name"`, `"messages"`, `"metadata"`, `"messages"`, `"configurations"`, `"messages"`)},
	}
	for _, tg := range targets {
		for _, s := range worstShapes {
			t.Run(tg.name+"/"+s.name, func(t *testing.T) {
				body := []byte(tg.replacer.Replace(string(s.build(MaxBodyBytes - 64))))
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				decodeFast(body, tg.new())
				runtime.ReadMemStats(&after)
				if got := after.TotalAlloc - before.TotalAlloc; got > limit*uint64(len(body)) {
					t.Errorf("decoding a %d-byte %s body allocated %d bytes, want at most %d", len(body), s.name, got, limit*len(body))
				}
			})
		}
	}
}

// hotBodies are the bodies of the hot routes as the load run sends them.
func hotBodies() []struct {
	name string
	body []byte
	new  func() fastBody
	ref  func() any
} {
	msg := `{"networkTransactionId":"ntx-0000000042","type":"auth","cardId":"0b0e8d5e-6b1c-4f7e-9a43-5c2d1f7e8a90","amount":1250,"currency":"USD","datetime":"2026-12-07T10:00:00.000Z","merchant":{"name":"Corner Shop","mcc":"5411","countryCode":"USA","city":"Springfield"},"authCode":"A1B2C3"}`
	batch := `{"messages":[` + strings.Repeat(msg+",", 99) + msg + `]}`
	card := `{"number":"4111111111111111","expMonth":12,"expYear":2030,"countryCode":"USA","termsOfUse":true,"metadata":{"employee":"e-42"}}`
	return []struct {
		name string
		body []byte
		new  func() fastBody
		ref  func() any
	}{
		{"message", []byte(msg), func() fastBody { return new(messageBody) }, func() any { return new(messageBody) }},
		{"batch-100", []byte(batch), func() fastBody { return new(messageBatchBody) }, func() any { return new(refBatch) }},
		{"card", []byte(card), func() fastBody { return new(cardBody) }, func() any { return new(cardBody) }},
	}
}

// BenchmarkDecodeHot compares the fast decoder with the generic path (checkJSON, then
// encoding/json, then each batch item on its own) on the hot routes' bodies.
func BenchmarkDecodeHot(b *testing.B) {
	for _, hb := range hotBodies() {
		b.Run(hb.name+"/generic", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(hb.body)))
			for b.Loop() {
				dst := hb.ref()
				if fe := decodeGeneric(hb.body, dst); fe != nil {
					b.Fatal(fe)
				}
				if rb, ok := dst.(*refBatch); ok {
					for _, raw := range rb.Messages {
						var m messageBody
						if fe := decodeGeneric(raw, &m); fe != nil {
							b.Fatal(fe)
						}
					}
				}
			}
		})
		b.Run(hb.name+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(hb.body)))
			for b.Loop() {
				if fe := decodeFast(hb.body, hb.new()); fe != nil {
					b.Fatal(fe)
				}
			}
		})
	}
}

// TestReadAll: the presized read returns exactly the body whatever the declared length
// (right, short, long, absent), and reports the reader's error.
func TestReadAll(t *testing.T) {
	body := strings.Repeat("0123456789", 1000)
	for _, declared := range []int64{int64(len(body)), 1, 10, int64(len(body)) * 2, 0, -1, MaxBodyBytes + 1} {
		got, err := readAll(iotest.HalfReader(strings.NewReader(body)), declared)
		if err != nil || string(got) != body {
			t.Errorf("declared %d: %d bytes, %v", declared, len(got), err)
		}
	}
	if _, err := readAll(iotest.TimeoutReader(strings.NewReader(body)), int64(len(body))); err != iotest.ErrTimeout {
		t.Errorf("error %v, want %v", err, iotest.ErrTimeout)
	}
}
