package pan_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/policy"
)

// The reasons Parse documents, repeated here so that a change to the wire
// text is a deliberate test change.
const (
	reasonDigits  = "must contain only digits"
	reasonLength  = "must be 13 to 19 digits"
	reasonLuhn    = "fails the Luhn check"
	reasonNetwork = "is not a VISA or MASTERCARD number"
)

var reasons = []string{reasonDigits, reasonLength, reasonLuhn, reasonNetwork}

// luhnCases are shared with FuzzLuhn and FuzzParse as seeds.
var luhnCases = []struct {
	name   string
	digits string
	want   bool
}{
	{"visa test card", "4111111111111111", true},
	{"mastercard 5-series test card", "5555555555554444", true},
	{"mastercard 2-series test card", "2223003122003222", true},
	{"visa debit test card", "4000056655665556", true},
	{"amex test card", "378282246310005", true},
	{"visa 13-digit test card", "4222222222222", true},
	{"single zero", "0", true},
	{"single nonzero", "5", false},
	{"two digits", "18", true},
	{"all zeros", "0000000000000000", true},
	{"visa last digit off", "4111111111111112", false},
	{"visa middle digit off", "4111111121111111", false},
	{"visa first digit off", "5111111111111111", false},
	{"mastercard last digit off", "5555555555554445", false},
	{"2-series digit off", "2223003122003223", false},
	{"visa debit digit off", "4000056655665557", false},
	{"amex digit off", "378282246310006", false},
	{"adjacent digits swapped", "4000065655665556", false},
	{"empty", "", false},
	{"spaces", "4111 1111 1111 1111", false},
	{"dashes", "4111-1111-1111-1111", false},
	{"trailing letter", "411111111111111a", false},
	{"leading space", " 4111111111111111", false},
	{"sign", "+4111111111111111", false},
	{"NUL byte", "4111111111111111\x00", false},
	{"non-ASCII digits", "٤١١١١١١١١١١١١١١١", false},
	{"fullwidth digits", "４１１１", false},
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	for _, tt := range luhnCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := pan.Luhn(tt.digits); got != tt.want {
				t.Errorf("Luhn(%q) = %v, want %v", tt.digits, got, tt.want)
			}
		})
	}
}

// TestLuhnSingleErrors checks the property Luhn exists for: changing any one
// digit of a valid number makes it invalid.
func TestLuhnSingleErrors(t *testing.T) {
	t.Parallel()
	const valid = "5555555555554444"
	for i := range len(valid) {
		for d := byte('0'); d <= '9'; d++ {
			if d == valid[i] {
				continue
			}
			b := []byte(valid)
			b[i] = d
			if pan.Luhn(string(b)) {
				t.Errorf("Luhn(%q) = true after changing position %d", b, i)
			}
		}
	}
}

func TestDetectNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		digits string
		want   policy.Network
		wantOK bool
	}{
		{"4 alone", "4", policy.Visa, true},
		{"visa card", "4111111111111111", policy.Visa, true},
		{"49", "4999", policy.Visa, true},
		{"50", "5000000000000000", 0, false},
		{"51", "5100000000000000", policy.Mastercard, true},
		{"51 alone", "51", policy.Mastercard, true},
		{"55", "5599999999999999", policy.Mastercard, true},
		{"56", "5600000000000000", 0, false},
		{"5 alone", "5", 0, false},
		{"2220", "2220999999999999", 0, false},
		{"2221", "2221000000000000", policy.Mastercard, true},
		{"2221 alone", "2221", policy.Mastercard, true},
		{"23", "2300000000000000", policy.Mastercard, true},
		{"2720", "2720999999999999", policy.Mastercard, true},
		{"2721", "2721000000000000", 0, false},
		{"222 is too short to tell", "222", 0, false},
		{"2-series with a letter", "22a1000000000000", 0, false},
		{"3 (amex, diners)", "378282246310005", 0, false},
		{"6 (discover)", "6011111111111117", 0, false},
		{"0", "0000000000000000", 0, false},
		{"1", "1000000000000000", 0, false},
		{"empty", "", 0, false},
		{"letter first", "a411111111111111", 0, false},
		{"space first", " 4111111111111111", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := pan.DetectNetwork(tt.digits)
			if ok != tt.wantOK {
				t.Fatalf("DetectNetwork(%q) ok = %v, want %v", tt.digits, ok, tt.wantOK)
			}
			if ok && got != tt.want {
				t.Errorf("DetectNetwork(%q) = %v, want %v", tt.digits, got, tt.want)
			}
			// A caller that ignores ok must not get a real network.
			if !ok && got < policy.NetworkCount {
				t.Errorf("DetectNetwork(%q) = %v with ok false, want a value outside the enumeration", tt.digits, got)
			}
		})
	}
}

// withCheckDigit returns payload followed by the digit that makes it pass
// the Luhn check.
func withCheckDigit(t testing.TB, payload string) string {
	t.Helper()
	sum := 0
	// The check digit will sit at position 0 from the right, so the last
	// payload digit is at position 1 and is doubled.
	for i := range len(payload) {
		c := payload[len(payload)-1-i]
		if c < '0' || c > '9' {
			t.Fatalf("withCheckDigit(%q): not a digit string", payload)
		}
		d := int(c - '0')
		if i%2 == 0 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	s := payload + strconv.Itoa((10-sum%10)%10)
	if !pan.Luhn(s) {
		t.Fatalf("withCheckDigit(%q) = %q, which Luhn rejects", payload, s)
	}
	return s
}

// visaOfLength returns a Luhn-valid number of n digits that starts with 4.
func visaOfLength(t testing.TB, n int) string {
	t.Helper()
	return withCheckDigit(t, "4"+strings.Repeat("1", n-2))
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		input   string
		reason  string // "" when Parse must succeed
		network policy.Network
	}{
		{"visa", "4111111111111111", "", policy.Visa},
		{"mastercard 5-series", "5555555555554444", "", policy.Mastercard},
		{"mastercard 2-series", "2223003122003222", "", policy.Mastercard},
		{"visa debit", "4000056655665556", "", policy.Visa},
		{"13 digits, the minimum", visaOfLength(t, 13), "", policy.Visa},
		{"19 digits, the maximum", visaOfLength(t, 19), "", policy.Visa},

		{"empty", "", reasonDigits, 0},
		{"spaces", "4111 1111 1111 1111", reasonDigits, 0},
		{"dashes", "4111-1111-1111-1111", reasonDigits, 0},
		{"letters", "four one one one", reasonDigits, 0},
		{"surrounding space", " 4111111111111111 ", reasonDigits, 0},
		{"trailing newline", "4111111111111111\n", reasonDigits, 0},
		{"non-ASCII digits", "٤١١١١١١١١١١١١١١١", reasonDigits, 0},

		{"12 digits", visaOfLength(t, 12), reasonLength, 0},
		{"20 digits", visaOfLength(t, 20), reasonLength, 0},
		{"one digit", "0", reasonLength, 0},
		{"very long", strings.Repeat("4", 1000), reasonLength, 0},

		{"check digit off", "4111111111111112", reasonLuhn, 0},
		{"mastercard check digit off", "5555555555554445", reasonLuhn, 0},

		{"amex", "378282246310005", reasonNetwork, 0},
		{"discover", "6011111111111117", reasonNetwork, 0},
		{"mastercard range just below 51", withCheckDigit(t, "500000000000000"), reasonNetwork, 0},
		{"mastercard range just above 55", withCheckDigit(t, "560000000000000"), reasonNetwork, 0},
		{"2-series just below 2221", withCheckDigit(t, "222099999999999"), reasonNetwork, 0},
		{"2-series just above 2720", withCheckDigit(t, "272100000000000"), reasonNetwork, 0},

		// Order of checks: each input fails every later check as well.
		{"digits before length", "41111111111a", reasonDigits, 0},
		{"digits before length when long", strings.Repeat("9", 25) + "x", reasonDigits, 0},
		{"length before Luhn", "411111111112", reasonLength, 0},
		{"length before network", "9999999999999999999999", reasonLength, 0},
		{"Luhn before network", "3111111111111111", reasonLuhn, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := pan.Parse(tt.input)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Parse(%q) error %q, want success", tt.input, err)
				}
				if n.IsZero() {
					t.Fatalf("Parse(%q) returned the zero Number", tt.input)
				}
				if got := n.Network(); got != tt.network {
					t.Errorf("Parse(%q).Network() = %v, want %v", tt.input, got, tt.network)
				}
				if got, want := n.First6(), tt.input[:6]; got != want {
					t.Errorf("First6() = %q, want %q", got, want)
				}
				if got, want := n.Last4(), tt.input[len(tt.input)-4:]; got != want {
					t.Errorf("Last4() = %q, want %q", got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse(%q) succeeded, want %q", tt.input, tt.reason)
			}
			var perr *pan.Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse(%q) error is %T, want *pan.Error", tt.input, err)
			}
			if perr.Reason != tt.reason || err.Error() != tt.reason {
				t.Errorf("Parse(%q) reason %q, Error() %q; want %q", tt.input, perr.Reason, err.Error(), tt.reason)
			}
			if !n.IsZero() {
				t.Errorf("Parse(%q) returned a non-zero Number with an error", tt.input)
			}
		})
	}
}

func TestZeroNumber(t *testing.T) {
	t.Parallel()
	var n pan.Number
	if !n.IsZero() {
		t.Error("IsZero() = false for the zero Number")
	}
	if got := n.Network(); got < policy.NetworkCount {
		t.Errorf("Network() = %v, want a value outside the enumeration", got)
	}
	for name, got := range map[string]string{
		"First6":   n.First6(),
		"Last4":    n.Last4(),
		"String":   n.String(),
		"GoString": n.GoString(),
		"%v":       fmt.Sprintf("%v", n),
	} {
		if got != "" {
			t.Errorf("%s = %q, want empty", name, got)
		}
	}
	if got := fmt.Sprintf("%q", n); got != `""` {
		t.Errorf(`%%q = %s, want ""`, got)
	}
	if b, err := json.Marshal(n); err != nil || string(b) != `""` {
		t.Errorf("json.Marshal = %s, %v; want \"\"", b, err)
	}
}

func TestEqual(t *testing.T) {
	t.Parallel()
	a := mustParse(t, "4111111111111111")
	b := mustParse(t, "4111111111111111")
	c := mustParse(t, "5555555555554444")
	var zero pan.Number
	tests := []struct {
		name string
		x, y pan.Number
		want bool
	}{
		{"separately parsed, same digits", a, b, true},
		{"copy", a, a, true},
		{"different digits", a, c, false},
		{"zero and card", zero, a, false},
		{"card and zero", a, zero, false},
		{"both zero", zero, pan.Number{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.x.Equal(tt.y); got != tt.want {
				t.Errorf("Equal = %v, want %v", got, tt.want)
			}
		})
	}
}

func mustParse(t testing.TB, s string) pan.Number {
	t.Helper()
	n, err := pan.Parse(s)
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return n
}

func TestStringShape(t *testing.T) {
	t.Parallel()
	mc15 := withCheckDigit(t, "22210000000000")
	visa19 := visaOfLength(t, 19)
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"16 digits", "4111111111111111", "411111******1111"},
		{"mastercard", "5555555555554444", "555555******4444"},
		{"13 digits", "4222222222222", "422222***2222"},
		{"15 digits", mc15, mc15[:6] + "*****" + mc15[11:]},
		{"19 digits", visa19, visa19[:6] + "*********" + visa19[15:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := mustParse(t, tt.input)
			if got := n.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if got := n.GoString(); got != tt.want {
				t.Errorf("GoString() = %q, want %q", got, tt.want)
			}
			if len(tt.want) != len(tt.input) || strings.Count(tt.want, "*") != len(tt.input)-10 {
				t.Fatalf("bad test case: %q does not mask %q", tt.want, tt.input)
			}
		})
	}
}

// leakChecker reports outputs that reveal a PAN: the digits themselves, or
// their hex encoding, which is what %x of a digit string would print.
type leakChecker struct {
	digits string
	hexed  string
}

func newLeakChecker(digits string) leakChecker {
	return leakChecker{digits: digits, hexed: hex.EncodeToString([]byte(digits))}
}

func (c leakChecker) check(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, c.digits) || strings.Contains(strings.ToLower(out), c.hexed) {
		t.Errorf("%s leaks the PAN: %s", what, out)
	}
}

// Holders a caller might embed a Number in. The unexported field is the case
// where fmt cannot call Number's methods and falls back to reflection.
type (
	exportedHolder   struct{ Card pan.Number }
	unexportedHolder struct{ card pan.Number }
)

func TestFmtMasks(t *testing.T) {
	t.Parallel()
	const digits = "4111111111111111"
	const mask = "411111******1111"
	n := mustParse(t, digits)
	leaks := newLeakChecker(digits)

	exact := []struct {
		format string
		want   string
	}{
		{"%v", mask},
		{"%+v", mask},
		{"%#v", mask},
		{"%s", mask},
		{"%q", strconv.Quote(mask)},
		{"%#q", "`" + mask + "`"},
		{"%d", mask},
		{"%x", mask},
		{"%X", mask},
		{"%o", mask},
		{"%b", mask},
		{"%c", mask},
		{"%U", mask},
		{"%e", mask},
		{"%t", mask},
		{"%20s", "    " + mask},
		{"%-20v|", mask + "    |"},
		{"%.6s", mask[:6]},
	}
	for _, tt := range exact {
		t.Run(tt.format, func(t *testing.T) {
			t.Parallel()
			got := fmt.Sprintf(tt.format, n)
			if got != tt.want {
				t.Errorf("Sprintf(%q) = %q, want %q", tt.format, got, tt.want)
			}
			if got := fmt.Sprintf(tt.format, &n); got != tt.want {
				t.Errorf("Sprintf(%q) of a pointer = %q, want %q", tt.format, got, tt.want)
			}
		})
	}

	// Wrapped values: the output is fmt's own, so only check it is safe.
	values := map[string]any{
		"value":                    n,
		"pointer":                  &n,
		"exported field":           exportedHolder{n},
		"pointer to exported":      &exportedHolder{n},
		"unexported field":         unexportedHolder{n},
		"pointer to unexported":    &unexportedHolder{n},
		"slice":                    []pan.Number{n},
		"map value":                map[string]pan.Number{"k": n},
		"map key":                  map[pan.Number]int{n: 1},
		"interface slice":          []any{n},
		"anonymous struct":         struct{ a, B pan.Number }{n, n},
		"nested unexported holder": struct{ h unexportedHolder }{unexportedHolder{n}},
	}
	for name, v := range values {
		// Every verb fmt knows and some it does not, since a bad verb makes
		// fmt print the operand by reflection.
		for _, verb := range "vsqdxXobcUeEfFgGtpTwz" {
			for _, flags := range []string{"", "+", "#", "-8"} {
				format := "%" + flags + string(verb)
				leaks.check(t, name+" with "+format, fmt.Sprintf(format, v))
			}
		}
		leaks.check(t, name+" with Sprint", fmt.Sprint(v))
		leaks.check(t, name+" with Sprintln", fmt.Sprintln(v))
	}
	leaks.check(t, "error wrapping", fmt.Errorf("declined %v: %w", n, errors.New("x")).Error())
}

func TestSlogMasks(t *testing.T) {
	t.Parallel()
	const digits = "5555555555554444"
	const mask = "555555******4444"
	n := mustParse(t, digits)
	leaks := newLeakChecker(digits)

	handlers := map[string]func(*bytes.Buffer) slog.Handler{
		"JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	}
	for hname, newHandler := range handlers {
		t.Run(hname, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := slog.New(newHandler(&buf))
			log.Info("direct", "card", n)
			log.Info("pointer", "card", &n)
			log.Info("any", slog.Any("card", n))
			log.Info("group", slog.Group("req", "card", n))
			log.Info("exported holder", "req", exportedHolder{n})
			log.Info("unexported holder", "req", unexportedHolder{n})
			log.Info("slice", "cards", []pan.Number{n})
			log.With("card", n).Info("with")
			log.Info("message " + n.String())

			out := buf.String()
			leaks.check(t, hname+" handler", out)
			// The directly logged values must show the mask, not just
			// avoid the digits.
			if got := strings.Count(out, mask); got < 6 {
				t.Errorf("mask appears %d times, want at least 6, in:\n%s", got, out)
			}
		})
	}
}

func TestJSONMasks(t *testing.T) {
	t.Parallel()
	const digits = "2223003122003222"
	const mask = "222300******3222"
	n := mustParse(t, digits)
	leaks := newLeakChecker(digits)

	type payment struct {
		Card    pan.Number  `json:"card"`
		Ptr     *pan.Number `json:"ptr"`
		Omitted pan.Number  `json:"omitted,omitzero"`
	}
	b, err := json.Marshal(payment{Card: n, Ptr: &n})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"card":"` + mask + `","ptr":"` + mask + `"}`; string(b) != want {
		t.Errorf("json.Marshal = %s, want %s", b, want)
	}

	for name, v := range map[string]any{
		"value":            n,
		"map key":          map[pan.Number]int{n: 1},
		"unexported field": unexportedHolder{n},
		"slice":            []pan.Number{n},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Errorf("json.Marshal(%s): %v", name, err)
			continue
		}
		leaks.check(t, "json.Marshal of "+name, string(b))
	}

	text, err := n.MarshalText()
	if err != nil || string(text) != mask {
		t.Errorf("MarshalText() = %q, %v; want %q", text, err, mask)
	}
	if got := n.LogValue(); got.Kind() != slog.KindString || got.String() != mask {
		t.Errorf("LogValue() = %v, want string %q", got, mask)
	}
}

// TestErrorsDoNotLeak feeds PAN-like inputs that fail each check and looks
// for the input in every rendering of the error.
func TestErrorsDoNotLeak(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"4111 1111 1111 1111",
		"4111111111111111x",
		visaOfLength(t, 12),
		visaOfLength(t, 20),
		"4111111111111112",
		"378282246310005",
		"6011111111111117",
	}
	for _, in := range inputs {
		_, err := pan.Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded", in)
		}
		leaks := newLeakChecker(in)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			leaks.check(t, "error with "+verb, fmt.Sprintf(verb, err))
		}
		// A prefix or suffix long enough to matter must not appear either.
		for _, part := range []string{in[:6], in[len(in)-6:]} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("Parse error %q contains %q", err, part)
			}
		}
	}
}

// key returns a distinct 32-byte master key for each seed.
func key(seed byte) []byte {
	return bytes.Repeat([]byte{seed}, 32)
}

func newFingerprinter(t testing.TB, master []byte) *pan.Fingerprinter {
	t.Helper()
	f, err := pan.NewFingerprinter(master, 1)
	if err != nil {
		t.Fatalf("NewFingerprinter: %v", err)
	}
	return f
}

// referenceFingerprint computes the documented construction with
// crypto/hmac, independently of the package's hand-written HMAC.
func referenceFingerprint(master []byte, account uuid.UUID, digits string) []byte {
	k := hmac.New(sha256.New, master)
	k.Write([]byte("cardseg/fingerprint/account/" + account.String()))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte(digits))
	return m.Sum(nil)
}

var (
	accountA = uuid.MustParse("0b9a3c6e-2f41-4d8a-9a8e-6a1f4f1e2d01")
	accountB = uuid.MustParse("7c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5")
)

func TestFingerprint(t *testing.T) {
	t.Parallel()
	f := newFingerprinter(t, key(1))
	visa := mustParse(t, "4111111111111111")
	mc := mustParse(t, "5555555555554444")

	fp := f.Fingerprint(accountA, visa)
	if len(fp) != 32 {
		t.Fatalf("len(Fingerprint) = %d, want 32", len(fp))
	}
	if again := f.Fingerprint(accountA, visa); !bytes.Equal(fp, again) {
		t.Error("Fingerprint is not deterministic")
	}
	if dup := f.Fingerprint(accountA, mustParse(t, "4111111111111111")); !bytes.Equal(fp, dup) {
		t.Error("separately parsed equal PANs have different fingerprints")
	}
	if other := newFingerprinter(t, key(1)).Fingerprint(accountA, visa); !bytes.Equal(fp, other) {
		t.Error("two Fingerprinters with the same key disagree")
	}

	differ := map[string][]byte{
		"other account":    f.Fingerprint(accountB, visa),
		"other PAN":        f.Fingerprint(accountA, mc),
		"other master key": newFingerprinter(t, key(2)).Fingerprint(accountA, visa),
		"nil account":      f.Fingerprint(uuid.Nil, visa),
	}
	for name, got := range differ {
		if bytes.Equal(fp, got) {
			t.Errorf("fingerprint with %s equals the original", name)
		}
	}

	// The returned slice is the caller's: changing it must not affect
	// later results.
	fp[0] ^= 0xff
	if again := f.Fingerprint(accountA, visa); bytes.Equal(fp, again) {
		t.Error("Fingerprint returned a shared buffer")
	}
}

func TestFingerprintMatchesHMAC(t *testing.T) {
	t.Parallel()
	masters := [][]byte{key(1), key(0xff), bytes.Repeat([]byte("0123456789"), 10)}
	pans := []string{
		"4111111111111111", "5555555555554444", "2223003122003222",
		visaOfLength(t, 13), visaOfLength(t, 19),
	}
	for _, master := range masters {
		f := newFingerprinter(t, master)
		for _, account := range []uuid.UUID{accountA, accountB, uuid.Nil, uuid.Max} {
			for _, p := range pans {
				got := f.Fingerprint(account, mustParse(t, p))
				if want := referenceFingerprint(master, account, p); !bytes.Equal(got, want) {
					t.Errorf("Fingerprint(%v, %s) with %d-byte key = %x, want %x", account, p[:6], len(master), got, want)
				}
			}
		}
	}
}

func TestFingerprintConcurrent(t *testing.T) {
	t.Parallel()
	master := key(3)
	f := newFingerprinter(t, master)
	n := mustParse(t, "4000056655665556")
	accounts := make([]uuid.UUID, 8)
	for i := range accounts {
		accounts[i] = uuid.NewSHA1(uuid.NameSpaceOID, []byte{byte(i)})
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for range 16 {
		wg.Go(func() {
			for _, a := range accounts {
				if got := f.Fingerprint(a, n); !bytes.Equal(got, referenceFingerprint(master, a, "4000056655665556")) {
					errs <- fmt.Sprintf("wrong fingerprint for %v", a)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestFingerprintZeroNumberPanics(t *testing.T) {
	t.Parallel()
	f := newFingerprinter(t, key(1))
	defer func() {
		if recover() == nil {
			t.Error("Fingerprint of the zero Number did not panic")
		}
	}()
	f.Fingerprint(accountA, pan.Number{})
}

func TestNewFingerprinter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		master  []byte
		version int
		wantErr bool
	}{
		{"32 bytes, version 1", key(1), 1, false},
		{"64 bytes, version 7", bytes.Repeat([]byte{9}, 64), 7, false},
		{"31 bytes", key(1)[:31], 1, true},
		{"empty", []byte{}, 1, true},
		{"nil", nil, 1, true},
		{"version 0", key(1), 0, true},
		{"negative version", key(1), -1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, err := pan.NewFingerprinter(tt.master, tt.version)
			if tt.wantErr {
				if err == nil || f != nil {
					t.Fatalf("NewFingerprinter = %v, %v; want nil and an error", f, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewFingerprinter: %v", err)
			}
			if got := f.Version(); got != tt.version {
				t.Errorf("Version() = %d, want %d", got, tt.version)
			}
		})
	}
}

func TestNewFingerprinterCopiesKey(t *testing.T) {
	t.Parallel()
	master := key(5)
	f := newFingerprinter(t, master)
	n := mustParse(t, "4111111111111111")
	before, check := f.Fingerprint(accountA, n), f.KeyCheck()
	clear(master)
	// accountB has not been derived yet, so its key comes from the
	// retained master, which must still be the original.
	if got, want := f.Fingerprint(accountB, n), referenceFingerprint(key(5), accountB, "4111111111111111"); !bytes.Equal(got, want) {
		t.Error("clearing the caller's slice changed the key")
	}
	if !bytes.Equal(before, f.Fingerprint(accountA, n)) || check != f.KeyCheck() {
		t.Error("clearing the caller's slice changed earlier results")
	}
}

func TestKeyCheck(t *testing.T) {
	t.Parallel()
	master := key(1)
	f := newFingerprinter(t, master)
	m := hmac.New(sha256.New, master)
	m.Write([]byte("cardseg/fingerprint/key-check"))
	if want := hex.EncodeToString(m.Sum(nil)); f.KeyCheck() != want {
		t.Errorf("KeyCheck() = %s, want %s", f.KeyCheck(), want)
	}
	same, err := pan.NewFingerprinter(master, 2)
	if err != nil {
		t.Fatal(err)
	}
	if same.KeyCheck() != f.KeyCheck() {
		t.Error("KeyCheck depends on the version, want only the key")
	}
	if other := newFingerprinter(t, key(2)); other.KeyCheck() == f.KeyCheck() {
		t.Error("KeyCheck is equal for different keys")
	}
	if strings.Contains(f.KeyCheck(), hex.EncodeToString(master)) {
		t.Error("KeyCheck contains the key")
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	// 0xfb 0xff … encodes with '+' and '/' in the standard alphabet and
	// '-' and '_' in the URL one, so each alphabet is really exercised.
	raw := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:32]
	long := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 16)
	tests := []struct {
		name  string
		input string
		want  []byte
	}{
		{"hex lower", hex.EncodeToString(raw), raw},
		{"hex upper", strings.ToUpper(hex.EncodeToString(raw)), raw},
		{"base64 standard padded", base64.StdEncoding.EncodeToString(raw), raw},
		{"base64 standard raw", base64.RawStdEncoding.EncodeToString(raw), raw},
		{"base64 URL padded", base64.URLEncoding.EncodeToString(raw), raw},
		{"base64 URL raw", base64.RawURLEncoding.EncodeToString(raw), raw},
		{"base64 without padding needed", base64.StdEncoding.EncodeToString(long), long},
		{"trailing newline", hex.EncodeToString(raw) + "\n", raw},
		{"surrounding space", "  " + base64.StdEncoding.EncodeToString(raw) + "\t", raw},
		// 64 hex digits are also valid base64 (48 bytes); hex wins.
		{"hex that is also base64", strings.Repeat("ab", 32), bytes.Repeat([]byte{0xab}, 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pan.ParseKey(tt.input)
			if err != nil {
				t.Fatalf("ParseKey: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("ParseKey = %x, want %x", got, tt.want)
			}
		})
	}
}

func TestParseKeyRefuses(t *testing.T) {
	t.Parallel()
	short := bytes.Repeat([]byte{0xfb}, 31)
	tests := []struct {
		name  string
		input string
	}{
		{"empty", ""},
		{"white space", " \n"},
		{"31 bytes hex", hex.EncodeToString(short)},
		{"31 bytes base64", base64.StdEncoding.EncodeToString(short)},
		{"31 bytes base64 raw URL", base64.RawURLEncoding.EncodeToString(short)},
		{"not an encoding", "correct horse battery staple!!"},
		{"mixed alphabets", base64.StdEncoding.EncodeToString(key(0xfb))[:20] + "-_" + base64.StdEncoding.EncodeToString(key(0xff))[:22]},
		{"bad padding", base64.RawStdEncoding.EncodeToString(key(7)) + "=="},
		{"hex with a stray letter and padding", "g" + hex.EncodeToString(key(7))[1:] + "="},
		{"inner space", hex.EncodeToString(key(7))[:32] + " " + hex.EncodeToString(key(7))[32:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := pan.ParseKey(tt.input)
			if err == nil {
				t.Fatalf("ParseKey = %x, want an error", got)
			}
			msg := err.Error()
			if trimmed := strings.TrimSpace(tt.input); len(trimmed) >= 4 {
				for _, part := range []string{trimmed, trimmed[:4], trimmed[len(trimmed)-4:]} {
					if strings.Contains(msg, part) {
						t.Errorf("error %q contains input fragment %q", msg, part)
					}
				}
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	t.Parallel()
	a, err := pan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := pan.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 32 || len(b) != 32 {
		t.Fatalf("key lengths %d, %d; want 32", len(a), len(b))
	}
	if bytes.Equal(a, b) {
		t.Error("two generated keys are equal")
	}
	for _, enc := range []string{hex.EncodeToString(a), base64.StdEncoding.EncodeToString(a)} {
		got, err := pan.ParseKey(enc)
		if err != nil || !bytes.Equal(got, a) {
			t.Errorf("ParseKey of an encoded generated key = %x, %v", got, err)
		}
	}
	if _, err := pan.NewFingerprinter(a, 1); err != nil {
		t.Errorf("NewFingerprinter refuses a generated key: %v", err)
	}
}

// TestFingerprintAllocations is not parallel: AllocsPerRun measures the
// whole process.
func TestFingerprintAllocations(t *testing.T) {
	f := newFingerprinter(t, key(1))
	n := mustParse(t, "4111111111111111")
	f.Fingerprint(accountA, n) // derive and cache the account key
	allocs := testing.AllocsPerRun(100, func() {
		f.Fingerprint(accountA, n)
	})
	// The returned slice is the only allocation.
	if allocs > 1 {
		t.Errorf("Fingerprint allocates %v times per call, want at most 1", allocs)
	}
}

func BenchmarkParse(b *testing.B) {
	inputs := []struct {
		name  string
		input string
	}{
		{"valid", "4111111111111111"},
		{"bad Luhn", "4111111111111112"},
		{"not digits", "4111 1111 1111 1111"},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = pan.Parse(in.input)
			}
		})
	}
}

func BenchmarkFingerprint(b *testing.B) {
	f := newFingerprinter(b, key(1))
	n := mustParse(b, "4111111111111111")
	f.Fingerprint(accountA, n)
	b.Run("cached account", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f.Fingerprint(accountA, n)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f.Fingerprint(accountA, n)
			}
		})
	})
	b.Run("first use", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			// A fresh Fingerprinter each time, so that key derivation is
			// measured rather than the cache; this includes the cost of
			// NewFingerprinter.
			g := newFingerprinter(b, key(1))
			g.Fingerprint(accountA, n)
		}
	})
}
