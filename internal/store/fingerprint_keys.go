package store

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type fingerprintKeyRow struct {
	// autoIncrement:false: the version is the caller's, never the database's.
	Version   int       `gorm:"column:version;primaryKey;autoIncrement:false"`
	KeyCheck  string    `gorm:"column:key_check"`
	Secret    nullBytes `gorm:"column:secret"`
	CreatedAt time.Time `gorm:"column:created_at"`
}

func (fingerprintKeyRow) TableName() string { return "fingerprint_keys" }

// nullBytes is a nullable binary column: an empty value is stored as NULL and NULL reads
// back as nil. A plain nil []byte would reach SQLite as an empty blob, not NULL.
type nullBytes []byte

// Value implements driver.Valuer.
func (b nullBytes) Value() (driver.Value, error) {
	if len(b) == 0 {
		return nil, nil
	}
	return []byte(b), nil
}

// Scan implements sql.Scanner.
func (b *nullBytes) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*b = nil
	case []byte:
		if len(v) == 0 {
			*b = nil
		} else {
			*b = append(nullBytes(nil), v...) // the driver may reuse v
		}
	default:
		return fmt.Errorf("scan %T into a binary column", src)
	}
	return nil
}

// LockFingerprintKeys serialises fingerprint key creation across replicas until the
// transaction ctx carries ends, as LockSigningKeys does for signing keys.
func (q queries) LockFingerprintKeys(ctx context.Context) error {
	if !q.inTransaction(ctx) {
		return nil
	}
	return translate(q.d.lockTable(q.with(ctx), "fingerprint_keys"))
}

// FingerprintKeys returns every recorded fingerprint key version, newest first.
func (q queries) FingerprintKeys(ctx context.Context) ([]subaccounts.FingerprintKey, error) {
	var rows []fingerprintKeyRow
	if err := q.with(ctx).Order("version DESC").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.FingerprintKey, len(rows))
	for i, r := range rows {
		out[i] = subaccounts.FingerprintKey{Version: r.Version, KeyCheck: r.KeyCheck, Secret: r.Secret, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, nil
}

// CreateFingerprintKey records a fingerprint key version and its key check.
func (q queries) CreateFingerprintKey(ctx context.Context, k subaccounts.FingerprintKey) error {
	row := fingerprintKeyRow{Version: k.Version, KeyCheck: k.KeyCheck, Secret: k.Secret, CreatedAt: k.CreatedAt.UTC()}
	return translate(q.with(ctx).Create(&row).Error)
}

// ClearFingerprintKeySecret empties the secret of a recorded version: the generated
// key an earlier release kept in the database, once it is safe elsewhere.
func (q queries) ClearFingerprintKeySecret(ctx context.Context, version int) error {
	return translate(q.with(ctx).Model(&fingerprintKeyRow{}).Where("version = ?", version).Update("secret", nullBytes(nil)).Error)
}
