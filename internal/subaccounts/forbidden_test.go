package subaccounts

import (
	"strings"
	"testing"
)

// forbiddenReference is ForbiddenCardField as first written: normalise the whole name,
// then compare it with each forbidden name.
func forbiddenReference(name string) bool {
	norm := strings.Map(func(r rune) rune {
		switch {
		case r == '_' || r == '-':
			return -1
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return r
	}, name)
	for _, f := range []string{
		"cvv", "cvc", "cvv2", "cvc2", "cid", "cvn", "cav2", "cvd", "securitycode", "cardsecuritycode",
		"track", "track1", "track2", "trackdata", "magstripe", "pin", "pinblock",
	} {
		if norm == f {
			return true
		}
	}
	return false
}

// FuzzForbiddenCardField: the fast check answers as the reference does on any name.
func FuzzForbiddenCardField(f *testing.F) {
	for _, s := range []string{"cvv", "Card_Security-Code", "cardsecuritycodex", "_-_p_i_n_-", "PINBLOCK", "networkTransactionId", "é", "pIn\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := ForbiddenCardField(name), forbiddenReference(name); got != want {
			t.Fatalf("ForbiddenCardField(%q) = %v, want %v", name, got, want)
		}
	})
}

// BenchmarkForbiddenCardField checks the keys of one transaction message.
func BenchmarkForbiddenCardField(b *testing.B) {
	keys := []string{"networkTransactionId", "type", "cardId", "cardNumber", "amount", "currency", "datetime",
		"merchant", "name", "mcc", "countryCode", "city", "authCode"}
	for b.Loop() {
		for _, k := range keys {
			if ForbiddenCardField(k) {
				b.Fatal(k)
			}
		}
	}
}
