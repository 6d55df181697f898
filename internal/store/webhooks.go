package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type webhookEndpointRow struct {
	AccountID               uuid.UUID  `gorm:"column:account_id;primaryKey"`
	ID                      uuid.UUID  `gorm:"column:id;primaryKey"`
	SubaccountID            *uuid.UUID `gorm:"column:subaccount_id"`
	URL                     string     `gorm:"column:url"`
	Description             string     `gorm:"column:description"`
	EventTypes              string     `gorm:"column:event_types"`
	Disabled                bool       `gorm:"column:disabled"`
	DisabledReason          string     `gorm:"column:disabled_reason"`
	Secret                  string     `gorm:"column:secret"`
	PreviousSecret          *string    `gorm:"column:previous_secret"`
	PreviousSecretExpiresAt *time.Time `gorm:"column:previous_secret_expires_at"`
	FailingSince            *time.Time `gorm:"column:failing_since"`
	Version                 int64      `gorm:"column:version"`
	CreatedAt               time.Time  `gorm:"column:created_at"`
	UpdatedAt               time.Time  `gorm:"column:updated_at"`
}

func (webhookEndpointRow) TableName() string { return "webhook_endpoints" }

func toWebhookEndpointRow(e subaccounts.WebhookEndpoint) (webhookEndpointRow, error) {
	types, err := json.Marshal(e.EventTypes)
	if err != nil {
		return webhookEndpointRow{}, err
	}
	r := webhookEndpointRow{
		AccountID: e.AccountID, ID: e.ID, SubaccountID: e.SubaccountID, URL: e.URL, Description: e.Description,
		EventTypes: string(types), Disabled: e.Disabled, DisabledReason: e.DisabledReason, Secret: e.Secret,
		Version: e.Version, CreatedAt: e.CreatedAt.UTC(), UpdatedAt: e.UpdatedAt.UTC(),
	}
	if e.FailingSince != nil {
		at := e.FailingSince.UTC()
		r.FailingSince = &at
	}
	if e.PreviousSecretExpiresAt != nil {
		prev, at := e.PreviousSecret, e.PreviousSecretExpiresAt.UTC()
		r.PreviousSecret, r.PreviousSecretExpiresAt = &prev, &at
	}
	return r, nil
}

func (r webhookEndpointRow) toDomain() (subaccounts.WebhookEndpoint, error) {
	e := subaccounts.WebhookEndpoint{
		AccountID: r.AccountID, ID: r.ID, SubaccountID: r.SubaccountID, URL: r.URL, Description: r.Description,
		Disabled: r.Disabled, DisabledReason: r.DisabledReason, Secret: r.Secret,
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.FailingSince != nil {
		at := r.FailingSince.UTC()
		e.FailingSince = &at
	}
	if err := json.Unmarshal([]byte(r.EventTypes), &e.EventTypes); err != nil {
		return subaccounts.WebhookEndpoint{}, fmt.Errorf("webhook endpoint %s: event types: %w", r.ID, err)
	}
	if r.PreviousSecret != nil && r.PreviousSecretExpiresAt != nil {
		at := r.PreviousSecretExpiresAt.UTC()
		e.PreviousSecret, e.PreviousSecretExpiresAt = *r.PreviousSecret, &at
	}
	return e, nil
}

// CreateWebhookEndpoint inserts an endpoint.
func (q queries) CreateWebhookEndpoint(ctx context.Context, e subaccounts.WebhookEndpoint) error {
	row, err := toWebhookEndpointRow(e)
	if err != nil {
		return err
	}
	return translate(q.with(ctx).Create(&row).Error)
}

// GetWebhookEndpoint returns one endpoint of the account.
func (q queries) GetWebhookEndpoint(ctx context.Context, accountID, id uuid.UUID) (subaccounts.WebhookEndpoint, error) {
	var row webhookEndpointRow
	if err := q.with(ctx).Where("account_id = ? AND id = ?", accountID, id).Take(&row).Error; err != nil {
		return subaccounts.WebhookEndpoint{}, notFound("webhook endpoint", err)
	}
	return row.toDomain()
}

// ListWebhookEndpoints returns one page of the account's endpoints in id order.
func (q queries) ListWebhookEndpoints(ctx context.Context, accountID uuid.UUID, f subaccounts.WebhookEndpointFilter, p subaccounts.Page) ([]subaccounts.WebhookEndpoint, error) {
	db := q.with(ctx).Where("account_id = ?", accountID).Order("id").Limit(p.Limit)
	if f.SubaccountID != nil {
		db = db.Where("subaccount_id = ?", *f.SubaccountID)
	}
	if p.After != uuid.Nil {
		db = db.Where("id > ?", p.After)
	}
	var rows []webhookEndpointRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return endpointsFrom(rows)
}

// endpointsFrom converts endpoint rows.
func endpointsFrom(rows []webhookEndpointRow) ([]subaccounts.WebhookEndpoint, error) {
	out := make([]subaccounts.WebhookEndpoint, len(rows))
	for i, r := range rows {
		e, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

// CountWebhookEndpoints counts the account's endpoints.
func (q queries) CountWebhookEndpoints(ctx context.Context, accountID uuid.UUID) (int, error) {
	var n int64
	err := q.with(ctx).Model(&webhookEndpointRow{}).Where("account_id = ?", accountID).Count(&n).Error
	return int(n), translate(err)
}

// UpdateWebhookEndpoint writes every field of an existing endpoint but its creation time.
func (q queries) UpdateWebhookEndpoint(ctx context.Context, e subaccounts.WebhookEndpoint) error {
	row, err := toWebhookEndpointRow(e)
	if err != nil {
		return err
	}
	res := q.with(ctx).Model(&webhookEndpointRow{}).Where("account_id = ? AND id = ?", e.AccountID, e.ID).Updates(map[string]any{
		"subaccount_id": row.SubaccountID, "url": row.URL, "description": row.Description, "event_types": row.EventTypes,
		"disabled": row.Disabled, "disabled_reason": row.DisabledReason, "secret": row.Secret,
		"previous_secret": row.PreviousSecret, "previous_secret_expires_at": row.PreviousSecretExpiresAt,
		"failing_since": row.FailingSince, "version": row.Version, "updated_at": row.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("webhook endpoint")
	}
	return nil
}

// DeleteWebhookEndpoint deletes one endpoint of the account with its deliveries (and
// their attempts): on PostgreSQL no foreign key cascades it (see migration 00012), so it
// must run in the caller's transaction to go as a whole.
func (q queries) DeleteWebhookEndpoint(ctx context.Context, accountID, id uuid.UUID) error {
	if err := q.with(ctx).Where("account_id = ? AND endpoint_id = ?", accountID, id).Delete(&deliveryRow{}).Error; err != nil {
		return translate(err)
	}
	res := q.with(ctx).Where("account_id = ? AND id = ?", accountID, id).Delete(&webhookEndpointRow{})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("webhook endpoint")
	}
	return nil
}
