package policy_test

import (
	"testing"

	"github.com/biter777/countries"

	"github.com/cardseg/subaccounts/policy"
)

func TestValidCountry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code string
		want bool
	}{
		{"United States", "USA", true},
		{"Canada", "CAN", true},
		{"United Kingdom", "GBR", true},
		{"Germany", "DEU", true},
		{"France", "FRA", true},
		{"Aland Islands", "ALA", true},
		{"South Sudan", "SSD", true},
		{"Kosovo is user-assigned, not ISO", "XKX", false},
		{"Wales is a library alias of GBR", "XWA", false},
		{"England is a library alias of GBR", "ENG", false},
		{"Yugoslavia was withdrawn", "YUG", false},
		{"Netherlands Antilles was withdrawn", "ANT", false},
		{"user-assigned AAA", "AAA", false},
		{"user-assigned ZZZ", "ZZZ", false},
		{"lowercase", "gbr", false},
		{"mixed case", "Gbr", false},
		{"alpha-2", "GB", false},
		{"name", "Germany", false},
		{"empty", "", false},
		{"four letters", "GBRA", false},
		{"trailing space", "GBR ", false},
		{"digits", "826", false},
		{"non-ASCII", "ÄBC", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := policy.ValidCountry(tt.code); got != tt.want {
				t.Errorf("ValidCountry(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

// TestValidCountryMatchesLibrary checks the precomputed table against the
// promised semantics over the whole three-letter space: a code is valid when
// biter777/countries maps it back to itself, minus the codes that are not
// current ISO 3166-1 assignments.
func TestValidCountryMatchesLibrary(t *testing.T) {
	t.Parallel()
	notISO := map[string]bool{"XKX": true, "ANT": true, "YUG": true}
	n := 0
	for a := byte('A'); a <= 'Z'; a++ {
		for b := byte('A'); b <= 'Z'; b++ {
			for c := byte('A'); c <= 'Z'; c++ {
				code := string([]byte{a, b, c})
				got := countries.ByName(code)
				want := got.IsValid() && got.Alpha3() == code && !notISO[code]
				if policy.ValidCountry(code) != want {
					t.Errorf("ValidCountry(%q) = %v, want %v", code, !want, want)
				}
				if want {
					n++
				}
			}
		}
	}
	// ISO 3166-1 assigns 249 alpha-3 codes.
	if n != 249 {
		t.Errorf("%d valid codes, want 249", n)
	}
	if len(validCountries) != n {
		t.Errorf("helper lists %d codes, want %d", len(validCountries), n)
	}
}

func TestCountryHint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		input  string
		want   string
		wantOK bool
	}{
		{"alpha-2", "GB", "GBR", true},
		{"lowercase alpha-3", "gbr", "GBR", true},
		{"lowercase alpha-3 DEU", "deu", "DEU", true},
		{"English name", "Germany", "DEU", true},
		{"UK", "UK", "GBR", true},
		{"already valid", "FRA", "FRA", true},
		{"unknown code", "ZZZ", "", false},
		{"Kosovo resolves to a non-ISO code", "Kosovo", "", false},
		{"withdrawn", "Yugoslavia", "", false},
		{"gibberish", "qwertyuiop", "", false},
		{"empty", "", "", false},
		{"too long to be a name", string(make([]byte, 1000)), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := policy.CountryHint(tt.input)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("CountryHint(%q) = %q, %v; want %q, %v", tt.input, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
