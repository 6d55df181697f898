package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// ledgerEntryRow is the ledger_entries table: the append-only double-entry journal.
type ledgerEntryRow struct {
	AccountID    uuid.UUID  `gorm:"column:account_id;primaryKey"`
	ID           uuid.UUID  `gorm:"column:id;primaryKey"`
	Kind         string     `gorm:"column:kind"`
	Ledger       string     `gorm:"column:ledger"`
	FromParty    string     `gorm:"column:from_party"`
	ToParty      string     `gorm:"column:to_party"`
	Amount       int64      `gorm:"column:amount"`
	SubaccountID *uuid.UUID `gorm:"column:subaccount_id"`
	Reference    string     `gorm:"column:reference"`
	ChargeType   *string    `gorm:"column:charge_type"`
	SubjectID    *uuid.UUID `gorm:"column:subject_id"`
	CreatedAt    time.Time  `gorm:"column:created_at"`
}

func (ledgerEntryRow) TableName() string { return "ledger_entries" }

func toLedgerEntryRow(e subaccounts.Entry) ledgerEntryRow {
	return ledgerEntryRow{
		AccountID: e.AccountID, ID: e.ID, Kind: string(e.Kind), Ledger: string(e.Ledger),
		FromParty: e.From, ToParty: e.To, Amount: e.Amount, SubaccountID: e.SubaccountID,
		Reference: e.Reference, ChargeType: ptrTo(string(e.ChargeType)), SubjectID: e.SubjectID,
		CreatedAt: e.CreatedAt.UTC(),
	}
}

func (r ledgerEntryRow) toDomain() subaccounts.Entry {
	return subaccounts.Entry{
		ID: r.ID, AccountID: r.AccountID, Kind: subaccounts.EntryKind(r.Kind), Ledger: subaccounts.LedgerName(r.Ledger),
		From: r.FromParty, To: r.ToParty, Amount: r.Amount, SubaccountID: r.SubaccountID,
		Reference: r.Reference, ChargeType: subaccounts.ChargeType(deref(r.ChargeType)), SubjectID: r.SubjectID,
		CreatedAt: r.CreatedAt.UTC(),
	}
}

// InsertLedgerEntries appends journal entries, in batches; the journal is never updated.
func (q queries) InsertLedgerEntries(ctx context.Context, entries []subaccounts.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	rows := make([]ledgerEntryRow, len(entries))
	for i, e := range entries {
		rows[i] = toLedgerEntryRow(e)
	}
	return translate(q.with(ctx).CreateInBatches(rows, 500).Error)
}

// ListLedgerEntries returns one page of the account's entries matching f, in id
// (creation) order.
func (q queries) ListLedgerEntries(ctx context.Context, accountID uuid.UUID, f subaccounts.EntryFilter, p subaccounts.Page) ([]subaccounts.Entry, error) {
	db := q.with(ctx).Where("account_id = ?", accountID)
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		db = db.Where("kind IN ?", kinds)
	}
	if f.SubaccountID != nil {
		db = db.Where("subaccount_id = ?", *f.SubaccountID)
	}
	if !f.From.IsZero() {
		db = q.d.timeAfter(db, "created_at", f.From)
	}
	if !f.To.IsZero() {
		db = q.d.timeBefore(db, "created_at", f.To)
	}
	if p.After != uuid.Nil {
		db = db.Where("id > ?", p.After)
	}
	var rows []ledgerEntryRow
	if err := db.Order("id").Limit(p.Limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.Entry, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// HasLedgerEntries reports whether the account's journal holds any entry.
func (q queries) HasLedgerEntries(ctx context.Context, accountID uuid.UUID) (bool, error) {
	var n int64
	err := q.with(ctx).Model(&ledgerEntryRow{}).Where("account_id = ?", accountID).Limit(1).Count(&n).Error
	return n > 0, translate(err)
}

type positionRow struct {
	Party  string `gorm:"column:party"`
	Ledger string `gorm:"column:ledger"`
	Amount int64  `gorm:"column:amount"`
}

// LedgerPositions sums the account's journal per party and ledger, in the database.
func (q queries) LedgerPositions(ctx context.Context, accountID uuid.UUID) ([]subaccounts.Position, error) {
	var rows []positionRow
	err := q.with(ctx).Raw(`
		SELECT party, ledger, SUM(amount) AS amount FROM (
			SELECT to_party AS party, ledger, amount FROM ledger_entries WHERE account_id = ?
			UNION ALL
			SELECT from_party AS party, ledger, -amount AS amount FROM ledger_entries WHERE account_id = ?
		) AS moves GROUP BY party, ledger ORDER BY party, ledger`, accountID, accountID).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.Position, len(rows))
	for i, r := range rows {
		out[i] = subaccounts.Position{Party: r.Party, Ledger: subaccounts.LedgerName(r.Ledger), Amount: r.Amount}
	}
	return out, nil
}

type usageCountRow struct {
	SubaccountID uuid.UUID `gorm:"column:subaccount_id"`
	Key          string    `gorm:"column:k"`
	N            int64     `gorm:"column:n"`
	Total        int64     `gorm:"column:total"`
}

// Usage answers with four aggregations, each one GROUP BY in the database.
func (q queries) Usage(ctx context.Context, accountID uuid.UUID, ids []uuid.UUID, from, to time.Time) ([]subaccounts.UsageCounts, error) {
	byID := make(map[uuid.UUID]*subaccounts.UsageCounts, len(ids))
	out := make([]subaccounts.UsageCounts, len(ids))
	for i, id := range ids {
		out[i] = subaccounts.UsageCounts{SubaccountID: id, Transactions: []subaccounts.CurrencyVolume{}, Charges: map[subaccounts.ChargeType]int64{}}
		byID[id] = &out[i]
	}
	if len(ids) == 0 {
		return out, nil
	}
	window := func(db *gorm.DB, column string) *gorm.DB {
		return q.d.timeBefore(q.d.timeAfter(db, column, from), column, to)
	}
	scan := func(what string, db *gorm.DB, apply func(u *subaccounts.UsageCounts, r usageCountRow)) error {
		var rows []usageCountRow
		if err := db.Scan(&rows).Error; err != nil {
			return fmt.Errorf("usage: %s: %w", what, translate(err))
		}
		for _, r := range rows {
			if u, ok := byID[r.SubaccountID]; ok {
				apply(u, r)
			}
		}
		return nil
	}
	enrolledIn := "COALESCE(enrolled_subaccount_id, subaccount_id)"
	err := scan("enrolments", window(q.with(ctx).Model(&cardRow{}).
		Select(enrolledIn+" AS subaccount_id, '' AS k, count(*) AS n, 0 AS total").
		Where("account_id = ? AND "+enrolledIn+" IN ?", accountID, ids), "created_at").
		Group(enrolledIn),
		func(u *subaccounts.UsageCounts, r usageCountRow) { u.Enrolments = r.N })
	if err != nil {
		return nil, err
	}
	err = scan("active cards", q.with(ctx).Model(&cardRow{}).
		Select("subaccount_id, '' AS k, count(*) AS n, 0 AS total").
		Where("account_id = ? AND status = 'active' AND subaccount_id IN ?", accountID, ids).
		Group("subaccount_id"),
		func(u *subaccounts.UsageCounts, r usageCountRow) { u.ActiveCards = r.N })
	if err != nil {
		return nil, err
	}
	err = scan("transactions", window(q.with(ctx).Model(&transactionRow{}).
		Select("subaccount_id, currency AS k, count(*) AS n, COALESCE(SUM(amount), 0) AS total").
		Where("account_id = ? AND routing = 'routed' AND subaccount_id IN ?", accountID, ids), "datetime").
		Group("subaccount_id, currency"),
		func(u *subaccounts.UsageCounts, r usageCountRow) {
			u.Transactions = append(u.Transactions, subaccounts.CurrencyVolume{Currency: r.Key, Count: r.N, Volume: r.Total})
		})
	if err != nil {
		return nil, err
	}
	err = scan("charges", window(q.with(ctx).Model(&ledgerEntryRow{}).
		Select("subaccount_id, charge_type AS k, count(*) AS n, SUM(amount) AS total").
		Where("account_id = ? AND kind = 'charge' AND subaccount_id IN ?", accountID, ids), "created_at").
		Group("subaccount_id, charge_type"),
		func(u *subaccounts.UsageCounts, r usageCountRow) { u.Charges[subaccounts.ChargeType(r.Key)] = r.Total })
	if err != nil {
		return nil, err
	}
	for i := range out {
		slices.SortFunc(out[i].Transactions, func(a, b subaccounts.CurrencyVolume) int {
			if a.Currency < b.Currency {
				return -1
			}
			if a.Currency > b.Currency {
				return 1
			}
			return 0
		})
	}
	return out, nil
}
