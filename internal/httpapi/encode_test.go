package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/cardseg/subaccounts/internal/api"
)

// populate fills every field of v, recursively, with a distinct non-zero value (strings
// with characters encoding/json escapes), so that a field the hand-written encoder
// forgets, or writes out of order, shows in a comparison with json.Marshal.
func populate(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d <&> \"q\" \\ \n\t\x01 \u2028\u2029 é \xff", *n))
	case reflect.Int, reflect.Int64, reflect.Int32:
		v.SetInt(int64(*n) * -1000003)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		populate(v.Elem(), n)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			populate(v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for range 3 {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			populate(k, n)
			populate(e, n)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				populate(v.Field(i), n)
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf(*n))
	}
}

// TestAppendMatchesMarshal: each hand-written encoder writes exactly what json.Marshal
// writes for its type, with every field set, with none set, and with an empty map.
func TestAppendMatchesMarshal(t *testing.T) {
	encoders := []struct {
		name   string
		value  func() any
		append func(b []byte, v any) []byte
	}{
		{"transaction", func() any { return new(api.Transaction) }, func(b []byte, v any) []byte { return appendTransaction(b, v.(*api.Transaction)) }},
		{"unrouted", func() any { return new(api.Unrouted) }, func(b []byte, v any) []byte { return appendUnrouted(b, v.(*api.Unrouted)) }},
		{"message batch", func() any { return new(api.MessageBatch) }, func(b []byte, v any) []byte { return appendMessageBatch(b, v.(*api.MessageBatch)) }},
		{"card", func() any { return new(api.Card) }, func(b []byte, v any) []byte { return appendCard(b, v.(*api.Card)) }},
	}
	for _, enc := range encoders {
		full, n := enc.value(), 0
		populate(reflect.ValueOf(full).Elem(), &n)
		emptyMap := enc.value()
		if c, ok := emptyMap.(*api.Card); ok {
			c.Metadata = map[string]string{}
		}
		for _, tt := range []struct {
			name string
			v    any
		}{{"full", full}, {"zero", enc.value()}, {"empty map", emptyMap}} {
			t.Run(enc.name+"/"+tt.name, func(t *testing.T) {
				want, err := json.Marshal(tt.v)
				if err != nil {
					t.Fatal(err)
				}
				got := enc.append([]byte("prefix"), tt.v)
				if !bytes.Equal(got, append([]byte("prefix"), want...)) {
					t.Errorf("appended\n%s\nwant\n%s", got[len("prefix"):], want)
				}
			})
		}
	}
}

// FuzzAppendString: appendString quotes any string exactly as json.Marshal does.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<a href='x'>&</a>", "\x00\x1f\x7f", "\u2028\u2029", "é\xff\xfe", "\xed\xa0\x80", "🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("appendString(%q) = %s, want %s", s, got, want)
		}
	})
}

// BenchmarkAppendHot compares the hand-written encoders with json.Marshal on the hot
// responses: one transaction and a batch of 100.
func BenchmarkAppendHot(b *testing.B) {
	id, at := "0b0e8d5e-6b1c-4f7e-9a43-5c2d1f7e8a90", "2026-12-07T10:00:00.000Z"
	tx := api.Transaction{
		ID: id, AccountID: id, SubaccountID: id, CardID: id, NetworkTransactionID: "ntx-0000000042", Type: "auth",
		Amount: 1250, Currency: "USD", Datetime: at, AuthCode: "A1B2C3", RoutedAt: at, ConfigVersion: 3,
		Merchant:     api.Merchant{Name: "Corner Shop", MCC: "5411", CountryCode: "USA", City: "Springfield"},
		PolicyStatus: "in_policy", ReceivedAt: at,
	}
	batch := api.MessageBatch{Results: make([]api.MessageOutcome, 100)}
	for i := range batch.Results {
		batch.Results[i] = api.MessageOutcome{Index: i, Status: 201, Transaction: &tx}
	}
	for _, bb := range []struct {
		name   string
		v      any
		append func([]byte) []byte
	}{
		{"transaction", &tx, func(b []byte) []byte { return appendTransaction(b, &tx) }},
		{"batch-100", &batch, func(b []byte) []byte { return appendMessageBatch(b, &batch) }},
	} {
		b.Run(bb.name+"/marshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := json.Marshal(bb.v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bb.name+"/append", func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				buf = bb.append(buf[:0])
			}
		})
	}
}
