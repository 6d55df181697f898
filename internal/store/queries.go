package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// queries holds the pool; every method binds its statements with with(ctx), so it runs
// in the transaction ctx carries (see Transact) or, without one, on the pool. Every
// tenant query filters on account_id first.
type queries struct {
	db      *gorm.DB
	dialect string
}

// with binds ctx to the transaction it carries, or to the pool.
func (q queries) with(ctx context.Context) *gorm.DB {
	if a := q.ambientOf(ctx); a != nil {
		return a.tx.WithContext(ctx)
	}
	return q.db.WithContext(ctx)
}

// inTransaction reports whether statements made with ctx run in a transaction; row locks
// only mean something there.
func (q queries) inTransaction(ctx context.Context) bool { return q.ambientOf(ctx) != nil }

// timeOrder is an ORDER BY term sorting a timestamp column (a fixed column name, never
// user input) in time order. SQLite holds times as RFC 3339 text with trailing zeros
// trimmed, which does not sort as text, so there it goes through a fixed-width form.
func (q queries) timeOrder(column string, desc bool) string {
	term := column
	if q.dialect == "sqlite" {
		term = "strftime('%Y-%m-%dT%H:%M:%f', " + column + ")"
	}
	if desc {
		term += " DESC"
	}
	return term
}

func (q queries) CreateAccount(ctx context.Context, a subaccounts.Account) error {
	row, err := toAccountRow(a)
	if err != nil {
		return err
	}
	return translate(q.with(ctx).Create(&row).Error)
}

func (q queries) GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error) {
	db := q.with(ctx)
	// SQLite has no row locks; its immediate transactions already hold the write lock.
	if lock && q.inTransaction(ctx) && q.dialect == "postgres" {
		db = db.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row accountRow
	if err := db.Where("account_id = ?", id).Take(&row).Error; err != nil {
		return subaccounts.Account{}, notFound("account", err)
	}
	return row.toDomain()
}

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

func (q queries) GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	var row subaccountRow
	if err := q.live(ctx, accountID).Where("id = ?", id).Take(&row).Error; err != nil {
		return subaccounts.Subaccount{}, notFound("subaccount", err)
	}
	return row.toDomain()
}

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

func (q queries) AllSubaccounts(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Subaccount, error) {
	var rows []subaccountRow
	if err := q.live(ctx, accountID).Order("id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return subaccountsOf(rows)
}

func (q queries) CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error) {
	var n int64
	if err := q.live(ctx, accountID).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return int(n), nil
}

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

func (q queries) CreateClient(ctx context.Context, c subaccounts.Client) error {
	row := toClientRow(c)
	return translate(q.with(ctx).Create(&row).Error)
}

func (q queries) GetClient(ctx context.Context, clientID string) (subaccounts.Client, error) {
	var row clientRow
	if err := q.with(ctx).Where("client_id = ? AND revoked_at IS NULL", clientID).Take(&row).Error; err != nil {
		return subaccounts.Client{}, notFound("client", err)
	}
	return row.toDomain(), nil
}

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

func (q queries) OperatorClientExists(ctx context.Context) (bool, error) {
	var n int64
	err := q.with(ctx).Model(&clientRow{}).Where("account_id IS NULL AND revoked_at IS NULL").Count(&n).Error
	return n > 0, translate(err)
}

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

func (q queries) LockSigningKeys(ctx context.Context) error {
	// SQLite's immediate transactions already hold the database's write lock.
	if q.dialect != "postgres" || !q.inTransaction(ctx) {
		return nil
	}
	return translate(q.with(ctx).Exec("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE").Error)
}

func (q queries) SigningKeys(ctx context.Context) ([]subaccounts.SigningKey, error) {
	var rows []signingKeyRow
	if err := q.with(ctx).Order(q.timeOrder("created_at", true) + ", kid").Find(&rows).Error; err != nil {
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

func (q queries) CreateSigningKey(ctx context.Context, k subaccounts.SigningKey) error {
	row := signingKeyRow{KID: k.KID, Algorithm: k.Algorithm, PrivateKey: k.PrivateKey, CreatedAt: k.CreatedAt.UTC()}
	if !k.ActivatesAt.IsZero() {
		at := k.ActivatesAt.UTC()
		row.ActivatesAt = &at
	}
	return translate(q.with(ctx).Create(&row).Error)
}

func notFound(kind string, err error) error {
	if err = translate(err); err == subaccounts.ErrNotFound {
		return subaccounts.NotFound(kind)
	}
	return err
}

func (q queries) UpdateSigningKey(ctx context.Context, kid, privateKey string) error {
	return translate(q.with(ctx).Model(&signingKeyRow{}).Where("kid = ?", kid).Update("private_key", privateKey).Error)
}
