// Package idempotency makes POST requests carrying an Idempotency-Key take effect at
// most once per (account, key): the key is claimed in the same database transaction as
// the request's effect and keeps the (sealed) response for replays. httpapi's middleware
// is its only caller; the domain knows nothing of it.
//
// It depends on the vocabulary (internal/subaccounts) and internal/keys alone, and must
// not import the store, httpapi or any domain package.
package idempotency

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Idempotent writes: a POST carrying an Idempotency-Key takes effect at most once per
// (account, key). The key is claimed in the same database transaction as the request's
// effect and holds the response once the request succeeded, so a crash can leave neither
// an effect without its key nor a key without its effect. Only successful (2xx) responses
// are kept: a refused or failed request rolls its claim back with everything else, so the
// same request can be sent again with the same key and is run again.

// KeyRetention is how long a used key is kept at least; Purge
// deletes older ones.
const KeyRetention = 24 * time.Hour

// MaxIdempotencyKeyLen is the longest key accepted.
const MaxKeyLen = 255

// ValidIdempotencyKey reports whether key is 1 to 255 visible ASCII characters (0x21–0x7E).
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := range len(key) {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// IdempotentRequest is a request carrying an idempotency key. AccountID scopes the key:
// the platform operator, who has no account, uses uuid.Nil. Body is only hashed, never
// kept: it can hold a card number.
type Request struct {
	AccountID uuid.UUID
	Key       string
	// Caller names who sent the request (client, and the subaccount it is confined to):
	// a key is bound to the caller that first used it, so another client of the account
	// reusing it is refused instead of replayed a response it may not be allowed to see.
	Caller string
	Method string
	// Path is hashed; StoredPath, when set, is what the key's row records instead (the
	// caller's scrubbed form of Path).
	Path       string
	StoredPath string
	RawQuery   string
	Body       []byte
}

// IdempotentResponse is a response as sent, with the headers a replay repeats.
type Response struct {
	Status      int
	ContentType string
	Location    string
	ETag        string
	Body        []byte
}

// IdempotencyRecord is a used key as stored. RequestHash is a keyed hash of the request
// and SealedBody the response body encrypted under a key derived from the server's
// secret, since some responses carry a secret shown only once.
type Record struct {
	AccountID   uuid.UUID
	Key         string
	Method      string
	Path        string
	RequestHash string
	Status      int
	ContentType string
	Location    string
	ETag        string
	SealedBody  []byte
	CreatedAt   time.Time
}

// Store persists idempotency keys.
type Store interface {
	// Transact runs fn in one database transaction carried by fn's context: the
	// request's effect and its key's claim share it.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// ClaimIdempotencyKey inserts r (its key, request and creation time) unless the
	// account already has the key, and reports whether it did. Call it inside Transact,
	// so the claim commits or rolls back with the request's effect. On PostgreSQL a claim
	// of the same key that another transaction has not committed yet makes it wait for that
	// transaction.
	ClaimIdempotencyKey(ctx context.Context, r Record) (bool, error)
	// CompleteIdempotencyKey stores the response (status, headers, sealed body) on a key
	// claimed in the same transaction.
	CompleteIdempotencyKey(ctx context.Context, r Record) error
	// GetIdempotencyKey returns the account's key, or ErrNotFound.
	GetIdempotencyKey(ctx context.Context, accountID uuid.UUID, key string) (Record, error)
	// DeleteIdempotencyKeysBefore deletes the keys of every account created before t and
	// returns how many it deleted.
	DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error)
}

// idempotency is the Service's state for idempotent writes: the keys derived from the
// master key (on first use, since options may set the key ring after NewService began)
// and the keys this process has in flight.
type idempotency struct {
	once sync.Once
	// gens are the key generations, the current one first: one per master key version
	// (HKDF), then the HMAC derivation of earlier releases, so a retry that crosses an
	// upgrade or a rotation still finds its key. Only gens[0] claims new keys.
	gens     []idemGen
	err      error
	inFlight sync.Map // flightKey → struct{}
}

// idemGen is one generation of idempotency keys.
type idemGen struct {
	hashKey []byte
	keyKey  []byte
	sealer  cipher.AEAD
}

type flightKey struct {
	account uuid.UUID
	key     string
}

// Labels of the keys of earlier releases, derived by pan's DeriveKey (HMAC); still read
// so keys stored before the upgrade to HKDF are found for their 24 hours. To be dropped
// one release after.
const (
	legacyRequestHashLabel  = "idempotency/request-hash"
	legacyResponseSealLabel = "idempotency/response-seal"
	legacyKeyDigestLabel    = "idempotency/key"
)

func (s *Service) idempotencyKeys() error {
	d := &s.idem
	d.once.Do(func() {
		if s.keyRing == nil {
			d.err = errors.New("idempotency keys need the master key, which is not configured")
			return
		}
		versions := s.keyRing.Versions()
		for _, m := range versions {
			g, err := newIdemGen(keys.Derive(m, keys.LabelIdempotencyRequestHash), keys.Derive(m, keys.LabelIdempotencyKey), keys.Derive(m, keys.LabelResponseSeal))
			if err != nil {
				d.err = err
				return
			}
			d.gens = append(d.gens, g)
		}
		prints, err := s.keyRing.Fingerprinters()
		if err != nil {
			d.err = err
			return
		}
		for _, f := range prints {
			g, err := newIdemGen(f.DeriveKey(legacyRequestHashLabel), f.DeriveKey(legacyKeyDigestLabel), f.DeriveKey(legacyResponseSealLabel))
			if err != nil {
				d.err = err
				return
			}
			d.gens = append(d.gens, g)
		}
	})
	return d.err
}

func newIdemGen(hashKey, keyKey, sealKey []byte) (idemGen, error) {
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return idemGen{}, err
	}
	sealer, err := cipher.NewGCM(block)
	if err != nil {
		return idemGen{}, err
	}
	return idemGen{hashKey: hashKey, keyKey: keyKey, sealer: sealer}, nil
}

// requestHash is the hex HMAC-SHA256 of the request's method, path, query and body, each
// length-prefixed so no two requests share an encoding.
func (g idemGen) requestHash(r Request) string {
	h := hmac.New(sha256.New, g.hashKey)
	for _, part := range [][]byte{[]byte(r.Caller), []byte(r.Method), []byte(r.Path), []byte(r.RawQuery), r.Body} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// keyDigest is what the database keeps of a key: its keyed hash. Keys are whatever a
// client chose, which could be anything, a card number included; they are never stored.
func (g idemGen) keyDigest(key string) string {
	h := hmac.New(sha256.New, g.keyKey)
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}

// sealAAD binds a sealed body to its account and key, so a row's body cannot be moved to
// another row.
func sealAAD(account uuid.UUID, key string) []byte {
	return append(account[:], key...)
}

func (g idemGen) seal(account uuid.UUID, key string, body []byte) ([]byte, error) {
	nonce := make([]byte, g.sealer.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return g.sealer.Seal(nonce, nonce, body, sealAAD(account, key)), nil
}

func (g idemGen) unseal(account uuid.UUID, key string, sealed []byte) ([]byte, error) {
	n := g.sealer.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed response is too short")
	}
	body, err := g.sealer.Open(nil, sealed[:n], sealed[n:], sealAAD(account, key))
	if err != nil {
		// A changed fingerprint key makes the stored responses unreadable.
		return nil, fmt.Errorf("open the stored response: %w", err)
	}
	return body, nil
}

// Idempotently runs run at most once per (account, key) with effect. A key already used
// with the same request answers with the stored response and replayed true, without
// running anything; with a different request it is refused (CodeKeyReused),
// and while another request of this process holds the key, so is this one
// (CodeKeyInFlight).
//
// Otherwise the key is claimed and run called inside Transact with the context it must
// use for every store call, so the claim and the effect commit together: a 2xx response
// is stored on the key and committed, anything else rolls back the claim with everything
// run wrote. run may be called again when the database asks for a retry, and must answer
// afresh each time. When the commit fails the error is returned and the response must not
// be sent.
func (s *Service) Idempotently(ctx context.Context, req Request, run func(ctx context.Context) (Response, error)) (resp Response, replayed bool, err error) {
	if !ValidKey(req.Key) {
		return Response{}, false, subaccounts.Invalid(subaccounts.FieldError{Parameter: "Idempotency-Key", Detail: "must be 1 to 255 visible ASCII characters"})
	}
	if err := s.idempotencyKeys(); err != nil {
		return Response{}, false, fmt.Errorf("idempotency key: %w", err)
	}
	cur := s.idem.gens[0]
	hash := cur.requestHash(req)
	stored := cur.keyDigest(req.Key)
	for i, g := range s.idem.gens {
		digest := stored
		if i > 0 {
			digest = g.keyDigest(req.Key)
		}
		rec, err := s.store.GetIdempotencyKey(ctx, req.AccountID, digest)
		switch {
		case err == nil:
			return g.replay(rec, g.requestHash(req))
		case !errors.Is(err, subaccounts.ErrNotFound):
			return Response{}, false, fmt.Errorf("idempotency key: %w", err)
		}
	}

	fk := flightKey{req.AccountID, req.Key}
	if _, busy := s.idem.inFlight.LoadOrStore(fk, struct{}{}); busy {
		return Response{}, false, errKeyInFlight
	}
	defer s.idem.inFlight.Delete(fk)

	path := req.StoredPath
	if path == "" {
		path = req.Path
	}
	// errUnkept rolls back a response that is not kept; it is no failure.
	errUnkept := errors.New("response not kept")
	var existing *Record
	err = s.store.Transact(ctx, func(ctx context.Context) error {
		existing = nil
		claim := Record{
			AccountID: req.AccountID, Key: stored, Method: req.Method, Path: path,
			RequestHash: hash, CreatedAt: subaccounts.Now(),
		}
		claimed, err := s.store.ClaimIdempotencyKey(ctx, claim)
		if err != nil {
			return err
		}
		if !claimed {
			// Another request (here or on another replica) committed the key first.
			rec, err := s.store.GetIdempotencyKey(ctx, req.AccountID, stored)
			if err != nil {
				return err
			}
			existing = &rec
			return errUnkept
		}
		if resp, err = run(ctx); err != nil {
			return err
		}
		if resp.Status < 200 || resp.Status > 299 {
			return errUnkept
		}
		done := claim
		done.Status, done.ContentType, done.Location, done.ETag = resp.Status, resp.ContentType, resp.Location, resp.ETag
		if done.SealedBody, err = cur.seal(req.AccountID, stored, resp.Body); err != nil {
			return err
		}
		return s.store.CompleteIdempotencyKey(ctx, done)
	})
	if existing != nil {
		return cur.replay(*existing, hash)
	}
	if err != nil && !errors.Is(err, errUnkept) {
		return Response{}, false, fmt.Errorf("idempotent request: %w", err)
	}
	return resp, false, nil
}

var errKeyInFlight = subaccounts.Errorf(subaccounts.CodeKeyInFlight, "A request with this Idempotency-Key is still being processed; retry once it has finished.")

// replay answers with a stored response when the request is the one it answered.
func (g idemGen) replay(rec Record, hash string) (Response, bool, error) {
	if !hmac.Equal([]byte(rec.RequestHash), []byte(hash)) {
		return Response{}, false, subaccounts.Errorf(subaccounts.CodeKeyReused,
			"This Idempotency-Key was already used with a different request (method, path, query or body); use a new key for a new request.")
	}
	body, err := g.unseal(rec.AccountID, rec.Key, rec.SealedBody)
	if err != nil {
		return Response{}, false, fmt.Errorf("idempotency key: %w", err)
	}
	return Response{
		Status: rec.Status, ContentType: rec.ContentType, Location: rec.Location, ETag: rec.ETag,
		Body: body,
	}, true, nil
}

// Purge deletes the keys older than IdempotencyKeyRetention and returns
// how many it deleted.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	n, err := s.store.DeleteIdempotencyKeysBefore(ctx, subaccounts.Now().Add(-KeyRetention))
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	return n, nil
}

// Service makes writes idempotent. It is safe for concurrent use.
type Service struct {
	store   Store
	keyRing *keys.Ring
	idem    idempotency
}

// NewService returns the idempotency service over store, deriving its keys from ring
// (without one, every idempotent write fails).
func NewService(store Store, ring *keys.Ring) *Service {
	return &Service{store: store, keyRing: ring}
}
