package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

type subaccountRow struct {
	AccountID      uuid.UUID `gorm:"column:account_id;primaryKey"`
	ID             uuid.UUID `gorm:"column:id;primaryKey"`
	Name           string    `gorm:"column:name"`
	Configurations string    `gorm:"column:configurations"`
	ConfigVersion  int64     `gorm:"column:config_version"`
	Metadata       string    `gorm:"column:metadata"`
	Suspended      bool      `gorm:"column:suspended"`
	// Cost controls.
	UsePrimaryBalance  bool       `gorm:"column:use_primary_balance"`
	Balance            int64      `gorm:"column:balance"`
	CreditLimit        int64      `gorm:"column:credit_limit"`
	OverLimit          bool       `gorm:"column:over_limit"`
	AutoTopUpThreshold int64      `gorm:"column:auto_top_up_threshold"`
	AutoTopUpAmount    int64      `gorm:"column:auto_top_up_amount"`
	MaxCards           int        `gorm:"column:max_cards"`
	Version            int64      `gorm:"column:version"`
	CreatedAt          time.Time  `gorm:"column:created_at"`
	UpdatedAt          time.Time  `gorm:"column:updated_at"`
	DeletedAt          *time.Time `gorm:"column:deleted_at"`
}

func (subaccountRow) TableName() string { return "subaccounts" }

type entitlementRow struct {
	AccountID    uuid.UUID `gorm:"column:account_id;primaryKey"`
	SubaccountID uuid.UUID `gorm:"column:subaccount_id;primaryKey"`
	Country      string    `gorm:"column:country;primaryKey"`
	Network      string    `gorm:"column:network;primaryKey"`
}

func (entitlementRow) TableName() string { return "subaccount_entitlements" }

func toSubaccountRow(s subaccounts.Subaccount) (subaccountRow, error) {
	cfg, err := json.Marshal(nonNilConfigs(s.Configurations))
	if err != nil {
		return subaccountRow{}, err
	}
	md := s.Metadata
	if md == nil {
		md = map[string]string{}
	}
	meta, err := json.Marshal(md)
	if err != nil {
		return subaccountRow{}, err
	}
	return subaccountRow{
		AccountID:          s.AccountID,
		ID:                 s.ID,
		Name:               s.Name,
		Configurations:     string(cfg),
		ConfigVersion:      s.ConfigVersion,
		Metadata:           string(meta),
		Suspended:          s.Suspended,
		UsePrimaryBalance:  s.UsePrimaryBalance,
		Balance:            s.Balance,
		CreditLimit:        s.CreditLimit,
		OverLimit:          s.OverLimit,
		AutoTopUpThreshold: s.AutoTopUp.Threshold,
		AutoTopUpAmount:    s.AutoTopUp.Amount,
		MaxCards:           s.MaxCards,
		Version:            s.Version,
		CreatedAt:          s.CreatedAt.UTC(),
		UpdatedAt:          s.UpdatedAt.UTC(),
	}, nil
}

func (r subaccountRow) toDomain() (subaccounts.Subaccount, error) {
	var cfg []policy.Configuration
	if err := json.Unmarshal([]byte(r.Configurations), &cfg); err != nil {
		return subaccounts.Subaccount{}, fmt.Errorf("subaccount %s: configurations: %w", r.ID, err)
	}
	md := map[string]string{}
	if err := json.Unmarshal([]byte(r.Metadata), &md); err != nil {
		return subaccounts.Subaccount{}, fmt.Errorf("subaccount %s: metadata: %w", r.ID, err)
	}
	return subaccounts.Subaccount{
		ID:                r.ID,
		AccountID:         r.AccountID,
		Name:              r.Name,
		Configurations:    nonNilConfigs(cfg),
		ConfigVersion:     r.ConfigVersion,
		Metadata:          md,
		Suspended:         r.Suspended,
		UsePrimaryBalance: r.UsePrimaryBalance,
		Balance:           r.Balance,
		CreditLimit:       r.CreditLimit,
		OverLimit:         r.OverLimit,
		AutoTopUp:         subaccounts.AutoTopUp{Threshold: r.AutoTopUpThreshold, Amount: r.AutoTopUpAmount},
		MaxCards:          r.MaxCards,
		Version:           r.Version,
		CreatedAt:         r.CreatedAt.UTC(),
		UpdatedAt:         r.UpdatedAt.UTC(),
	}, nil
}

func toEntitlementRows(accountID, subaccountID uuid.UUID, pairs []policy.Pair) []entitlementRow {
	rows := make([]entitlementRow, len(pairs))
	for i, p := range pairs {
		rows[i] = entitlementRow{AccountID: accountID, SubaccountID: subaccountID, Country: p.Country, Network: p.Network.String()}
	}
	return rows
}

func nonNilConfigs(c []policy.Configuration) []policy.Configuration {
	if c == nil {
		return []policy.Configuration{}
	}
	return c
}

// CreateSubaccount inserts a subaccount and the entitlement rows of pairs, the
// (country, network) pairs its configurations permit.
func (q queries) CreateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error {
	row, err := toSubaccountRow(s)
	if err != nil {
		return err
	}
	if err := q.with(ctx).Create(&row).Error; err != nil {
		return translate(err)
	}
	return q.insertEntitlements(ctx, s.AccountID, s.ID, pairs)
}

func (q queries) insertEntitlements(ctx context.Context, accountID, id uuid.UUID, pairs []policy.Pair) error {
	if len(pairs) == 0 {
		return nil
	}
	rows := toEntitlementRows(accountID, id, pairs)
	return translate(q.with(ctx).CreateInBatches(rows, 200).Error)
}

func (q queries) live(ctx context.Context, accountID uuid.UUID) *gorm.DB {
	return q.with(ctx).Model(&subaccountRow{}).Where("account_id = ? AND deleted_at IS NULL", accountID)
}

// GetSubaccount returns a live (not deleted) subaccount of the account;
// subaccounts.NotFound("subaccount") when there is none.
func (q queries) GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	var row subaccountRow
	if err := q.live(ctx, accountID).Where("id = ?", id).Take(&row).Error; err != nil {
		return subaccounts.Subaccount{}, notFound("subaccount", err)
	}
	return row.toDomain()
}

// ListSubaccounts returns one page of the account's live subaccounts matching f, in id
// order.
func (q queries) ListSubaccounts(ctx context.Context, accountID uuid.UUID, f subaccounts.SubaccountFilter, p subaccounts.Page) ([]subaccounts.Subaccount, error) {
	db := q.live(ctx, accountID).Order("id").Limit(p.Limit)
	if p.After != uuid.Nil {
		db = db.Where("id > ?", p.After)
	}
	if f.Only != nil {
		db = db.Where("id = ?", *f.Only)
	}
	if f.NamePrefix != "" {
		// substr compares characters exactly on both databases, unlike LIKE, whose case
		// sensitivity differs between them and which would need escaping of % and _.
		db = db.Where("substr(name, 1, ?) = ?", len([]rune(f.NamePrefix)), f.NamePrefix)
	}
	if f.Country != "" || f.Network != "" {
		sub := q.with(ctx).Model(&entitlementRow{}).Select("1").
			Where("subaccount_entitlements.account_id = subaccounts.account_id AND subaccount_entitlements.subaccount_id = subaccounts.id")
		if f.Country != "" {
			sub = sub.Where("subaccount_entitlements.country = ?", f.Country)
		}
		if f.Network != "" {
			sub = sub.Where("subaccount_entitlements.network = ?", f.Network)
		}
		db = db.Where("EXISTS (?)", sub)
	}
	var rows []subaccountRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return subaccountsOf(rows)
}

func subaccountsOf(rows []subaccountRow) ([]subaccounts.Subaccount, error) {
	out := make([]subaccounts.Subaccount, 0, len(rows))
	for _, r := range rows {
		s, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// AllSubaccounts returns every live subaccount of the account, in id order.
func (q queries) AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error) {
	var rows []subaccountRow
	if err := q.live(ctx, accountID).Order("id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return subaccountsOf(rows)
}

// CountSubaccounts counts the account's live subaccounts.
func (q queries) CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error) {
	var n int64
	if err := q.live(ctx, accountID).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}

// UpdateSubaccount writes s; pairs, when non-nil, replaces its entitlement rows.
// subaccounts.NotFound("subaccount") when the account has no such live subaccount.
func (q queries) UpdateSubaccount(ctx context.Context, s subaccounts.Subaccount, pairs []policy.Pair) error {
	row, err := toSubaccountRow(s)
	if err != nil {
		return err
	}
	res := q.live(ctx, s.AccountID).Where("id = ?", s.ID).Updates(map[string]any{
		"name":                  row.Name,
		"configurations":        row.Configurations,
		"config_version":        row.ConfigVersion,
		"metadata":              row.Metadata,
		"suspended":             row.Suspended,
		"use_primary_balance":   row.UsePrimaryBalance,
		"balance":               row.Balance,
		"credit_limit":          row.CreditLimit,
		"over_limit":            row.OverLimit,
		"auto_top_up_threshold": row.AutoTopUpThreshold,
		"auto_top_up_amount":    row.AutoTopUpAmount,
		"max_cards":             row.MaxCards,
		"version":               row.Version,
		"updated_at":            row.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("subaccount")
	}
	if pairs == nil {
		return nil
	}
	if err := q.with(ctx).Where("account_id = ? AND subaccount_id = ?", s.AccountID, s.ID).Delete(&entitlementRow{}).Error; err != nil {
		return translate(err)
	}
	return q.insertEntitlements(ctx, s.AccountID, s.ID, pairs)
}

// DeleteSubaccount marks a live subaccount deleted, deletes its entitlement rows and
// revokes the clients confined to it.
func (q queries) DeleteSubaccount(ctx context.Context, accountID, id uuid.UUID) error {
	now := subaccounts.Now()
	res := q.live(ctx, accountID).Where("id = ?", id).Updates(map[string]any{"deleted_at": now, "updated_at": now})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("subaccount")
	}
	if err := q.with(ctx).Where("account_id = ? AND subaccount_id = ?", accountID, id).Delete(&entitlementRow{}).Error; err != nil {
		return translate(err)
	}
	err := q.with(ctx).Model(&clientRow{}).
		Where("account_id = ? AND subaccount_id = ? AND revoked_at IS NULL", accountID, id).
		Update("revoked_at", now).Error
	return translate(err)
}
