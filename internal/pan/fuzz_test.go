package pan_test

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/pan"
)

// referenceLuhn is the textbook Luhn check written differently from
// pan.Luhn: it reverses the digits first, weights them 1, 2, 1, 2, … and adds
// the decimal digits of each product as text, so a shared mistake is
// unlikely.
func referenceLuhn(s string) bool {
	if s == "" {
		return false
	}
	digits := []byte(s)
	slices.Reverse(digits)
	total := 0
	for i, c := range digits {
		if !strings.ContainsRune("0123456789", rune(c)) {
			return false
		}
		product := int(c-'0') * (1 + i%2)
		for _, p := range strconv.Itoa(product) {
			total += int(p - '0')
		}
	}
	return total%10 == 0
}

// FuzzLuhn checks Luhn against referenceLuhn.
func FuzzLuhn(f *testing.F) {
	for _, tt := range luhnCases {
		f.Add(tt.digits)
	}
	f.Add("79927398713") // the example from the Wikipedia article
	f.Add("79927398710")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := pan.Luhn(s), referenceLuhn(s); got != want {
			t.Errorf("Luhn(%q) = %v, reference says %v", s, got, want)
		}
	})
}

// FuzzParse checks that Parse never panics, that what it accepts meets every
// documented rule, and that what it refuses is refused with one of the fixed
// reasons.
func FuzzParse(f *testing.F) {
	for _, tt := range luhnCases {
		f.Add(tt.digits)
	}
	for _, s := range []string{
		"6011111111111117",
		"4222222222222",
		"4111111111111111110",
		"41111111111111111111",
		"2720999999999999",
		"2221000000000009",
		"5100000000000008",
		// Inputs that happen to be substrings of a reason; see below.
		"digits",
		"Luhn check",
		" 13 to 19 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := pan.Parse(s)
		if err != nil {
			var perr *pan.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error %T, want *pan.Error", s, err)
			}
			if !slices.Contains(reasons, err.Error()) || perr.Reason != err.Error() {
				t.Fatalf("Parse(%q) error %q is not one of the documented reasons", s, err)
			}
			if !n.IsZero() {
				t.Fatalf("Parse(%q) returned a Number with an error", s)
			}
			// Being one of the fixed reasons already means the message
			// does not depend on the input; this checks the same thing
			// the way a leak would be noticed. An input with six digits
			// cannot occur in a reason by chance (the reasons hold four
			// digits between them), whereas "digits" or "Luhn c" can.
			if countDigits(s) >= 6 && strings.Contains(err.Error(), s) {
				t.Fatalf("Parse(%q) error %q contains the input", s, err)
			}
			return
		}

		if len(s) < 13 || len(s) > 19 {
			t.Fatalf("Parse accepted %q of length %d", s, len(s))
		}
		if !pan.Luhn(s) {
			t.Fatalf("Parse accepted %q, which fails Luhn", s)
		}
		network, ok := pan.DetectNetwork(s)
		if !ok || network != n.Network() {
			t.Fatalf("Parse(%q).Network() = %v, DetectNetwork = %v, %v", s, n.Network(), network, ok)
		}
		if !strings.HasPrefix(s, n.First6()) || len(n.First6()) != 6 {
			t.Fatalf("First6() = %q for %q", n.First6(), s)
		}
		if !strings.HasSuffix(s, n.Last4()) || len(n.Last4()) != 4 {
			t.Fatalf("Last4() = %q for %q", n.Last4(), s)
		}
		masked := n.String()
		if masked == s {
			t.Fatalf("String() returned the PAN %q unmasked", s)
		}
		if want := s[:6] + strings.Repeat("*", len(s)-10) + s[len(s)-4:]; masked != want {
			t.Fatalf("String() = %q, want %q", masked, want)
		}
	})
}

func countDigits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}
