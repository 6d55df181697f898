package pan_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/pan"
)

// referenceContains is ContainsCardNumber written the slow, obvious way: cut s into
// written numbers (stretches of digits and separators), each into its digit groups, and
// try every stretch of consecutive groups.
func referenceContains(s string) bool {
	numbers := strings.FieldsFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789 -.", r) })
	for _, num := range numbers {
		groups := strings.FieldsFunc(num, func(r rune) bool { return strings.ContainsRune(" -.", r) })
		for i := range groups {
			for j := i + 1; j <= len(groups); j++ {
				digits := strings.Join(groups[i:j], "")
				if len(digits) >= 13 && len(digits) <= 19 && referenceLuhn(digits) {
					return true
				}
			}
		}
	}
	return false
}

func TestContainsCardNumber(t *testing.T) {
	visa := "4111111111111111"
	tests := []struct {
		name string
		s    string
		want bool
	}{
		{"empty", "", false},
		{"plain text", "Coffee & Co, Berlin", false},
		{"bare number", visa, true},
		{"in text", "card " + visa + " please", true},
		{"glued to letters", "x" + visa + "y", true},
		{"spaces", "4111 1111 1111 1111", true},
		{"dashes", "4111-1111-1111-1111", true},
		{"dots", "4111.1111.1111.1111", true},
		{"mixed separators", "4111 - 1111.1111 1111", true},
		{"after another number", "ref 12 4111 1111 1111 1111", true},
		{"before another number", "4111 1111 1111 1111 exp 12 28", true},
		{"amex 15", "378282246310005", true},
		{"13 digits", "4222222222222", true},
		{"19 digits", withLuhn("601100099013942400"), true},
		{"fails Luhn", "4111111111111112", false},
		{"12 digits", "411111111116", false},
		{"20-digit run", withLuhn("4111111111111111111"), false},
		{"broken by a comma", "4111 1111, 1111 1111", false},
		{"broken by a slash", "4111/1111/1111/1111", false},
		{"uuid", "0195f3a2-7c41-7b6e-9d2a-3f5e8c1b0a47", false},
		{"date and amount", "2026-12-07 12.50 EUR", false},
		{"fullwidth digits", "４１１１１１１１１１１１１１１１", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pan.ContainsCardNumber(tt.s); got != tt.want {
				t.Errorf("ContainsCardNumber(%q) = %v, want %v", tt.s, got, tt.want)
			}
			if got := referenceContains(tt.s); got != tt.want {
				t.Errorf("referenceContains(%q) = %v, want %v (the test's reference is wrong)", tt.s, got, tt.want)
			}
		})
	}
}

// withLuhn appends the check digit that makes payload pass the Luhn check.
func withLuhn(payload string) string {
	for d := '0'; d <= '9'; d++ {
		if s := payload + string(d); referenceLuhn(s) {
			return s
		}
	}
	panic("no check digit")
}

// TestContainsCardNumberFindsEveryWrittenCard hides random valid card numbers, written
// with random separators, in random text: every one is found.
func TestContainsCardNumberFindsEveryWrittenCard(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		n := 13 + r.IntN(7)
		payload := make([]byte, n-1)
		for i := range payload {
			payload[i] = byte('0' + r.IntN(10))
		}
		card := withLuhn(string(payload))
		var b strings.Builder
		b.WriteString(randomText(r, 20))
		b.WriteByte('x')
		for i := range card {
			if i > 0 && r.IntN(4) == 0 {
				b.WriteByte(" -."[r.IntN(3)])
			}
			b.WriteByte(card[i])
		}
		b.WriteByte('x')
		b.WriteString(randomText(r, 20))
		if s := b.String(); !pan.ContainsCardNumber(s) {
			t.Fatalf("ContainsCardNumber(%q) = false, want true", s)
		}
	}
}

// TestContainsCardNumberMatchesReference compares the guard with the slow reference on
// random strings made mostly of digits and separators.
func TestContainsCardNumberMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		s := randomText(r, 60)
		if got, want := pan.ContainsCardNumber(s), referenceContains(s); got != want {
			t.Fatalf("ContainsCardNumber(%q) = %v, reference says %v", s, got, want)
		}
	}
}

func randomText(r *rand.Rand, max int) string {
	const alphabet = "0123456789012345678901234567890123456789 -.a,"
	b := make([]byte, r.IntN(max))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func FuzzContainsCardNumber(f *testing.F) {
	for _, s := range []string{"", "4111 1111 1111 1111", "ref 12 4111-1111-1111-1111", "378282246310005", "1.2.3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := pan.ContainsCardNumber(s), referenceContains(s); got != want {
			t.Fatalf("ContainsCardNumber(%q) = %v, reference says %v", s, got, want)
		}
	})
}

func TestContainsCardNumberAllocations(t *testing.T) {
	s := strings.Repeat("1234 5678 9 ", 1000)
	if n := testing.AllocsPerRun(10, func() { pan.ContainsCardNumber(s) }); n != 0 {
		t.Errorf("ContainsCardNumber allocates %v times, want 0", n)
	}
}

func BenchmarkContainsCardNumber(b *testing.B) {
	s := strings.Repeat("Order 1234-5678 for 12.50 EUR, ", 1000)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		pan.ContainsCardNumber(s)
	}
}
