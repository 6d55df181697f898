package issuer

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Signing keys live in the database, so replicas share them, but only sealed under the
// master key's key-encryption key (AES-256-GCM, the key id as associated data): a copy
// of the database yields no key to forge tokens with. Several keys may be stored:
//   - the active key, the newest whose activation time has passed, signs;
//   - keys activating later are published in the key set before they sign, so every
//     verifier (and every cache of the key set) knows them in time;
//   - keys an activation superseded stay published until the tokens they signed expired.

// keyReload is how often an issuer rereads the stored keys, to learn of a key another
// process added (subaccountd rotate-signing-key). A rotation's lead time must exceed it.
const keyReload = 30 * time.Second

// MinRotationLead is the shortest time a new signing key is published before it signs:
// long enough for every replica to reread the keys and every verifier to refetch them.
const MinRotationLead = 2 * keyReload

// retirementGrace is how long past the longest token lifetime a superseded key stays
// published, for clocks that disagree a little.
const retirementGrace = 5 * time.Minute

// signingKey is one opened signing key.
type signingKey struct {
	kid         string
	key         *rsa.PrivateKey
	signer      jose.Signer
	activatesAt time.Time
}

// keyState is the stored keys as last read, the latest activation first.
type keyState struct {
	mu        sync.Mutex
	keys      []signingKey
	loadedAt  time.Time
	reloading bool
}

// sealAAD binds a sealed key to its key id, so a sealed key cannot be moved to another row.
func sealAAD(kid string) []byte { return []byte("signing-key/" + kid) }

// prepareKeys runs once at start: it seals in place every key still stored as plain PEM
// (databases of earlier releases) and reseals under the current master version every key
// sealed under an older one, then generates the first key on an empty table. It runs
// behind a lock on the key table, so replicas starting together agree on one key.
func prepareKeys(ctx context.Context, store Store, ring *keys.Ring) error {
	err := store.Transact(ctx, func(ctx context.Context) error {
		if err := store.LockSigningKeys(ctx); err != nil {
			return err
		}
		stored, err := store.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if len(stored) == 0 {
			k, err := newSigningKey(ring, subaccounts.Now())
			if err != nil {
				return err
			}
			return store.CreateSigningKey(ctx, k)
		}
		for _, k := range stored {
			der, version, err := openKey(ring, k)
			if err != nil {
				return err
			}
			if version == ring.Current().Version {
				continue
			}
			sealed, err := ring.Seal(der, sealAAD(k.KID))
			if err != nil {
				return err
			}
			if err := store.UpdateSigningKey(ctx, k.KID, sealed); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("issuer: signing keys: %w", err)
	}
	return nil
}

// RotateSigningKey stores a new signing key that is published at once and signs from
// activatesAt on, which must be at least MinRotationLead away. Running issuers learn of
// it within keyReload; the key it supersedes stays published until its tokens expired.
// It returns the new key's id.
func RotateSigningKey(ctx context.Context, store Store, ring *keys.Ring, activatesAt time.Time) (string, error) {
	if time.Until(activatesAt) < MinRotationLead {
		return "", fmt.Errorf("issuer: a new signing key must be published at least %v before it signs", MinRotationLead)
	}
	return addSigningKey(ctx, store, ring, activatesAt)
}

// addSigningKey is RotateSigningKey without the lead-time check, for tests.
func addSigningKey(ctx context.Context, store Store, ring *keys.Ring, activatesAt time.Time) (string, error) {
	k, err := newSigningKey(ring, activatesAt)
	if err != nil {
		return "", err
	}
	err = store.Transact(ctx, func(ctx context.Context) error {
		if err := store.LockSigningKeys(ctx); err != nil {
			return err
		}
		return store.CreateSigningKey(ctx, k)
	})
	if err != nil {
		return "", fmt.Errorf("issuer: rotate signing key: %w", err)
	}
	return k.KID, nil
}

// newSigningKey generates an RSA key and seals it; its kid is derived from the public key.
func newSigningKey(ring *keys.Ring, activatesAt time.Time) (subaccounts.SigningKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return subaccounts.SigningKey{}, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return subaccounts.SigningKey{}, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return subaccounts.SigningKey{}, err
	}
	sum := sha256.Sum256(pub)
	kid := base64.RawURLEncoding.EncodeToString(sum[:12])
	sealed, err := ring.Seal(der, sealAAD(kid))
	clear(der)
	if err != nil {
		return subaccounts.SigningKey{}, err
	}
	return subaccounts.SigningKey{
		KID: kid, Algorithm: "RS256", CreatedAt: subaccounts.Now(), ActivatesAt: activatesAt.UTC(),
		PrivateKey: sealed,
	}, nil
}

// openKey returns a stored key's PKCS #8 DER and the master version it was sealed under;
// version 0 means it was stored as plain PEM by an earlier release.
func openKey(ring *keys.Ring, k subaccounts.SigningKey) ([]byte, int, error) {
	if !keys.IsSealed(k.PrivateKey) {
		block, _ := pem.Decode([]byte(k.PrivateKey))
		if block == nil {
			return nil, 0, fmt.Errorf("stored key %s is neither sealed nor PEM", k.KID)
		}
		return block.Bytes, 0, nil
	}
	der, version, err := ring.Open(k.PrivateKey, sealAAD(k.KID))
	if err != nil {
		return nil, version, fmt.Errorf("stored key %s: %w", k.KID, err)
	}
	return der, version, nil
}

// loadKeys reads and opens every stored key.
func loadKeys(ctx context.Context, store Store, ring *keys.Ring) ([]signingKey, error) {
	stored, err := store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("issuer: signing keys: %w", err)
	}
	out := make([]signingKey, 0, len(stored))
	for _, k := range stored {
		sk, err := openSigningKey(ring, k)
		if err != nil {
			return nil, err
		}
		out = append(out, sk)
	}
	if len(out) == 0 {
		return nil, errors.New("issuer: no signing key is stored")
	}
	slices.SortStableFunc(out, func(a, b signingKey) int { return b.activatesAt.Compare(a.activatesAt) })
	return out, nil
}

// openSigningKey opens a stored key and makes its signer.
func openSigningKey(ring *keys.Ring, k subaccounts.SigningKey) (signingKey, error) {
	der, _, err := openKey(ring, k)
	if err != nil {
		return signingKey{}, fmt.Errorf("issuer: %w", err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return signingKey{}, fmt.Errorf("issuer: stored key %s: %w", k.KID, err)
	}
	rk, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return signingKey{}, fmt.Errorf("issuer: stored key %s is not RSA", k.KID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rk, KeyID: k.KID}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return signingKey{}, fmt.Errorf("issuer: %w", err)
	}
	at := k.ActivatesAt
	if at.IsZero() {
		at = k.CreatedAt
	}
	return signingKey{kid: k.KID, key: rk, signer: signer, activatesAt: at}, nil
}

// current returns the stored keys as last read, and starts a reread in the background
// when keyReload has passed. A token request never waits for the database here, and a
// failed reread keeps the keys read before: they are still valid, and tokens must not
// stop because the database blinked.
func (is *Issuer) current(ctx context.Context) []signingKey {
	is.keys.mu.Lock()
	defer is.keys.mu.Unlock()
	if !is.keys.reloading && time.Since(is.keys.loadedAt) >= keyReload {
		is.keys.reloading = true
		go is.reloadInBackground(context.WithoutCancel(ctx))
	}
	return is.keys.keys
}

func (is *Issuer) reloadInBackground(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, keyReload/2)
	defer cancel()
	ks, err := loadKeys(ctx, is.store, is.cfg.Keys)
	is.keys.mu.Lock()
	defer is.keys.mu.Unlock()
	if err == nil {
		is.keys.keys = ks
	}
	// A failure is retried after keyReload too, not at every request.
	is.keys.loadedAt, is.keys.reloading = time.Now(), false
}

// ReloadKeys rereads the stored signing keys now, instead of within keyReload.
func (is *Issuer) ReloadKeys(ctx context.Context) error {
	ks, err := loadKeys(ctx, is.store, is.cfg.Keys)
	if err != nil {
		return err
	}
	is.keys.mu.Lock()
	is.keys.keys, is.keys.loadedAt = ks, time.Now()
	is.keys.mu.Unlock()
	return nil
}

// active returns the key that signs at now: the latest activation that has passed, or,
// should every key activate later (a clock set back), the earliest.
func active(ks []signingKey, now time.Time) signingKey {
	for _, k := range ks {
		if !k.activatesAt.After(now) {
			return k
		}
	}
	return ks[len(ks)-1]
}

// published returns the key set at now: the active key, the keys activating later, and
// the superseded keys whose tokens may not have expired yet.
func published(ks []signingKey, now time.Time, tokenTTL time.Duration) jose.JSONWebKeySet {
	act := active(ks, now)
	var set jose.JSONWebKeySet
	for i, k := range ks {
		// ks is sorted by activation, latest first, so ks[i-1] is the key that followed k.
		next := k.activatesAt.After(now)
		superseded := !next && k.kid != act.kid
		if superseded && !now.Before(ks[i-1].activatesAt.Add(tokenTTL+retirementGrace)) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.key.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	return set
}
