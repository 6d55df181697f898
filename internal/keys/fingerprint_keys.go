package keys

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// GeneratedFingerprintKey returns the fingerprint key an earlier release generated and
// kept in the database (fingerprint_keys.secret), or nil when there is none. The caller
// moves it out: to the key file (MoveOutGeneratedKey) or, on PostgreSQL, to a file the
// operator configures (export-master-key).
func GeneratedFingerprintKey(ctx context.Context, store FingerprintKeyStore) (*Master, error) {
	recorded, err := store.FingerprintKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("card fingerprint keys: %w", err)
	}
	for _, k := range recorded {
		if k.Secret != nil {
			return &Master{Version: k.Version, Key: k.Secret}, nil
		}
	}
	return nil, nil
}

// ForgetGeneratedFingerprintKey empties fingerprint_keys.secret of m's version once m is
// configured (and so kept outside the database). It does nothing when the stored key is
// not m: a key must never be dropped that is not known to be elsewhere.
func ForgetGeneratedFingerprintKey(ctx context.Context, store FingerprintKeyStore, ring *Ring, stored Master) error {
	for _, m := range ring.Versions() {
		if m.Version == stored.Version && bytes.Equal(m.Key, stored.Key) {
			return store.ClearFingerprintKeySecret(ctx, m.Version)
		}
	}
	return fmt.Errorf("card fingerprint key: the database still holds the generated key of version %d, which is not configured: "+
		"run `subaccountd export-master-key --out FILE` and configure it (MASTER_KEY_FILE=FILE, or add its VERSION:KEY entry to MASTER_KEY)", stored.Version)
}

// CheckFingerprintKeys records the check value of every configured master key version
// not recorded yet, and refuses to start when a version was recorded with a different
// key: fingerprints would silently stop matching. It runs under a lock so replicas
// starting together agree. It returns the recorded versions that are no longer
// configured: cards enrolled under them are not found by card number any more.
func CheckFingerprintKeys(ctx context.Context, store FingerprintKeyStore, ring *Ring) (unconfigured []int, err error) {
	prints, err := ring.Fingerprinters()
	if err != nil {
		return nil, err
	}
	err = store.Transact(ctx, func(ctx context.Context) error {
		unconfigured = nil
		if err := store.LockFingerprintKeys(ctx); err != nil {
			return err
		}
		recorded, err := store.FingerprintKeys(ctx)
		if err != nil {
			return err
		}
		for _, f := range prints {
			i := slices.IndexFunc(recorded, func(k subaccounts.FingerprintKey) bool { return k.Version == f.Version() })
			if i < 0 {
				if err := store.CreateFingerprintKey(ctx, subaccounts.FingerprintKey{Version: f.Version(), KeyCheck: f.KeyCheck(), CreatedAt: subaccounts.Now()}); err != nil {
					return err
				}
				continue
			}
			if recorded[i].KeyCheck != f.KeyCheck() {
				return fmt.Errorf("MASTER_KEY: version %d was first used with a different key; give a new key a new version", f.Version())
			}
		}
		for _, k := range recorded {
			if !slices.ContainsFunc(prints, func(f *pan.Fingerprinter) bool { return f.Version() == k.Version }) {
				unconfigured = append(unconfigured, k.Version)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("card fingerprint key: %w", err)
	}
	return unconfigured, nil
}

// FingerprintKeyStore is what the fingerprint key checks need of the database: the
// recorded versions (a version and its key check; never a usable key).
type FingerprintKeyStore interface {
	// Transact runs fn in one database transaction carried by fn's context.
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
	// LockFingerprintKeys serialises fingerprint key creation across replicas until the
	// transaction ends.
	LockFingerprintKeys(ctx context.Context) error
	// FingerprintKeys returns every recorded fingerprint key version, newest first.
	FingerprintKeys(ctx context.Context) ([]subaccounts.FingerprintKey, error)
	CreateFingerprintKey(ctx context.Context, k subaccounts.FingerprintKey) error
	// ClearFingerprintKeySecret empties the secret of a recorded version: the generated
	// key an earlier release kept in the database, once it is safe elsewhere.
	ClearFingerprintKeySecret(ctx context.Context, version int) error
}
