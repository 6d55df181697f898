package subaccounts

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/biter777/countries"

	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/policy"
)

// Limits on free-form input, chosen to keep rows and responses small.
const (
	MaxNameLength     = 200
	MaxMetadataKeys   = 50
	MaxMetadataKeyLen = 40
	MaxMetadataValLen = 500
	MaxMaxSubaccounts = 1_000_000
)

// CleanName trims a name and checks it: 1–200 characters, valid UTF-8, no control or
// bidirectional-formatting characters (which can disguise a name in a UI or a log), and
// no card number.
func CleanName(pointer, name string) (string, *FieldError) {
	name = strings.TrimSpace(name)
	if err := CheckText(name); err != "" {
		return "", &FieldError{Pointer: pointer, Detail: err}
	}
	n := utf8.RuneCountInString(name)
	if n < 1 || n > MaxNameLength {
		return "", &FieldError{Pointer: pointer, Detail: fmt.Sprintf("must be 1 to %d characters after trimming", MaxNameLength)}
	}
	return name, nil
}

// CardNumberDetail is the problem detail of a free-text field holding what may be a card
// number. It never repeats the digits.
const CardNumberDetail = "must not contain a card number (13 to 19 digits passing the Luhn check, with or without spaces, dashes or dots)"

// CheckText checks free text the service stores or echoes: valid UTF-8, no control or
// bidi characters, and, through the one card-data guard every such field passes
// (pan.ContainsCardNumber), nothing that may be a card number.
func CheckText(s string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	if pan.ContainsCardNumber(s) {
		return CardNumberDetail
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "must not contain control characters"
		}
		if isBidi(r) {
			return "must not contain bidirectional formatting characters"
		}
	}
	return ""
}

func isBidi(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// CheckMetadata validates a metadata map: at most 50 keys of 1–40 characters, values of
// at most 500 characters, no control or bidi characters and no card number in either.
func CheckMetadata(pointer string, m map[string]string) []FieldError {
	var errs []FieldError
	if len(m) > MaxMetadataKeys {
		return []FieldError{{Pointer: pointer, Detail: fmt.Sprintf("at most %d keys", MaxMetadataKeys)}}
	}
	for k, v := range m {
		if pan.ContainsCardNumber(k) {
			// Named by the map, not by the key: a problem must not echo a card number.
			errs = append(errs, FieldError{Pointer: pointer, Detail: "keys " + CardNumberDetail})
			continue
		}
		p := pointer + "/" + escapePointer(k)
		if ForbiddenCardField(k) {
			errs = append(errs, FieldError{Pointer: p, Detail: "key names card data that must never be sent (security codes, track data, PINs)"})
		} else if n := utf8.RuneCountInString(k); n < 1 || n > MaxMetadataKeyLen {
			errs = append(errs, FieldError{Pointer: p, Detail: fmt.Sprintf("keys must be 1 to %d characters", MaxMetadataKeyLen)})
		} else if msg := CheckText(k); msg != "" {
			errs = append(errs, FieldError{Pointer: p, Detail: "key " + msg})
		}
		if utf8.RuneCountInString(v) > MaxMetadataValLen {
			errs = append(errs, FieldError{Pointer: p, Detail: fmt.Sprintf("values must be at most %d characters", MaxMetadataValLen)})
		} else if msg := CheckText(v); msg != "" {
			errs = append(errs, FieldError{Pointer: p, Detail: "value " + msg})
		}
	}
	sortFields(errs)
	return errs
}

// CompileConfigurations validates configurations with the policy engine, prefixing its
// pointers with pointer.
func CompileConfigurations(pointer string, configs []policy.Configuration) (*policy.Set, []FieldError) {
	set, ferrs := policy.Compile(configs)
	if len(ferrs) == 0 {
		return set, nil
	}
	out := make([]FieldError, len(ferrs))
	for i, fe := range ferrs {
		d := fe.Detail
		if pan.ContainsCardNumber(d) {
			// The policy engine quotes what it refuses; a card number is not echoed.
			d = "is not valid (not repeated here: it may hold a card number)"
		}
		out[i] = FieldError{Pointer: pointer + fe.Pointer, Detail: d}
	}
	return nil, out
}

// PrefixFields returns errs with pointer put before each of their pointers.
func PrefixFields(pointer string, errs []FieldError) []FieldError {
	out := make([]FieldError, len(errs))
	for i, fe := range errs {
		fe.Pointer = pointer + fe.Pointer
		out[i] = fe
	}
	return out
}

// escapePointer escapes a JSON object key for use in a JSON pointer (RFC 6901).
func escapePointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// sortFields orders errors by pointer: map iteration is random, and the same input must
// always give the same problem.
func sortFields(errs []FieldError) {
	slices.SortStableFunc(errs, func(a, b FieldError) int { return strings.Compare(a.Pointer, b.Pointer) })
}

// ForbiddenCardField reports whether a JSON member name is one of the sensitive
// authentication data fields (CVV/CVC, track data, PIN) that must never be sent, in any
// case and with or without underscores and dashes: cvv, cvc, cvv2, cvc2, cid, cvn, cav2,
// cvd, securitycode, cardsecuritycode, track, track1, track2, trackdata, magstripe, pin,
// pinblock. A body naming any of them, at any depth, is refused before anything else is
// looked at. It allocates nothing and stops at the 17th letter (the longest name has 16):
// it runs on every key of every body, and was a quarter of a batch's decoding as a loop
// over the list.
func ForbiddenCardField(name string) bool {
	var buf [16]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-':
			continue
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		if n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) { // compared in place, not converted
	case "cvv", "cvc", "cvv2", "cvc2", "cid", "cvn", "cav2", "cvd", "securitycode", "cardsecuritycode",
		"track", "track1", "track2", "trackdata", "magstripe", "pin", "pinblock":
		return true
	}
	return false
}

// CountryFieldError refuses a country code, with a hint when the input looks like a code
// the caller meant ("gb" → "GBR"). It never echoes the input, which could be anything a
// client pasted into the field.
func CountryFieldError(pointer, country string) FieldError {
	fe := FieldError{Pointer: pointer, Detail: "must be an ISO 3166-1 alpha-3 country code"}
	if hint, ok := policy.CountryHint(country); ok {
		fe.Detail += fmt.Sprintf("; did you mean %q?", hint)
	}
	return fe
}

// currencies are the ISO 4217 alphabetic codes the countries library knows.
var currencies = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range countries.AllCurrencies() {
		if a := c.Alpha(); c.IsValid() && len(a) == 3 && isUpper3(a) {
			m[a] = true
		}
	}
	return m
}()

func isUpper3(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// ValidCurrency reports whether code is an ISO 4217 alphabetic currency code.
func ValidCurrency(code string) bool { return currencies[code] }

// Digits reports whether s is minLen to maxLen ASCII digits.
func Digits(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
