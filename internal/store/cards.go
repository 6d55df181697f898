package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// cardRow is the cards table. There is no PAN column: only the first six and last four
// digits and the keyed fingerprint.
type cardRow struct {
	AccountID             uuid.UUID `gorm:"column:account_id;primaryKey"`
	ID                    uuid.UUID `gorm:"column:id;primaryKey"`
	SubaccountID          uuid.UUID `gorm:"column:subaccount_id"`
	Network               string    `gorm:"column:network"`
	CountryCode           string    `gorm:"column:country_code"`
	FirstNumbers          string    `gorm:"column:first_numbers"`
	LastNumbers           string    `gorm:"column:last_numbers"`
	ExpMonth              int       `gorm:"column:exp_month"`
	ExpYear               int       `gorm:"column:exp_year"`
	Fingerprint           []byte    `gorm:"column:fingerprint"`
	FingerprintKeyVersion int       `gorm:"column:fingerprint_key_version"`
	Status                string    `gorm:"column:status"`
	PolicyStatus          string    `gorm:"column:policy_status"`
	Metadata              string    `gorm:"column:metadata"`
	// EnrolledSubaccountID is where the card was enrolled, which usage counts by.
	EnrolledSubaccountID *uuid.UUID `gorm:"column:enrolled_subaccount_id"`
	CreatedAt            time.Time  `gorm:"column:created_at"`
	UpdatedAt            time.Time  `gorm:"column:updated_at"`
}

func (cardRow) TableName() string { return "cards" }

// cardColumns lists the cards columns in the order of cardRow.values.
const cardColumns = "account_id, id, subaccount_id, network, country_code, first_numbers, last_numbers, " +
	"exp_month, exp_year, fingerprint, fingerprint_key_version, status, policy_status, metadata, created_at, updated_at, " +
	"enrolled_subaccount_id"

func (r cardRow) values() []any {
	return []any{
		r.AccountID, r.ID, r.SubaccountID, r.Network, r.CountryCode, r.FirstNumbers, r.LastNumbers,
		r.ExpMonth, r.ExpYear, r.Fingerprint, r.FingerprintKeyVersion, r.Status, r.PolicyStatus, r.Metadata,
		r.CreatedAt, r.UpdatedAt, r.SubaccountID,
	}
}

func toCardRow(c subaccounts.Card) (cardRow, error) {
	// An empty fingerprint would be NULL on PostgreSQL but an empty blob on SQLite, and
	// would make every such card the same PAN.
	if len(c.Fingerprint) == 0 {
		return cardRow{}, fmt.Errorf("card %s: no fingerprint", c.ID)
	}
	meta, err := metadataJSON(c.Metadata)
	if err != nil {
		return cardRow{}, err
	}
	return cardRow{
		AccountID:             c.AccountID,
		ID:                    c.ID,
		SubaccountID:          c.SubaccountID,
		Network:               c.Network.String(),
		CountryCode:           c.CountryCode,
		FirstNumbers:          c.FirstNumbers,
		LastNumbers:           c.LastNumbers,
		ExpMonth:              c.ExpMonth,
		ExpYear:               c.ExpYear,
		Fingerprint:           c.Fingerprint,
		FingerprintKeyVersion: c.FingerprintKeyVersion,
		Status:                string(c.Status),
		PolicyStatus:          string(c.PolicyStatus),
		Metadata:              meta,
		CreatedAt:             c.CreatedAt.UTC(),
		UpdatedAt:             c.UpdatedAt.UTC(),
	}, nil
}

// metadataJSON is the stored form of metadata; none is stored as {}.
func metadataJSON(md map[string]string) (string, error) {
	if md == nil {
		md = map[string]string{}
	}
	b, err := json.Marshal(md)
	return string(b), err
}

func (r cardRow) toDomain() (subaccounts.Card, error) {
	network, ok := policy.ParseNetwork(r.Network)
	if !ok {
		return subaccounts.Card{}, fmt.Errorf("card %s: unknown network %q", r.ID, r.Network)
	}
	md := map[string]string{}
	if err := json.Unmarshal([]byte(r.Metadata), &md); err != nil {
		return subaccounts.Card{}, fmt.Errorf("card %s: metadata: %w", r.ID, err)
	}
	return subaccounts.Card{
		ID:                    r.ID,
		AccountID:             r.AccountID,
		SubaccountID:          r.SubaccountID,
		Network:               network,
		CountryCode:           r.CountryCode,
		FirstNumbers:          r.FirstNumbers,
		LastNumbers:           r.LastNumbers,
		ExpMonth:              r.ExpMonth,
		ExpYear:               r.ExpYear,
		Fingerprint:           r.Fingerprint,
		FingerprintKeyVersion: r.FingerprintKeyVersion,
		Status:                subaccounts.CardStatus(r.Status),
		PolicyStatus:          subaccounts.PolicyStatus(r.PolicyStatus),
		Metadata:              md,
		CreatedAt:             r.CreatedAt.UTC(),
		UpdatedAt:             r.UpdatedAt.UTC(),
	}, nil
}

func cardsOf(rows []cardRow) ([]subaccounts.Card, error) {
	out := make([]subaccounts.Card, 0, len(rows))
	for _, r := range rows {
		c, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

const (
	// insertChunk rows go into one INSERT: 500 rows of the widest table (24 columns) bind
	// 12,000 parameters, well inside PostgreSQL's 65,535 and SQLite's 32,766.
	insertChunk = 500
	// inChunk values go into one IN list.
	inChunk = 1000
)

// insertSkipping inserts rows (each the values of columns, in order) with one multi-row
// INSERT per chunk, skipping rows that conflict on conflictTarget, and returns the ids
// of the rows inserted. It does not use gorm's Create: gorm maps RETURNING values back
// onto the rows by position, which skipped rows would shift.
func (q queries) insertSkipping(ctx context.Context, table, columns, conflictTarget string, rows [][]any) ([]uuid.UUID, error) {
	ids := make([]uuid.UUID, 0, len(rows))
	for chunk := range slices.Chunk(rows, insertChunk) {
		width := len(chunk[0])
		tuple := "(" + strings.Repeat("?, ", width-1) + "?)"
		var sql strings.Builder
		sql.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
		args := make([]any, 0, len(chunk)*width)
		for i, r := range chunk {
			if len(r) != width {
				return nil, fmt.Errorf("insert into %s: rows of %d and %d values", table, width, len(r))
			}
			if i > 0 {
				sql.WriteString(", ")
			}
			sql.WriteString(tuple)
			args = append(args, r...)
		}
		sql.WriteString(" ON CONFLICT " + conflictTarget + " DO NOTHING RETURNING id")

		rs, err := q.with(ctx).Raw(sql.String(), args...).Rows()
		if err != nil {
			return nil, translate(err)
		}
		for rs.Next() {
			var id uuid.UUID
			if err := rs.Scan(&id); err != nil {
				_ = rs.Close()
				return nil, q.rowsError(err)
			}
			ids = append(ids, id)
		}
		// SQLite reports a constraint failure while the rows are read.
		if err := errors.Join(rs.Err(), rs.Close()); err != nil {
			return nil, q.rowsError(err)
		}
	}
	return ids, nil
}

// rowsError translates an error met while reading rows, which gorm's own translation of
// driver errors never sees.
func (q queries) rowsError(err error) error {
	if t, ok := q.db.Dialector.(gorm.ErrorTranslator); ok {
		err = t.Translate(err)
	}
	return translate(err)
}

// ShareSubaccount returns a live subaccount of the account and, inside a transaction
// on PostgreSQL, holds a share lock on its row until the transaction ends, so its
// configuration cannot change under an enrolment or move deciding on it.
func (q queries) ShareSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error) {
	db := q.live(ctx, accountID)
	if q.inTransaction(ctx) {
		db = q.d.forShare(db)
	}
	var row subaccountRow
	if err := db.Where("id = ?", id).Take(&row).Error; err != nil {
		return subaccounts.Subaccount{}, notFound("subaccount", err)
	}
	return row.toDomain()
}

// CreateCards inserts cards in as few statements as the bind limits allow and returns
// the ids of those inserted; a card whose fingerprint an active card of its account
// already has is skipped, not an error.
func (q queries) CreateCards(ctx context.Context, cards []subaccounts.Card) ([]uuid.UUID, error) {
	if len(cards) == 0 {
		return []uuid.UUID{}, nil
	}
	if g := q.pgGroupOf(ctx); g != nil {
		return createCardsPG(ctx, g, cards)
	}
	rows := make([][]any, len(cards))
	for i, c := range cards {
		r, err := toCardRow(c)
		if err != nil {
			return nil, err
		}
		rows[i] = r.values()
	}
	// The target is the partial unique index on active fingerprints: a card whose PAN is
	// already active in the account is skipped, while any other conflict (a reused id)
	// still fails.
	ids, err := q.insertSkipping(ctx, "cards", cardColumns, "(account_id, fingerprint) WHERE status = 'active'", rows)
	if err != nil {
		return nil, fmt.Errorf("create cards: %w", err)
	}
	return ids, nil
}

// ActiveCardsByFingerprint returns the account's active cards with these fingerprints.
func (q queries) ActiveCardsByFingerprint(ctx context.Context, accountID uuid.UUID, fingerprints [][]byte) ([]subaccounts.Card, error) {
	if g := q.pgGroupOf(ctx); g != nil {
		return activeCardsByFingerprintPG(ctx, g, accountID, fingerprints)
	}
	return cardsIn(ctx, q, accountID, "status = 'active' AND fingerprint IN ?", fingerprints)
}

// cardsIn returns the account's cards matching cond, whose one parameter is a chunk of
// values, asking in chunks so no statement exceeds the bind-parameter limits.
func cardsIn[T any](ctx context.Context, q queries, accountID uuid.UUID, cond string, values []T) ([]subaccounts.Card, error) {
	var out []subaccounts.Card
	for chunk := range slices.Chunk(values, inChunk) {
		var rows []cardRow
		if err := q.with(ctx).Where("account_id = ?", accountID).Where(cond, chunk).Order("id").Find(&rows).Error; err != nil {
			return nil, translate(err)
		}
		cards, err := cardsOf(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cards...)
	}
	return out, nil
}

// GetCard returns a card of the account, active or removed; lock takes a row lock for
// the rest of the transaction ctx carries (on PostgreSQL).
func (q queries) GetCard(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Card, error) {
	db := q.with(ctx)
	if lock && q.inTransaction(ctx) {
		db = q.d.forUpdate(db)
	}
	var row cardRow
	if err := db.Where("account_id = ? AND id = ?", accountID, id).Take(&row).Error; err != nil {
		return subaccounts.Card{}, notFound("card", err)
	}
	return row.toDomain()
}

// GetCards returns the account's cards among ids (active or removed), in no promised
// order.
func (q queries) GetCards(ctx context.Context, accountID uuid.UUID, ids []uuid.UUID) ([]subaccounts.Card, error) {
	return cardsIn(ctx, q, accountID, "id IN ?", ids)
}

// ListCards returns one page of the account's cards matching f, in id order.
func (q queries) ListCards(ctx context.Context, accountID uuid.UUID, f subaccounts.CardFilter, p subaccounts.Page) ([]subaccounts.Card, error) {
	db := q.with(ctx).Where("account_id = ?", accountID)
	if f.SubaccountID != nil {
		db = db.Where("subaccount_id = ?", *f.SubaccountID)
	}
	if f.Network != "" {
		db = db.Where("network = ?", f.Network)
	}
	if f.Country != "" {
		db = db.Where("country_code = ?", f.Country)
	}
	switch f.Status {
	case "":
	case subaccounts.CardActive:
		// The literal lets the planners use the partial indexes on active cards.
		db = db.Where("status = 'active'")
	default:
		db = db.Where("status = ?", string(f.Status))
	}
	if f.PolicyStatus != "" {
		db = db.Where("policy_status = ?", string(f.PolicyStatus))
	}
	if p.After != uuid.Nil {
		db = db.Where("id > ?", p.After)
	}
	var rows []cardRow
	if err := db.Order("id").Limit(p.Limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return cardsOf(rows)
}

// UpdateCard writes c's subaccount, status, policy status, metadata and updated_at;
// subaccounts.NotFound("card") when the account has no such card.
func (q queries) UpdateCard(ctx context.Context, c subaccounts.Card) error {
	meta, err := metadataJSON(c.Metadata)
	if err != nil {
		return err
	}
	res := q.with(ctx).Model(&cardRow{}).Where("account_id = ? AND id = ?", c.AccountID, c.ID).Updates(map[string]any{
		"subaccount_id": c.SubaccountID,
		"status":        string(c.Status),
		"policy_status": string(c.PolicyStatus),
		"metadata":      meta,
		"updated_at":    c.UpdatedAt.UTC(),
	})
	if res.Error != nil {
		return translate(res.Error)
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("card")
	}
	return nil
}

// RemoveSubaccountCards marks every active card of the subaccount removed and returns
// how many it removed.
func (q queries) RemoveSubaccountCards(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) (int64, error) {
	res := q.with(ctx).Model(&cardRow{}).
		Where("account_id = ? AND subaccount_id = ? AND status = 'active'", accountID, subaccountID).
		Updates(map[string]any{"status": string(subaccounts.CardRemoved), "updated_at": at.UTC()})
	return res.RowsAffected, translate(res.Error)
}

// CountActiveCards counts the active cards of one subaccount.
func (q queries) CountActiveCards(ctx context.Context, accountID, subaccountID uuid.UUID) (int64, error) {
	var n int64
	err := q.with(ctx).Model(&cardRow{}).
		Where("account_id = ? AND subaccount_id = ? AND status = 'active'", accountID, subaccountID).
		Count(&n).Error
	return n, translate(err)
}

// pairCountRow is one group of a GROUP BY country_code, network.
type pairCountRow struct {
	CountryCode string `gorm:"column:country_code"`
	Network     string `gorm:"column:network"`
	Cards       int64  `gorm:"column:cards"`
}

// CardPairCounts counts the subaccount's active cards by (country, network), grouped
// in the database.
func (q queries) CardPairCounts(ctx context.Context, accountID, subaccountID uuid.UUID) ([]subaccounts.PairCount, error) {
	var rows []pairCountRow
	err := q.with(ctx).Model(&cardRow{}).
		Select("country_code, network, count(*) AS cards").
		Where("account_id = ? AND subaccount_id = ? AND status = 'active'", accountID, subaccountID).
		Group("country_code, network").
		Order("country_code, network").
		Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.PairCount, len(rows))
	for i, r := range rows {
		pair, err := toPair(r.CountryCode, r.Network)
		if err != nil {
			return nil, err
		}
		out[i] = subaccounts.PairCount{Pair: pair, Cards: r.Cards}
	}
	return out, nil
}

// cardPolicy is the policy status a card's pair has under its subaccount's current
// entitlement rows, as an SQL expression over the cards row being updated.
const cardPolicy = `CASE WHEN EXISTS (
	SELECT 1 FROM subaccount_entitlements e
	WHERE e.account_id = cards.account_id AND e.subaccount_id = cards.subaccount_id
	  AND e.country = cards.country_code AND e.network = cards.network
) THEN 'in-policy' ELSE 'out-of-policy' END`

// RecomputeCardPolicy sets policy_status of the subaccount's active cards from its
// current entitlement rows and returns how many cards changed.
func (q queries) RecomputeCardPolicy(ctx context.Context, accountID, subaccountID uuid.UUID, at time.Time) ([]subaccounts.Card, error) {
	// One statement, touching only the cards whose status changes.
	var rows []cardRow
	err := q.with(ctx).Raw(
		"UPDATE cards SET policy_status = "+cardPolicy+", updated_at = ?"+
			" WHERE account_id = ? AND subaccount_id = ? AND status = 'active' AND policy_status <> "+cardPolicy+" RETURNING *",
		at.UTC(), accountID, subaccountID).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("recompute card policy: %w", translate(err))
	}
	out := make([]subaccounts.Card, len(rows))
	for i, r := range rows {
		c, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

// toPair converts a stored (country, network) pair.
func toPair(country, network string) (policy.Pair, error) {
	n, ok := policy.ParseNetwork(network)
	if !ok {
		return policy.Pair{}, fmt.Errorf("unknown network %q stored", network)
	}
	return policy.Pair{Country: country, Network: n}, nil
}
