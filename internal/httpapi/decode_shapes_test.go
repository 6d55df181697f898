package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"strconv"
	"testing"

	"github.com/cardseg/subaccounts/internal/api"
)

// bodyShape builds a body of about n bytes of one shape that is costly for a naive
// strict checker.
type bodyShape struct {
	name  string
	build func(n int) []byte
}

// worstShapes are the shapes a strict body check must handle in time and memory linear in
// the body's size: deep nesting of arrays and objects, one object with very many keys,
// one long string, and many small arrays.
var worstShapes = []bodyShape{
	{"deep-arrays", func(n int) []byte {
		d := (n - len(`{"name":}`)) / 2
		return []byte(`{"name":` + repeat("[", d) + repeat("]", d) + `}`)
	}},
	{"deep-objects", func(n int) []byte {
		d := (n - len(`{"metadata":}`)) / len(`{"a":}`)
		return []byte(`{"metadata":` + repeat(`{"a":`, d) + "1" + repeat("}", d) + `}`)
	}},
	// Keys of an object the body type has no map for are scanned to the end without
	// being kept; a metadata map stops at its key limit.
	{"many-keys", func(n int) []byte { return manyKeys(`{"name":{`, n) }},
	{"many-metadata-keys", func(n int) []byte { return manyKeys(`{"metadata":{`, n) }},
	{"long-string", func(n int) []byte {
		return []byte(`{"name":"` + repeat("a", n-len(`{"name":""}`)) + `"}`)
	}},
	// Nesting just inside the cap, over and over: the deep shapes above stop at the cap.
	{"deep-allowed", func(n int) []byte {
		x := repeat("[", MaxDepth-2) + repeat("]", MaxDepth-2)
		k := (n - len(`{"name":[]}`)) / (len(x) + 1)
		return []byte(`{"name":[` + repeat(x+",", k-1) + x + `]}`)
	}},
	{"small-arrays", func(n int) []byte {
		k := (n - len(`{"name":[]}`)) / 3
		return []byte(`{"name":[` + repeat("[],", k) + `[]]}`)
	}},
	{"small-objects", func(n int) []byte {
		k := (n-len(`{"configurations":[]}`))/3 - 1
		return []byte(`{"configurations":[` + repeat("{},", k) + `{}]}`)
	}},
}

func manyKeys(open string, n int) []byte {
	var b bytes.Buffer
	b.WriteString(open)
	for i := 0; b.Len() < n-16; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + strconv.Itoa(i) + `":""`)
	}
	b.WriteString(`}}`)
	return b.Bytes()
}

func repeat(s string, n int) string { return string(bytes.Repeat([]byte(s), max(n, 0))) }

// TestCheckJSONWorstShapesBounded feeds 1 MiB bodies of the worst shapes to both passes
// of decode (the strict check, then encoding/json when the check passes) and asserts they
// allocate at most a small multiple of the body's size. The walk this replaced allocated
// about 300 GB (and grew the process to 23 GB) for the deep-arrays shape.
func TestCheckJSONWorstShapesBounded(t *testing.T) {
	typ := reflect.TypeOf(api.CreateSubaccountRequest{})
	const limit = 4 // bytes allocated per body byte
	for _, s := range worstShapes {
		t.Run(s.name, func(t *testing.T) {
			body := s.build(MaxBodyBytes)
			if len(body) > MaxBodyBytes || len(body) < MaxBodyBytes*9/10 {
				t.Fatalf("body is %d bytes, want about %d", len(body), MaxBodyBytes)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if checkJSON(body, typ) == nil {
				var v api.CreateSubaccountRequest
				_ = json.Unmarshal(body, &v)
			}
			runtime.ReadMemStats(&after)
			if got := after.TotalAlloc - before.TotalAlloc; got > limit*uint64(len(body)) {
				t.Errorf("decoding a %d-byte %s body allocated %d bytes, want at most %d", len(body), s.name, got, limit*len(body))
			}
		})
	}
}

// BenchmarkCheckJSON reports the strict check's cost per body byte (ns/body-byte and
// B/body-byte) for each worst shape at 1 MiB.
func BenchmarkCheckJSON(b *testing.B) {
	typ := reflect.TypeOf(api.CreateSubaccountRequest{})
	for _, s := range worstShapes {
		for _, n := range benchSizes() {
			body := s.build(n)
			b.Run(fmt.Sprintf("%s/%dKiB", s.name, n>>10), func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				for b.Loop() {
					checkJSON(body, typ)
				}
				runtime.ReadMemStats(&after)
				perByte := float64(b.N) * float64(len(body))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/perByte, "ns/body-byte")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/perByte, "B/body-byte")
			})
		}
	}
}

func benchSizes() []int { return []int{MaxBodyBytes} }
