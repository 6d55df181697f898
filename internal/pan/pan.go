// Package pan is the only place in the service where card numbers (PANs) are
// held in the clear.
//
// A PAN must never be stored, logged, traced or returned. [Parse] turns a
// submitted string into a [Number], whose digits can leave this package in
// only three ways: [Number.First6] and [Number.Last4], which PCI DSS allows to
// be displayed, and [Fingerprinter.Fingerprint], a keyed one-way hash that is
// safe to store and compare. Every way of printing or encoding a Number (fmt,
// log/slog, encoding/json, encoding) produces the masked form, so that a
// careless log line shows "411111******1111" rather than the card.
package pan

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cardseg/subaccounts/policy"
)

// Length limits from ISO/IEC 7812; the shortest VISA numbers have 13 digits
// and no scheme issues more than 19.
const (
	minLen = 13
	maxLen = 19
)

// noNetwork is returned where there is no network to report. It lies outside
// the enumeration, so a caller that ignores the reason cannot mistake it for
// VISA (the zero Network), and it prints as "Network(2)".
const noNetwork = policy.Network(policy.NetworkCount)

// The reasons Parse gives. They are fixed strings so that no part of the
// input can reach an error message, a log or a response.
const (
	reasonDigits  = "must contain only digits"
	reasonLength  = "must be 13 to 19 digits"
	reasonLuhn    = "fails the Luhn check"
	reasonNetwork = "is not a VISA or MASTERCARD number"
)

// Error explains why a string is not an acceptable PAN. Reason is one of a
// fixed set of phrases and never contains any part of the input; it is meant
// to follow a field name, as in "card number must be 13 to 19 digits".
type Error struct {
	Reason string
}

// Error returns the reason.
func (e *Error) Error() string {
	return e.Reason
}

// Number is a validated PAN. Its digits never leave the package except
// through [Fingerprinter.Fingerprint], [Number.First6] and [Number.Last4];
// every way of printing it masks it. The zero Number holds no card.
//
// Numbers are small immutable values, safe to copy and to share between
// goroutines. Compare them with [Number.Equal], not ==, which compares
// identity rather than digits.
type Number struct {
	// fmt prints by reflection, bypassing Format, whatever it cannot call
	// methods on: an unexported field of type Number in a caller's struct,
	// or a Number under %p. A string field would then print as the digits.
	// A pointer to a string prints as an address under every verb, where a
	// pointer to a struct or array would be followed and printed in full.
	digits *string
}

// Parse validates s as a PAN and returns it as a Number.
//
// s must consist of ASCII digits only: separators such as spaces and dashes
// are refused rather than stripped, because the wire format is digits only
// and accepting variants would invite clients to send them. The checks run
// in this order and the first failure is reported, as a *[Error]: only
// digits (the empty string fails here), 13 to 19 of them, a valid Luhn check
// digit, and a VISA or MASTERCARD prefix (see [DetectNetwork]).
func Parse(s string) (Number, error) {
	if s == "" || !allDigits(s) {
		return Number{}, &Error{Reason: reasonDigits}
	}
	if len(s) < minLen || len(s) > maxLen {
		return Number{}, &Error{Reason: reasonLength}
	}
	if !Luhn(s) {
		return Number{}, &Error{Reason: reasonLuhn}
	}
	if _, ok := DetectNetwork(s); !ok {
		return Number{}, &Error{Reason: reasonNetwork}
	}
	// A copy of the header, so that only this path pays for the heap
	// allocation that taking an address causes.
	d := s
	return Number{digits: &d}, nil
}

// Luhn reports whether digits ends in a valid Luhn (mod 10) check digit. It
// returns false for the empty string and for any string containing a byte
// other than an ASCII digit.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// DetectNetwork returns the card network that issues PANs beginning like
// digits: VISA for a leading 4, MASTERCARD for a first two digits of 51 to 55
// or a first four of 2221 to 2720. It looks only at those leading digits and
// does not validate the rest. When no network matches, ok is false and the
// returned Network lies outside the enumeration.
func DetectNetwork(digits string) (network policy.Network, ok bool) {
	if v, ok := prefixValue(digits, 1); ok && v == 4 {
		return policy.Visa, true
	}
	if v, ok := prefixValue(digits, 2); ok && v >= 51 && v <= 55 {
		return policy.Mastercard, true
	}
	if v, ok := prefixValue(digits, 4); ok && v >= 2221 && v <= 2720 {
		return policy.Mastercard, true
	}
	return noNetwork, false
}

// prefixValue returns the number formed by the first n bytes of s, if s has
// that many and they are all digits.
func prefixValue(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := range n {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func allDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsZero reports whether n is the zero Number, which holds no card.
func (n Number) IsZero() bool {
	return n.digits == nil
}

// Equal reports whether n and m hold the same card. Two zero Numbers are
// equal.
func (n Number) Equal(m Number) bool {
	if n.digits == nil || m.digits == nil {
		return n.digits == m.digits
	}
	return *n.digits == *m.digits
}

// Network returns the network that issued the card. For the zero Number it
// returns a value outside the enumeration, so that a missing card never
// passes for a VISA one.
func (n Number) Network() policy.Network {
	if n.digits == nil {
		return noNetwork
	}
	// Parse has checked that there is a network; detecting it again is a
	// few comparisons and keeps Number a single pointer.
	network, _ := DetectNetwork(*n.digits)
	return network
}

// First6 returns the first six digits (the issuer identification number),
// or "" for the zero Number.
func (n Number) First6() string {
	if n.digits == nil {
		return ""
	}
	return (*n.digits)[:6]
}

// Last4 returns the last four digits, or "" for the zero Number.
func (n Number) Last4() string {
	if n.digits == nil {
		return ""
	}
	d := *n.digits
	return d[len(d)-4:]
}

// String returns the masked form of n: the first six digits, one '*' for each
// digit in the middle, and the last four, e.g. "411111******1111". It returns
// "" for the zero Number. Since a PAN has at least 13 digits, at least three
// are always hidden.
func (n Number) String() string {
	if n.digits == nil {
		return ""
	}
	d := *n.digits
	b := make([]byte, len(d))
	copy(b, d[:6])
	for i := 6; i < len(d)-4; i++ {
		b[i] = '*'
	}
	copy(b[len(d)-4:], d[len(d)-4:])
	return string(b)
}

// GoString returns the masked form, as String does, so that %#v and
// debugging tools that use it cannot show the digits.
func (n Number) GoString() string {
	return n.String()
}

// Format prints the masked form for every verb, so that no fmt verb can
// reveal the digits: without it, %d or %x would fall through to printing the
// struct. %q quotes the mask; width, precision and the '-' flag apply as they
// do to strings.
func (n Number) Format(f fmt.State, verb rune) {
	if verb != 'q' {
		verb = 's'
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), n.String())
}

// LogValue returns the masked form, so that log/slog handlers of any kind
// record the mask.
func (n Number) LogValue() slog.Value {
	return slog.StringValue(n.String())
}

// MarshalJSON returns the masked form as a JSON string ("" for the zero
// Number). There is deliberately no UnmarshalJSON: a PAN enters the service
// only through Parse.
func (n Number) MarshalJSON() ([]byte, error) {
	return json.Marshal(n.String())
}

// MarshalText returns the masked form, which covers encoders that use
// encoding.TextMarshaler, such as map keys in encoding/json and encoding/xml.
func (n Number) MarshalText() ([]byte, error) {
	return []byte(n.String()), nil
}
