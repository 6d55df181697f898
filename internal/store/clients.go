package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type clientRow struct {
	ClientID     string     `gorm:"column:client_id;primaryKey"`
	AccountID    *uuid.UUID `gorm:"column:account_id"`
	SubaccountID *uuid.UUID `gorm:"column:subaccount_id"`
	Name         string     `gorm:"column:name"`
	SecretHash   string     `gorm:"column:secret_hash"`
	Scopes       string     `gorm:"column:scopes"`
	CreatedAt    time.Time  `gorm:"column:created_at"`
	RevokedAt    *time.Time `gorm:"column:revoked_at"`
	RateLimit    *int       `gorm:"column:rate_limit"`
}

func (clientRow) TableName() string { return "oauth_clients" }

func toClientRow(c subaccounts.Client) clientRow {
	return clientRow{
		ClientID:     c.ID,
		AccountID:    c.AccountID,
		SubaccountID: c.SubaccountID,
		Name:         c.Name,
		SecretHash:   c.SecretHash,
		Scopes:       strings.Join(c.Scopes, " "),
		CreatedAt:    c.CreatedAt.UTC(),
		RateLimit:    c.RateLimit,
	}
}

func (r clientRow) toDomain() subaccounts.Client {
	return subaccounts.Client{
		ID:           r.ClientID,
		AccountID:    r.AccountID,
		SubaccountID: r.SubaccountID,
		Name:         r.Name,
		Scopes:       strings.Fields(r.Scopes),
		SecretHash:   r.SecretHash,
		CreatedAt:    r.CreatedAt.UTC(),
		RateLimit:    r.RateLimit,
	}
}

// CreateClient inserts a client (a tenant's, or an operator's with no account).
func (q queries) CreateClient(ctx context.Context, c subaccounts.Client) error {
	row := toClientRow(c)
	return translate(q.with(ctx).Create(&row).Error)
}

// GetClient returns an active (not revoked) client by id, of any account: client ids are
// unique across accounts, and a token request finds its tenant by one, so this is the
// one client query not led by account_id. Callers acting for an account check the
// client's account themselves.
func (q queries) GetClient(ctx context.Context, clientID string) (subaccounts.Client, error) {
	var row clientRow
	if err := q.with(ctx).Where("client_id = ? AND revoked_at IS NULL", clientID).Take(&row).Error; err != nil {
		return subaccounts.Client{}, notFound("client", err)
	}
	return row.toDomain(), nil
}

// ListClients returns up to limit active clients of the account in id order, after
// afterID when it is set.
func (q queries) ListClients(ctx context.Context, accountID uuid.UUID, afterID string, limit int) ([]subaccounts.Client, error) {
	var rows []clientRow
	db := q.with(ctx).Where("account_id = ? AND revoked_at IS NULL", accountID).Order("client_id").Limit(limit)
	if afterID != "" {
		db = db.Where("client_id > ?", afterID)
	}
	err := db.Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.Client, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// RevokeClient revokes an active client of the account; subaccounts.NotFound("client")
// when the account has no such active client.
func (q queries) RevokeClient(ctx context.Context, accountID uuid.UUID, clientID string) error {
	res := q.with(ctx).Model(&clientRow{}).
		Where("account_id = ? AND client_id = ? AND revoked_at IS NULL", accountID, clientID).
		Update("revoked_at", subaccounts.Now())
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("client")
	}
	return nil
}

// SetClientRateLimit sets an active client's own rate limit (nil: the default);
// subaccounts.NotFound("client") when the account has no such active client.
func (q queries) SetClientRateLimit(ctx context.Context, accountID uuid.UUID, clientID string, limit *int) error {
	// A map, not a struct: gorm skips a nil field of a struct, and nil is a value here.
	res := q.with(ctx).Model(&clientRow{}).
		Where("account_id = ? AND client_id = ? AND revoked_at IS NULL", accountID, clientID).
		Updates(map[string]any{"rate_limit": limit})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("client")
	}
	return nil
}

// OperatorClientExists reports whether any active operator client (one with no
// account) exists.
func (q queries) OperatorClientExists(ctx context.Context) (bool, error) {
	var n int64
	err := q.with(ctx).Model(&clientRow{}).Where("account_id IS NULL AND revoked_at IS NULL").Count(&n).Error
	return n > 0, translate(err)
}

// UpsertOperatorClient creates or replaces an operator client; ErrConflict when the id
// is a tenant client's.
func (q queries) UpsertOperatorClient(ctx context.Context, c subaccounts.Client) error {
	if c.AccountID != nil {
		return fmt.Errorf("upsert operator client: it must have no account")
	}
	row := toClientRow(c)
	res := q.with(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "client_id"}},
		DoUpdates: clause.AssignmentColumns([]string{"name", "secret_hash", "scopes", "revoked_at"}),
		Where:     clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "oauth_clients.account_id IS NULL"}}},
	}).Create(&row)
	if res.Error != nil {
		return translate(res.Error)
	}
	// The conditional upsert touches nothing when the id is a tenant client's.
	if res.RowsAffected == 0 {
		return fmt.Errorf("%w: client %q belongs to an account", subaccounts.ErrConflict, c.ID)
	}
	return nil
}

// RevokeOperatorClients revokes every active operator client but keepID and returns
// the clients it revoked, as they were before.
func (q queries) RevokeOperatorClients(ctx context.Context, keepID string) ([]subaccounts.Client, error) {
	var rows []clientRow
	if err := q.with(ctx).Where("account_id IS NULL AND revoked_at IS NULL AND client_id <> ?", keepID).
		Order("client_id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	now := subaccounts.Now()
	var revoked []subaccounts.Client
	for _, r := range rows {
		// One at a time, so a client another replica revoked meanwhile is neither
		// revoked nor reported (nor audited) twice. There are few operator clients.
		res := q.with(ctx).Model(&clientRow{}).Where("client_id = ? AND account_id IS NULL AND revoked_at IS NULL", r.ClientID).
			Update("revoked_at", now)
		if res.Error != nil {
			return nil, translate(res.Error)
		}
		if res.RowsAffected == 1 {
			revoked = append(revoked, r.toDomain())
		}
	}
	return revoked, nil
}
