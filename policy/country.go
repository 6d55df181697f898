package policy

import (
	"github.com/biter777/countries"
)

// countrySpace is the number of three-letter uppercase codes; a code's index
// in it is its base-26 value, which also orders codes alphabetically.
const countrySpace = 26 * 26 * 26

// maxHintInput bounds the input CountryHint looks at: the lookup library
// builds its normalised string by repeated concatenation, so long input would
// cost quadratic time, and no country name is this long.
const maxHintInput = 64

// withdrawn reports whether code is one biter777/countries still knows but
// that ISO 3166-1 no longer assigns (it moved to ISO 3166-3), so no card can
// be issued in it today.
func withdrawn(code string) bool {
	switch code {
	case "ANT", // Netherlands Antilles, deleted 2010.
		"YUG": // Yugoslavia, deleted 2003.
		return true
	}
	return false
}

// validCountries is indexed by countryIndex. It is computed once so that
// ValidCountry is a table look-up rather than the library's large switch.
var validCountries = buildValidCountries()

func buildValidCountries() *[countrySpace]bool {
	var t [countrySpace]bool
	for _, c := range countries.All() {
		code := c.Alpha3()
		i, ok := countryIndex(code)
		// The round trip through ByName is what callers are promised: the
		// library's name lookup is lenient, so only a code that maps back to
		// itself is the country's canonical alpha-3 code.
		if !ok {
			continue
		}
		if got := countries.ByName(code); !got.IsValid() || got.Alpha3() != code {
			continue
		}
		if userAssigned(code) || withdrawn(code) {
			continue
		}
		t[i] = true
	}
	return &t
}

// userAssigned reports whether code lies in a range ISO 3166-1 reserves for
// private use (AAA–AAZ, QMA–QZZ, XAA–XZZ, ZZA–ZZZ). The library gives Kosovo
// XKX from this range, but it is not an ISO code and networks may disagree on
// it, so it is refused rather than guessed at.
func userAssigned(code string) bool {
	switch {
	case code[0] == 'A' && code[1] == 'A',
		code[0] == 'Q' && code[1] >= 'M',
		code[0] == 'X',
		code[0] == 'Z' && code[1] == 'Z':
		return true
	}
	return false
}

// countryIndex returns the base-26 value of a code of exactly three uppercase
// ASCII letters.
func countryIndex(code string) (int, bool) {
	if len(code) != 3 {
		return 0, false
	}
	// Subtracting in bytes wraps anything below 'A' round to a large value,
	// so one comparison per letter checks both ends of the range.
	a, b, c := code[0]-'A', code[1]-'A', code[2]-'A'
	if a >= 26 || b >= 26 || c >= 26 {
		return 0, false
	}
	return int(a)*676 + int(b)*26 + int(c), true
}

// allCodes is every three-letter code concatenated in index order, so that
// countryCode can return a substring instead of allocating a new string for
// every pair that Pairs or Normalize reports.
var allCodes = func() string {
	b := make([]byte, 0, 3*countrySpace)
	for i := range countrySpace {
		b = append(b, byte('A'+i/676), byte('A'+i/26%26), byte('A'+i%26))
	}
	return string(b)
}()

// countryCode is the inverse of countryIndex.
func countryCode(i int) string {
	return allCodes[3*i : 3*i+3]
}

// ValidCountry reports whether code is an assigned ISO 3166-1 alpha-3 country
// code written exactly: three uppercase letters, such as "GBR". Lowercase,
// alpha-2 codes, names, user-assigned codes (such as Kosovo's XKX) and
// withdrawn codes are refused; see [CountryHint] for suggesting the intended
// code.
func ValidCountry(code string) bool {
	i, ok := countryIndex(code)
	return ok && validCountries[i]
}

// CountryHint suggests the valid alpha-3 code a user probably meant by input:
// an alpha-2 code ("GB" gives "GBR"), an alpha-3 code in the wrong case ("deu"
// gives "DEU") or an English name ("Germany" gives "DEU"). It reports false
// when nothing plausible matches, or when the match is not a code
// [ValidCountry] accepts.
func CountryHint(input string) (string, bool) {
	if input == "" || len(input) > maxHintInput {
		return "", false
	}
	code := countries.ByName(input).Alpha3()
	if !ValidCountry(code) {
		return "", false
	}
	return code, true
}
