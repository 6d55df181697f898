package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// accountRow is the accounts table. JSON columns are carried as strings so one row type
// serves both jsonb (PostgreSQL) and text (SQLite).
type accountRow struct {
	AccountID              uuid.UUID `gorm:"column:account_id;primaryKey"`
	Name                   string    `gorm:"column:name"`
	ContractConfigurations string    `gorm:"column:contract_configurations"`
	MaxSubaccounts         int       `gorm:"column:max_subaccounts"`
	ContractVersion        int64     `gorm:"column:contract_version"`
	Currency               string    `gorm:"column:currency"`
	PriceCardEnrolment     int64     `gorm:"column:price_card_enrolment"`
	PriceTransaction       int64     `gorm:"column:price_transaction"`
	Balance                int64     `gorm:"column:balance"`
	CreditLimit            int64     `gorm:"column:credit_limit"`
	AllocatedCredit        int64     `gorm:"column:allocated_credit"`
	OverLimit              bool      `gorm:"column:over_limit"`
	Version                int64     `gorm:"column:version"`
	CreatedAt              time.Time `gorm:"column:created_at"`
	UpdatedAt              time.Time `gorm:"column:updated_at"`
}

func (accountRow) TableName() string { return "accounts" }

func toAccountRow(a subaccounts.Account) (accountRow, error) {
	cfg, err := json.Marshal(nonNilConfigs(a.Contract.Configurations))
	if err != nil {
		return accountRow{}, err
	}
	return accountRow{
		AccountID:              a.ID,
		Name:                   a.Name,
		ContractConfigurations: string(cfg),
		MaxSubaccounts:         a.Contract.MaxSubaccounts,
		ContractVersion:        a.Contract.Version,
		Currency:               a.Contract.Currency,
		PriceCardEnrolment:     a.Contract.Pricing.CardEnrolment,
		PriceTransaction:       a.Contract.Pricing.Transaction,
		Balance:                a.Balance,
		CreditLimit:            a.CreditLimit,
		AllocatedCredit:        a.AllocatedCredit,
		OverLimit:              a.OverLimit,
		Version:                a.Version,
		CreatedAt:              a.CreatedAt.UTC(),
		UpdatedAt:              a.UpdatedAt.UTC(),
	}, nil
}

func (r accountRow) toDomain() (subaccounts.Account, error) {
	var cfg []policy.Configuration
	if err := json.Unmarshal([]byte(r.ContractConfigurations), &cfg); err != nil {
		return subaccounts.Account{}, fmt.Errorf("account %s: contract: %w", r.AccountID, err)
	}
	return subaccounts.Account{
		ID:   r.AccountID,
		Name: r.Name,
		Contract: subaccounts.Contract{
			Configurations: nonNilConfigs(cfg),
			MaxSubaccounts: r.MaxSubaccounts,
			Version:        r.ContractVersion,
			Currency:       r.Currency,
			Pricing:        subaccounts.Pricing{CardEnrolment: r.PriceCardEnrolment, Transaction: r.PriceTransaction},
		},
		Balance:         r.Balance,
		CreditLimit:     r.CreditLimit,
		AllocatedCredit: r.AllocatedCredit,
		OverLimit:       r.OverLimit,
		Version:         r.Version,
		CreatedAt:       r.CreatedAt.UTC(),
		UpdatedAt:       r.UpdatedAt.UTC(),
	}, nil
}

// CreateAccount inserts an account; ErrConflict when its id is taken.
func (q queries) CreateAccount(ctx context.Context, a subaccounts.Account) error {
	row, err := toAccountRow(a)
	if err != nil {
		return err
	}
	return translate(q.with(ctx).Create(&row).Error)
}

// GetAccount returns the account (subaccounts.NotFound("account") when there is none);
// lock takes its row lock for the rest of the transaction ctx carries, which serialises
// every writer of the account. Outside a transaction, and on SQLite, lock changes nothing.
func (q queries) GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error) {
	db := q.with(ctx)
	if lock && q.inTransaction(ctx) {
		db = q.d.forUpdate(db)
	}
	var row accountRow
	if err := db.Where("account_id = ?", id).Take(&row).Error; err != nil {
		return subaccounts.Account{}, notFound("account", err)
	}
	return row.toDomain()
}

// ListAccounts returns one page of accounts in id order. The accounts table is the
// tenants themselves, so it is the one list with no account to filter on.
func (q queries) ListAccounts(ctx context.Context, p subaccounts.Page) ([]subaccounts.Account, error) {
	var rows []accountRow
	db := q.with(ctx).Order("account_id").Limit(p.Limit)
	if p.After != uuid.Nil {
		db = db.Where("account_id > ?", p.After)
	}
	if err := db.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.Account, 0, len(rows))
	for _, r := range rows {
		a, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// UpdateAccount writes a's name, contract, prices, money and version;
// subaccounts.NotFound("account") when there is no such account.
func (q queries) UpdateAccount(ctx context.Context, a subaccounts.Account) error {
	row, err := toAccountRow(a)
	if err != nil {
		return err
	}
	res := q.with(ctx).Model(&accountRow{}).Where("account_id = ?", a.ID).Updates(map[string]any{
		"name":                    row.Name,
		"contract_configurations": row.ContractConfigurations,
		"max_subaccounts":         row.MaxSubaccounts,
		"contract_version":        row.ContractVersion,
		"currency":                row.Currency,
		"price_card_enrolment":    row.PriceCardEnrolment,
		"price_transaction":       row.PriceTransaction,
		"balance":                 row.Balance,
		"credit_limit":            row.CreditLimit,
		"allocated_credit":        row.AllocatedCredit,
		"over_limit":              row.OverLimit,
		"version":                 row.Version,
		"updated_at":              row.UpdatedAt,
	})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("account")
	}
	return nil
}
