package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"

	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type idempotencyKeyRow struct {
	AccountID   uuid.UUID `gorm:"column:account_id;primaryKey"`
	Key         string    `gorm:"column:key;primaryKey"`
	Method      string    `gorm:"column:method"`
	Path        string    `gorm:"column:path"`
	RequestHash string    `gorm:"column:request_hash"`
	Status      int       `gorm:"column:status"`
	ContentType string    `gorm:"column:content_type"`
	Location    string    `gorm:"column:location"`
	ETag        string    `gorm:"column:etag"`
	// ResponseBody is the sealed body in base64: a text column reads back the same on
	// both databases.
	ResponseBody string    `gorm:"column:response_body"`
	CreatedAt    time.Time `gorm:"column:created_at"`
}

func (idempotencyKeyRow) TableName() string { return "idempotency_keys" }

func toIdempotencyKeyRow(r idempotency.Record) idempotencyKeyRow {
	return idempotencyKeyRow{
		AccountID: r.AccountID, Key: r.Key, Method: r.Method, Path: r.Path, RequestHash: r.RequestHash,
		Status: r.Status, ContentType: r.ContentType, Location: r.Location, ETag: r.ETag,
		ResponseBody: base64.StdEncoding.EncodeToString(r.SealedBody), CreatedAt: r.CreatedAt.UTC(),
	}
}

func (r idempotencyKeyRow) toDomain() (idempotency.Record, error) {
	body, err := base64.StdEncoding.DecodeString(r.ResponseBody)
	if err != nil {
		return idempotency.Record{}, fmt.Errorf("idempotency key row: response body: %w", err)
	}
	return idempotency.Record{
		AccountID: r.AccountID, Key: r.Key, Method: r.Method, Path: r.Path, RequestHash: r.RequestHash,
		Status: r.Status, ContentType: r.ContentType, Location: r.Location, ETag: r.ETag,
		SealedBody: body, CreatedAt: r.CreatedAt.UTC(),
	}, nil
}

func (q queries) ClaimIdempotencyKey(ctx context.Context, r idempotency.Record) (bool, error) {
	row := toIdempotencyKeyRow(r)
	res := q.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return false, translate(res.Error)
	}
	return res.RowsAffected == 1, nil
}

func (q queries) CompleteIdempotencyKey(ctx context.Context, r idempotency.Record) error {
	row := toIdempotencyKeyRow(r)
	res := q.with(ctx).Model(&idempotencyKeyRow{}).Where("account_id = ? AND key = ?", r.AccountID, r.Key).Updates(map[string]any{
		"status":        row.Status,
		"content_type":  row.ContentType,
		"location":      row.Location,
		"etag":          row.ETag,
		"response_body": row.ResponseBody,
	})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("idempotency key")
	}
	return nil
}

func (q queries) GetIdempotencyKey(ctx context.Context, accountID uuid.UUID, key string) (idempotency.Record, error) {
	var row idempotencyKeyRow
	if err := q.with(ctx).Where("account_id = ? AND key = ?", accountID, key).Take(&row).Error; err != nil {
		return idempotency.Record{}, notFound("idempotency key", err)
	}
	return row.toDomain()
}

func (q queries) DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error) {
	res := q.d.timeBefore(q.with(ctx), "created_at", t).Delete(&idempotencyKeyRow{})
	return res.RowsAffected, translate(res.Error)
}
