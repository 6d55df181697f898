package pan

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	f, err := NewFingerprinter(master, 1)
	if err != nil {
		t.Fatal(err)
	}
	h := hmac.New(sha256.New, master)
	h.Write([]byte("cardseg/derived/purpose"))
	if got, want := f.DeriveKey("purpose"), h.Sum(nil); !bytes.Equal(got, want) {
		t.Errorf("DeriveKey = %x, want HMAC-SHA256(master, label) = %x", got, want)
	}
	if bytes.Equal(f.DeriveKey("a"), f.DeriveKey("b")) {
		t.Error("two labels derive the same key")
	}
	// No derived key can stand in for an account's fingerprint key.
	if bytes.Equal(f.DeriveKey("x"), mac(master, accountLabel+"x")) {
		t.Error("a derived key equals a fingerprint key")
	}
}
