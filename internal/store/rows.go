package store

import (
	"encoding/json"
	"fmt"
	"strings"
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

type signingKeyRow struct {
	KID        string    `gorm:"column:kid;primaryKey"`
	Algorithm  string    `gorm:"column:algorithm"`
	PrivateKey string    `gorm:"column:private_key"`
	CreatedAt  time.Time `gorm:"column:created_at"`
	// ActivatesAt is NULL for keys of earlier releases: they signed from CreatedAt.
	ActivatesAt *time.Time `gorm:"column:activates_at"`
}

func (signingKeyRow) TableName() string { return "signing_keys" }

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

func nonNilConfigs(c []policy.Configuration) []policy.Configuration {
	if c == nil {
		return []policy.Configuration{}
	}
	return c
}
