package pan

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// minKeyLen is the shortest master key accepted: the output size of SHA-256,
// below which the key rather than the hash would bound the strength.
const minKeyLen = 32

// MinKeyLen is the shortest master key accepted, in bytes.
const MinKeyLen = minKeyLen

// Labels for the HMAC derivations. They keep the per-account keys and the
// key check in separate domains, so no derived value can stand in for
// another, and they are part of the stored data's format: changing one
// changes every fingerprint.
const (
	accountLabel  = "cardseg/fingerprint/account/"
	keyCheckLabel = "cardseg/fingerprint/key-check"
)

// Fingerprinter computes card fingerprints: HMAC-SHA256 of the PAN digits
// under a per-account key derived from a master key, so the same card in two
// accounts has unrelated fingerprints and a fingerprint leaked from one
// account says nothing about another.
//
// A Fingerprinter is safe for concurrent use. It must be created with
// [NewFingerprinter] and not copied after first use.
type Fingerprinter struct {
	master   []byte
	version  int
	keyCheck string

	// keys caches the derived key of each account seen (uuid.UUID →
	// *accountKey), so the hot path is one HMAC instead of two. It grows by
	// a few hundred bytes per account and is never pruned; that is bounded
	// because callers pass authenticated account IDs, of which there are
	// few, never identifiers taken from request input.
	keys sync.Map
}

// accountKey holds an account's derived key already XORed with the HMAC
// inner and outer pads (RFC 2104), ready to be prepended to the message.
type accountKey struct {
	ipad, opad [sha256.BlockSize]byte
}

// NewFingerprinter returns a Fingerprinter for the given master key, which
// must be at least 32 bytes, and its version, which must be at least 1 so
// that 0 can never be mistaken for a configured version. It copies master,
// so the caller may reuse or clear the slice.
func NewFingerprinter(master []byte, version int) (*Fingerprinter, error) {
	if len(master) < minKeyLen {
		return nil, fmt.Errorf("pan: fingerprint master key is %d bytes, want at least %d", len(master), minKeyLen)
	}
	if version < 1 {
		return nil, fmt.Errorf("pan: fingerprint key version is %d, want at least 1", version)
	}
	f := &Fingerprinter{
		master:  append([]byte(nil), master...),
		version: version,
	}
	f.keyCheck = hex.EncodeToString(mac(f.master, keyCheckLabel))
	return f, nil
}

// Version returns the key version given to NewFingerprinter. Callers store
// it beside each fingerprint, so that fingerprints made under an old key can
// be recognised after a rotation.
func (f *Fingerprinter) Version() int {
	return f.version
}

// KeyCheck returns a value that identifies the master key without revealing
// it: the hex encoding of HMAC-SHA256(master, "cardseg/fingerprint/key-check").
// Stored beside the key version, it lets a restart detect that the configured
// key changed without its version changing, which would otherwise silently
// make every stored fingerprint unmatchable.
func (f *Fingerprinter) KeyCheck() string {
	return f.keyCheck
}

// Fingerprint returns the 32-byte fingerprint of n within account:
// HMAC-SHA256(k, digits), where k = HMAC-SHA256(master,
// "cardseg/fingerprint/account/" + account.String()).
//
// Fingerprint panics if n is the zero Number, because the fingerprint of no
// card would match every other missing card.
func (f *Fingerprinter) Fingerprint(account uuid.UUID, n Number) []byte {
	if n.digits == nil {
		panic("pan: Fingerprint of the zero Number")
	}
	k := f.accountKey(account)

	// HMAC written out over sha256.Sum256 rather than through crypto/hmac,
	// whose hash.Hash costs seven allocations per call; with the padded keys
	// cached and a message of at most 19 bytes, both hashes fit in stack
	// buffers. Tests check the result against crypto/hmac.
	var inner [sha256.BlockSize + maxLen]byte
	copy(inner[:], k.ipad[:])
	m := copy(inner[sha256.BlockSize:], *n.digits)
	innerSum := sha256.Sum256(inner[:sha256.BlockSize+m])

	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], k.opad[:])
	copy(outer[sha256.BlockSize:], innerSum[:])
	sum := sha256.Sum256(outer[:])
	return sum[:]
}

// accountKey returns the padded derived key of account, deriving and caching
// it on first use.
func (f *Fingerprinter) accountKey(account uuid.UUID) *accountKey {
	if k, ok := f.keys.Load(account); ok {
		return k.(*accountKey)
	}
	if f.master == nil {
		panic("pan: Fingerprinter not created by NewFingerprinter")
	}
	derived := mac(f.master, accountLabel+account.String())
	k := new(accountKey)
	// The derived key is shorter than the block, so RFC 2104 pads it with
	// zeros; the bytes past it are just the pad constants.
	for i := range sha256.BlockSize {
		var b byte
		if i < len(derived) {
			b = derived[i]
		}
		k.ipad[i] = b ^ 0x36
		k.opad[i] = b ^ 0x5c
	}
	// Two goroutines may derive the same key at once; both results are
	// equal, and LoadOrStore makes them share one.
	actual, _ := f.keys.LoadOrStore(account, k)
	return actual.(*accountKey)
}

// mac returns HMAC-SHA256(key, msg).
func mac(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// ParseKey decodes a configured master key. It accepts hex (either case) or
// base64 in the standard or URL alphabet, padded or raw, after trimming
// surrounding white space such as the newline a key file ends with. Hex is
// tried first, since every hex string is also valid base64 and would decode
// to different bytes. The key must be at least 32 bytes after decoding.
//
// Error messages never include s, since it is a secret.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("pan: fingerprint key is empty")
	}
	key, ok := decodeKey(s)
	if !ok {
		return nil, errors.New("pan: fingerprint key is neither hex nor base64")
	}
	if len(key) < minKeyLen {
		return nil, fmt.Errorf("pan: fingerprint key is %d bytes after decoding, want at least %d", len(key), minKeyLen)
	}
	return key, nil
}

// decodeKey decodes s in the first encoding that accepts it. The decoders'
// own errors are dropped because encoding/hex quotes the offending byte,
// which is part of the secret.
func decodeKey(s string) ([]byte, bool) {
	if b, err := hex.DecodeString(s); err == nil {
		return b, true
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding,
		base64.URLEncoding,
		base64.RawStdEncoding,
		base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// GenerateKey returns a new random 32-byte master key from crypto/rand.
func GenerateKey() ([]byte, error) {
	key := make([]byte, minKeyLen)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("pan: generating fingerprint key: %w", err)
	}
	return key, nil
}

// Fingerprints are the fingerprinters of every master key version still configured:
// new cards are fingerprinted under the current one, and look-ups by card number also
// search under the older ones, so a rotation does not lose the cards enrolled before it.
type Fingerprints struct {
	current *Fingerprinter
	older   []*Fingerprinter
}

// NewFingerprints returns the set of fps, newest first; it panics on an empty list.
func NewFingerprints(fps []*Fingerprinter) *Fingerprints {
	return &Fingerprints{current: fps[0], older: fps[1:]}
}

// Current is the fingerprinter new cards are fingerprinted with.
func (s *Fingerprints) Current() *Fingerprinter {
	if s == nil {
		return nil
	}
	return s.current
}

// Older returns n's fingerprints under the older versions, for look-ups that must find
// cards enrolled before a rotation; nil when only one version is configured.
func (s *Fingerprints) Older(account uuid.UUID, n Number) [][]byte {
	if s == nil || len(s.older) == 0 {
		return nil
	}
	out := make([][]byte, len(s.older))
	for i, f := range s.older {
		out[i] = f.Fingerprint(account, n)
	}
	return out
}
