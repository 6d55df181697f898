// Package keystest gives tests a master key ring of their own.
package keystest

import (
	"crypto/rand"
	"testing"

	"github.com/cardseg/subaccounts/internal/keys"
)

// Ring returns a ring holding one random master key of version 1.
func Ring(t testing.TB) *keys.Ring {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	r, err := keys.NewRing(keys.Master{Version: 1, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
