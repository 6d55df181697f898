package store

import (
	"context"
	"time"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type signingKeyRow struct {
	KID        string    `gorm:"column:kid;primaryKey"`
	Algorithm  string    `gorm:"column:algorithm"`
	PrivateKey string    `gorm:"column:private_key"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	// ActivatesAt is NULL for keys of earlier releases: they signed from CreatedAt.
	ActivatesAt *time.Time `gorm:"column:activates_at"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

// LockSigningKeys serialises signing key creation across replicas until the
// transaction ctx carries ends (a table lock on PostgreSQL; SQLite's immediate
// transactions already exclude other writers). Outside a transaction it does nothing.
func (q queries) LockSigningKeys(ctx context.Context) error {
	if !q.inTransaction(ctx) {
		return nil
	}
	return translate(q.d.lockTable(q.with(ctx), "signing_keys"))
}

// SigningKeys returns the issuer's signing keys, newest first.
func (q queries) SigningKeys(ctx context.Context) ([]subaccounts.SigningKey, error) {
	var rows []signingKeyRow
	if err := q.with(ctx).Order(q.d.timeOrder("created_at", true) + ", kid").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = subaccounts.SigningKey{KID: r.KID, Algorithm: r.Algorithm, PrivateKey: r.PrivateKey, CreatedAt: r.CreatedAt.UTC()}
		if r.ActivatesAt != nil {
			out[i].ActivatesAt = r.ActivatesAt.UTC()
		}
	}
	return out, nil
}

// CreateSigningKey inserts a signing key as given; the issuer seals its private key
// first.
func (q queries) CreateSigningKey(ctx context.Context, k subaccounts.SigningKey) error {
	row := signingKeyRow{KID: k.KID, Algorithm: k.Algorithm, PrivateKey: k.PrivateKey, CreatedAt: k.CreatedAt.UTC()}
	if !k.ActivatesAt.IsZero() {
		at := k.ActivatesAt.UTC()
		row.ActivatesAt = &at
	}
	return translate(q.with(ctx).Create(&row).Error)
}

// UpdateSigningKey replaces the stored (sealed) private key of kid.
func (q queries) UpdateSigningKey(ctx context.Context, kid, privateKey string) error {
	return translate(q.with(ctx).Model(&signingKeyRow{}).Where("kid = ?", kid).Update("private_key", privateKey).Error)
}
