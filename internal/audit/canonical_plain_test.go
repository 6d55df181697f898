package audit

import (
	"bytes"
	"testing"
)

var plainSeeds = []string{
	`{"id":"01a2","subaccountId":"x","status":"active","metadata":{"b":1,"a":[1,2,{"z":null,"y":true}]},"expMonth":12}`,
	`{"a b":1,"a":2,"a!":3}`,
	`{"n":-0.5e+3,"m":10,"k":1E2,"j":0}`,
	` { "spaced" : [ 1 , 2 ] , "x" : "y" } `,
	`[]`, `{}`, `[{}]`, `"plain"`, `17`, `true`,
	`{"dup":1,"dup":2}`,
	`{"esc":"a\"b"}`, `{"html":"<b>"}`, `{"é":1}`, `null`, `{"a":1} x`, `{"a":01}`, `{"a":1.}`, `{"a":`, `[1,]`,
}

// The fast path agrees with the decoder on every document it takes, and leaves the rest
// to it (errors included).
func FuzzCanonicalPlain(f *testing.F) {
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ok := canonicalPlain(raw)
		if !ok {
			return
		}
		slow, err := canonicalDecoded(raw)
		if err != nil {
			t.Fatalf("the fast path took %q, which the decoder refuses: %v", raw, err)
		}
		if !bytes.Equal(fast, slow) {
			t.Fatalf("canonical forms of %q differ:\nfast %s\nslow %s", raw, fast, slow)
		}
	})
}

func TestCanonicalPlainTakesTheServicesDocuments(t *testing.T) {
	for _, s := range plainSeeds[:6] {
		if _, ok := canonicalPlain([]byte(s)); !ok {
			t.Errorf("the fast path left %s to the decoder", s)
		}
	}
	for _, s := range plainSeeds[10:] {
		if _, ok := canonicalPlain([]byte(s)); ok {
			t.Errorf("the fast path took %s", s)
		}
	}
}

func BenchmarkCanonicalJSON(b *testing.B) {
	doc := []byte(plainSeeds[0])
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := CanonicalJSON(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoded", func(b *testing.B) {
		for b.Loop() {
			if _, err := canonicalDecoded(doc); err != nil {
				b.Fatal(err)
			}
		}
	})
}
