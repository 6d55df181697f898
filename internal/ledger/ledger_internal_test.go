package ledger

import (
	"testing"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestFreeTextCardGuard: every free-text check refuses a card number, however written,
// and accepts digits that are not one, through the one guard.
func TestFreeTextCardGuard(t *testing.T) {
	cases := []struct {
		in   string
		want bool // refused
	}{
		{"invoice 2026-11", false},
		{"PO 1234567890123", false},        // 13 digits failing Luhn
		{"4111111111111111", true},         // a PAN as it is
		{"card 4111 1111 1111 1111", true}, // grouped with spaces
		{"4111-1111-1111-1111", true},      // grouped with dashes
		{"4111.1111.1111.1111", true},      // grouped with dots
		{"2026-11-30 12:00", false},        // a date and time
		{"12345 67890 x 123", false},       // a letter breaks the run
	}
	for _, tc := range cases {
		checks := map[string]func(string) bool{
			"CleanName": func(s string) bool {
				_, fe := subaccounts.CleanName("/name", s)
				return fe != nil && fe.Detail == subaccounts.CardNumberDetail
			},
			"metadata key": func(s string) bool {
				errs := subaccounts.CheckMetadata("/metadata", map[string]string{s[:min(len(s), subaccounts.MaxMetadataKeyLen)]: "v"})
				return len(errs) == 1 && errs[0].Detail == "keys "+subaccounts.CardNumberDetail && errs[0].Pointer == "/metadata"
			},
			"metadata value": func(s string) bool {
				errs := subaccounts.CheckMetadata("/metadata", map[string]string{"k": s})
				return len(errs) == 1 && errs[0].Detail == "value "+subaccounts.CardNumberDetail
			},
			"reference": func(s string) bool {
				_, fe := cleanReference("/reference", &s)
				return fe != nil && fe.Detail == subaccounts.CardNumberDetail
			},
		}
		for name, refused := range checks {
			if got := refused(tc.in); got != tc.want {
				t.Errorf("%s(%q) refused as a card number: %v, want %v", name, tc.in, got, tc.want)
			}
		}
	}
}
