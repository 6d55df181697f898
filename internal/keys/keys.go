// Package keys holds the service's one master secret and everything derived from it. The
// master secret lives outside the database (an environment variable or a file); every
// other key is derived from it with HKDF-SHA256 under a label of its own, so no derived
// key says anything about another or about the master. Secrets kept in the database (the
// issuer's signing keys) are stored only sealed with AES-256-GCM under the derived
// key-encryption key.
//
// Several versions of the master secret may be configured at once: the newest is current
// (new fingerprints, new seals), the older ones are still accepted for reading, which is
// what lets an operator rotate it without losing the ability to find enrolled cards.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/pan"
)

// Labels of the HKDF derivations (the info parameter). Each names one purpose and is part
// of the stored data's format: changing one makes what was derived under it unusable.
const (
	LabelIdempotencyRequestHash = "cardseg/v1/idempotency/request-hash"
	LabelIdempotencyKey         = "cardseg/v1/idempotency/key"
	LabelResponseSeal           = "cardseg/v1/idempotency/response-seal"
	LabelKEK                    = "cardseg/v1/kek"
)

// hkdfSalt is HKDF's salt: fixed, since the master secret is already uniformly random; it
// only keeps this service's derivations apart from any other use of the same bytes.
var hkdfSalt = []byte("cardseg subaccounts master key")

// Master is one version of the master secret.
type Master struct {
	Version int
	Key     []byte
}

// Ring is the configured master secret versions, newest first. It is immutable and safe
// for concurrent use.
type Ring struct {
	versions []Master
	keks     map[int]cipher.AEAD
}

// NewRing returns a ring whose current version is current and which still accepts
// previous. Versions must be distinct and at least 1, keys at least 32 bytes; current
// must be the highest version, so "newest" never depends on the order of configuration.
func NewRing(current Master, previous ...Master) (*Ring, error) {
	all := append([]Master{current}, previous...)
	r := &Ring{keks: map[int]cipher.AEAD{}}
	for _, m := range all {
		if m.Version < 1 {
			return nil, fmt.Errorf("keys: master key version %d, want at least 1", m.Version)
		}
		if len(m.Key) < pan.MinKeyLen {
			return nil, fmt.Errorf("keys: master key version %d is %d bytes, want at least %d", m.Version, len(m.Key), pan.MinKeyLen)
		}
		if _, dup := r.keks[m.Version]; dup {
			return nil, fmt.Errorf("keys: master key version %d is configured twice", m.Version)
		}
		if m.Version > current.Version {
			return nil, fmt.Errorf("keys: previous master key version %d is newer than the current version %d", m.Version, current.Version)
		}
		m.Key = slices.Clone(m.Key)
		block, err := aes.NewCipher(derive(m.Key, LabelKEK))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		r.keks[m.Version] = aead
		r.versions = append(r.versions, m)
	}
	slices.SortFunc(r.versions[1:], func(a, b Master) int { return b.Version - a.Version })
	return r, nil
}

// Current returns the newest version.
func (r *Ring) Current() Master { return r.versions[0] }

// Versions returns every configured version, newest first. The caller must not modify
// the keys.
func (r *Ring) Versions() []Master { return slices.Clone(r.versions) }

// Derive returns the 32-byte key of purpose label under master version m:
// HKDF-SHA256(secret = m.Key, salt, info = label).
func Derive(m Master, label string) []byte { return derive(m.Key, label) }

func derive(secret []byte, label string) []byte {
	k, err := hkdf.Key(sha256.New, secret, hkdfSalt, label, 32)
	if err != nil {
		// Only a length beyond 255 hash blocks fails.
		panic("keys: " + err.Error())
	}
	return k
}

// Fingerprinters returns one card fingerprinter per version, newest first. Fingerprints
// keep the HMAC derivation they always had (see package pan), so cards enrolled under
// CARD_FINGERPRINT_KEY keep matching under the same key as MASTER_KEY.
func (r *Ring) Fingerprinters() ([]*pan.Fingerprinter, error) {
	out := make([]*pan.Fingerprinter, len(r.versions))
	for i, m := range r.versions {
		f, err := pan.NewFingerprinter(m.Key, m.Version)
		if err != nil {
			return nil, err
		}
		out[i] = f
	}
	return out, nil
}

// sealPrefix starts every sealed value, followed by the master version and the base64
// nonce‖ciphertext: "kek1:3:…". It tells a sealed value from the plain PEM of earlier
// versions, and names the version whose key-encryption key opens it.
const sealPrefix = "kek1:"

// Seal encrypts plaintext under the current version's key-encryption key, binding it to
// aad (for example the key id it is stored under), and returns a text encoding that
// names the version.
func (r *Ring) Seal(plaintext, aad []byte) (string, error) {
	cur := r.Current()
	aead := r.keks[cur.Version]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("keys: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plaintext, sealAAD(cur.Version, aad))
	return sealPrefix + strconv.Itoa(cur.Version) + ":" + base64.RawStdEncoding.EncodeToString(sealed), nil
}

// IsSealed reports whether s has the form Seal returns.
func IsSealed(s string) bool { return strings.HasPrefix(s, sealPrefix) }

// Open decrypts a value of Seal under the version it names, which must still be
// configured, and reports that version so callers can reseal under the current one.
func (r *Ring) Open(sealed string, aad []byte) (plaintext []byte, version int, err error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, 0, errors.New("keys: not a sealed value")
	}
	v, b64, ok := strings.Cut(rest, ":")
	version, err = strconv.Atoi(v)
	if !ok || err != nil {
		return nil, 0, errors.New("keys: malformed sealed value")
	}
	aead, ok := r.keks[version]
	if !ok {
		return nil, version, fmt.Errorf("keys: sealed under master key version %d, which is not configured", version)
	}
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil || len(raw) < aead.NonceSize() {
		return nil, version, errors.New("keys: malformed sealed value")
	}
	n := aead.NonceSize()
	plaintext, err = aead.Open(nil, raw[:n], raw[n:], sealAAD(version, aad))
	if err != nil {
		return nil, version, fmt.Errorf("keys: sealed value does not open under master key version %d (wrong key, or moved to another row)", version)
	}
	return plaintext, version, nil
}

// sealAAD binds the version into the associated data, so a value cannot be relabelled
// with another version.
func sealAAD(version int, aad []byte) []byte {
	return append([]byte("cardseg/v1/seal/"+strconv.Itoa(version)+"/"), aad...)
}
