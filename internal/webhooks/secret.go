package webhooks

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/keys"
)

// secretPrefix marks a Standard Webhooks signing secret.
const secretPrefix = "whsec_"

// secretBytes is the length of a signing key: 32 random bytes, HMAC-SHA256's block-safe
// key size.
const secretBytes = 32

// NewSecret returns a new signing secret, "whsec_" and the base64 of 32 random bytes.
// It is shown to the caller once, on creation or rotation, and stored only sealed.
func NewSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // crypto/rand never fails on the platforms Go supports
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// errBadSecret refuses a secret that is not of NewSecret's form.
var errBadSecret = errors.New("webhooks: not a whsec_ signing secret")

// secretKey is the HMAC key a secret stands for: its base64-decoded bytes.
func secretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return nil, errBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) == 0 {
		return nil, errBadSecret
	}
	return key, nil
}

// secretAAD binds a sealed secret to its endpoint, so a sealed value copied onto another
// endpoint's row (or another account's) does not open.
func secretAAD(accountID, endpointID uuid.UUID) []byte {
	return []byte("webhook-secret/" + accountID.String() + "/" + endpointID.String())
}

// SealSecret seals secret under the ring's current master key version for one endpoint.
func SealSecret(ring *keys.Ring, accountID, endpointID uuid.UUID, secret string) (string, error) {
	if _, err := secretKey(secret); err != nil {
		return "", err
	}
	return ring.Seal([]byte(secret), secretAAD(accountID, endpointID))
}

// OpenSecret opens a secret SealSecret sealed for the same endpoint, under whichever
// configured master key version sealed it.
func OpenSecret(ring *keys.Ring, accountID, endpointID uuid.UUID, sealed string) (string, error) {
	plain, _, err := ring.Open(sealed, secretAAD(accountID, endpointID))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}
