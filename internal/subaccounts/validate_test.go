package subaccounts

import (
	"slices"
	"strings"
	"testing"
)

func TestCleanName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "Acme Corp", "Acme Corp", true},
		{"trimmed", "  John's Pizzeria \t", "John's Pizzeria", true},
		{"unicode", "Café Zürich", "Café Zürich", true},
		{"200 runes", strings.Repeat("é", 200), strings.Repeat("é", 200), true},
		{"201 runes", strings.Repeat("é", 201), "", false},
		{"empty", "", "", false},
		{"only spaces", "    ", "", false},
		{"newline inside", "a\nb", "", false},
		{"NUL", "a\x00b", "", false},
		{"bell", "a\u0007b", "", false},
		{"right-to-left override", "abc\u202Etxt.exe", "", false},
		{"isolate", "a\u2066b", "", false},
		{"left-to-right mark", "a\u200Eb", "", false},
		{"arabic letter mark", "a\u061Cb", "", false},
		{"invalid UTF-8", "a\xffb", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, fe := CleanName("/name", tc.in)
			if tc.ok != (fe == nil) {
				t.Fatalf("CleanName(%q) error %v, want ok=%v", tc.in, fe, tc.ok)
			}
			if got != tc.want {
				t.Errorf("CleanName(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if fe != nil && fe.Pointer != "/name" {
				t.Errorf("pointer %q", fe.Pointer)
			}
		})
	}
}

func TestCheckMetadata(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range MaxMetadataKeys + 1 {
		many[strings.Repeat("k", 1+i%30)+string(rune('a'+i%26))+strings.Repeat("x", i/26)] = "v"
	}
	tests := []struct {
		name     string
		in       map[string]string
		pointers []string
	}{
		{"nil", nil, nil},
		{"fine", map[string]string{"crm": "42", "tier": "gold"}, nil},
		{"empty key", map[string]string{"": "v"}, []string{"/metadata/"}},
		{"long key", map[string]string{strings.Repeat("k", 41): "v"}, []string{"/metadata/" + strings.Repeat("k", 41)}},
		{"long value", map[string]string{"k": strings.Repeat("v", 501)}, []string{"/metadata/k"}},
		{"control in value", map[string]string{"k": "a\nb"}, []string{"/metadata/k"}},
		{"pointer escaping", map[string]string{"a/b~c": strings.Repeat("v", 501)}, []string{"/metadata/a~1b~0c"}},
		{"sorted", map[string]string{"b": "\x01", "a": "\x01"}, []string{"/metadata/a", "/metadata/b"}},
		{"too many keys", many, []string{"/metadata"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, fe := range CheckMetadata("/metadata", tc.in) {
				got = append(got, fe.Pointer)
			}
			if !slices.Equal(got, tc.pointers) {
				t.Errorf("pointers %q, want %q", got, tc.pointers)
			}
		})
	}
	if len(many) != MaxMetadataKeys+1 {
		t.Fatalf("fixture has %d keys", len(many))
	}
}

// TestForbiddenCardField is not parallel: AllocsPerRun needs the process to itself.
func TestForbiddenCardField(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"cvv", true}, {"CVV", true}, {"Cvc2", true}, {"cvv_2", true}, {"CID", true},
		{"security-code", true}, {"Track_2", true}, {"trackData", true}, {"PIN", true}, {"pin_block", true},
		{"", false}, {"number", false}, {"pinned", false}, {"spin", false}, {"cv", false}, {"note", false},
		{strings.Repeat("cvv", 20), false},
	}
	for _, tt := range tests {
		if got := ForbiddenCardField(tt.name); got != tt.want {
			t.Errorf("ForbiddenCardField(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { ForbiddenCardField("Security_Code") }); n != 0 {
		t.Errorf("ForbiddenCardField allocates %v times, want 0: it runs on every key of every body", n)
	}
}

func TestErrorReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"refusal", &Error{Code: CodeConflict, Detail: &Refusal{Reason: "balance-not-zero"}}, "balance-not-zero"},
		{"other detail", &Error{Code: CodeCardExists, Detail: &CardExists{}}, ""},
		{"no detail", Errorf(CodeConflict, "x"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Reason(); got != tt.want {
				t.Errorf("Reason() = %q, want %q", got, tt.want)
			}
		})
	}
}
