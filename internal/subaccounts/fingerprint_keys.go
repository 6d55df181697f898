package subaccounts

import (
	"context"
	"errors"
	"fmt"

	"github.com/cardseg/subaccounts/internal/pan"
)

// LoadFingerprinter returns the fingerprinter cards are identified with. With a
// configured master key (CARD_FINGERPRINT_KEY) it records the key's check value under its
// version, and refuses to start when that version was recorded with a different key:
// fingerprints would silently stop matching. Without one it uses the key generated and
// stored at first start (the embedded default), generating it under a lock so replicas
// agree. generated reports whether this call created the key.
func LoadFingerprinter(ctx context.Context, store Store, key []byte, version int) (f *pan.Fingerprinter, generated bool, err error) {
	err = store.Transact(ctx, func(tx Tx) error {
		generated = false
		if err := tx.LockFingerprintKeys(ctx); err != nil {
			return err
		}
		keys, err := tx.FingerprintKeys(ctx)
		if err != nil {
			return err
		}
		if key != nil {
			f, err = pan.NewFingerprinter(key, version)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if k.Version == version {
					if k.KeyCheck != f.KeyCheck() {
						return fmt.Errorf("CARD_FINGERPRINT_KEY: version %d was first used with a different key; give a new key a new CARD_FINGERPRINT_KEY_VERSION", version)
					}
					return nil
				}
			}
			return tx.CreateFingerprintKey(ctx, FingerprintKey{Version: version, KeyCheck: f.KeyCheck(), CreatedAt: Now()})
		}
		for _, k := range keys {
			if k.Secret != nil {
				f, err = pan.NewFingerprinter(k.Secret, k.Version)
				if err != nil {
					return fmt.Errorf("stored fingerprint key %d: %w", k.Version, err)
				}
				return nil
			}
		}
		if len(keys) > 0 {
			return errors.New("CARD_FINGERPRINT_KEY: cards were fingerprinted with a configured key; set CARD_FINGERPRINT_KEY (and its version) again")
		}
		secret, err := pan.GenerateKey()
		if err != nil {
			return err
		}
		f, err = pan.NewFingerprinter(secret, 1)
		if err != nil {
			return err
		}
		generated = true
		return tx.CreateFingerprintKey(ctx, FingerprintKey{Version: 1, KeyCheck: f.KeyCheck(), Secret: secret, CreatedAt: Now()})
	})
	if err != nil {
		return nil, false, fmt.Errorf("card fingerprint key: %w", err)
	}
	return f, generated, nil
}
