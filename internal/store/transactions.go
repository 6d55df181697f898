package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// transactionRow is the transactions table. The routing columns are NULL while a message
// is unrouted, and card_fingerprint and unrouted_reason are NULL once it is routed (the
// table's CHECK holds both).
type transactionRow struct {
	AccountID            uuid.UUID `gorm:"column:account_id;primaryKey"`
	ID                   uuid.UUID `gorm:"column:id;primaryKey"`
	NetworkTransactionID string    `gorm:"column:network_transaction_id"`
	Type                 string    `gorm:"column:type"`
	Amount               int64     `gorm:"column:amount"`
	Currency             string    `gorm:"column:currency"`
	Datetime             time.Time `gorm:"column:datetime"`
	MerchantName         string    `gorm:"column:merchant_name"`
	MerchantMCC          string    `gorm:"column:merchant_mcc"`
	MerchantCountry      string    `gorm:"column:merchant_country"`
	MerchantCity         *string   `gorm:"column:merchant_city"`
	AuthCode             *string   `gorm:"column:auth_code"`
	ReceivedAt           time.Time `gorm:"column:received_at"`

	Routing         string     `gorm:"column:routing"`
	UnroutedReason  *string    `gorm:"column:unrouted_reason"`
	RequestedCardID *uuid.UUID `gorm:"column:requested_card_id"`
	CardFingerprint nullBytes  `gorm:"column:card_fingerprint"`

	SubaccountID        *uuid.UUID `gorm:"column:subaccount_id"`
	CardID              *uuid.UUID `gorm:"column:card_id"`
	CardCountry         *string    `gorm:"column:card_country"`
	CardNetwork         *string    `gorm:"column:card_network"`
	RoutedAt            *time.Time `gorm:"column:routed_at"`
	ConfigVersion       *int64     `gorm:"column:config_version"`
	PolicyStatus        *string    `gorm:"column:policy_status"`
	SubaccountSuspended bool       `gorm:"column:subaccount_suspended"`
}

func (transactionRow) TableName() string { return "transactions" }

// transactionColumns lists the transactions columns in the order of
// transactionRow.values.
const transactionColumns = "account_id, id, network_transaction_id, type, amount, currency, datetime, " +
	"merchant_name, merchant_mcc, merchant_country, merchant_city, auth_code, received_at, " +
	"routing, unrouted_reason, requested_card_id, card_fingerprint, " +
	"subaccount_id, card_id, card_country, card_network, routed_at, config_version, policy_status, subaccount_suspended"

// values returns the row's values for a raw INSERT, with SQL NULL as an untyped nil so
// that no driver has to interpret a typed nil pointer.
func (r transactionRow) values() []any {
	return []any{
		r.AccountID, r.ID, r.NetworkTransactionID, r.Type, r.Amount, r.Currency, r.Datetime,
		r.MerchantName, r.MerchantMCC, r.MerchantCountry, orNull(r.MerchantCity), orNull(r.AuthCode), r.ReceivedAt,
		r.Routing, orNull(r.UnroutedReason), orNull(r.RequestedCardID), r.CardFingerprint,
		orNull(r.SubaccountID), orNull(r.CardID), orNull(r.CardCountry), orNull(r.CardNetwork),
		orNull(r.RoutedAt), orNull(r.ConfigVersion), orNull(r.PolicyStatus), r.SubaccountSuspended,
	}
}

func orNull[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ptrTo returns nil for the zero value, so that optional domain fields are stored as NULL.
func ptrTo[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// toTransactionRow writes the fields of t's routing state and leaves the other state's
// NULL: a routed message has no fingerprint or reason, an unrouted one no routing.
func toTransactionRow(t subaccounts.Transaction) transactionRow {
	r := transactionRow{
		AccountID:            t.AccountID,
		ID:                   t.ID,
		NetworkTransactionID: t.NetworkTransactionID,
		Type:                 string(t.Type),
		Amount:               t.Amount,
		Currency:             t.Currency,
		Datetime:             t.Datetime.UTC(),
		MerchantName:         t.Merchant.Name,
		MerchantMCC:          t.Merchant.MCC,
		MerchantCountry:      t.Merchant.CountryCode,
		MerchantCity:         ptrTo(t.Merchant.City),
		AuthCode:             ptrTo(t.AuthCode),
		ReceivedAt:           t.ReceivedAt.UTC(),
		Routing:              string(t.Routing),
		RequestedCardID:      t.RequestedCardID,
	}
	if t.Routing == subaccounts.Routed {
		routedAt := t.RoutedAt.UTC()
		network := t.CardNetwork.String()
		r.SubaccountID = &t.SubaccountID
		r.CardID = &t.CardID
		r.CardCountry = &t.CardCountry
		r.CardNetwork = &network
		r.RoutedAt = &routedAt
		r.ConfigVersion = &t.ConfigVersion
		r.PolicyStatus = ptrTo(string(t.PolicyStatus))
		r.SubaccountSuspended = t.SubaccountSuspended
	} else {
		r.UnroutedReason = ptrTo(t.UnroutedReason)
		r.CardFingerprint = t.CardFingerprint
	}
	return r
}

func (r transactionRow) toDomain() (subaccounts.Transaction, error) {
	t := subaccounts.Transaction{
		ID:                   r.ID,
		AccountID:            r.AccountID,
		NetworkTransactionID: r.NetworkTransactionID,
		Type:                 subaccounts.TransactionType(r.Type),
		Amount:               r.Amount,
		Currency:             r.Currency,
		Datetime:             r.Datetime.UTC(),
		Merchant: subaccounts.Merchant{
			Name:        r.MerchantName,
			MCC:         r.MerchantMCC,
			CountryCode: r.MerchantCountry,
			City:        deref(r.MerchantCity),
		},
		AuthCode:            deref(r.AuthCode),
		ReceivedAt:          r.ReceivedAt.UTC(),
		Routing:             subaccounts.RoutingStatus(r.Routing),
		UnroutedReason:      deref(r.UnroutedReason),
		RequestedCardID:     r.RequestedCardID,
		CardFingerprint:     r.CardFingerprint,
		SubaccountID:        deref(r.SubaccountID),
		CardID:              deref(r.CardID),
		CardCountry:         deref(r.CardCountry),
		ConfigVersion:       deref(r.ConfigVersion),
		PolicyStatus:        subaccounts.PolicyStatus(deref(r.PolicyStatus)),
		SubaccountSuspended: r.SubaccountSuspended,
	}
	if r.RoutedAt != nil {
		t.RoutedAt = r.RoutedAt.UTC()
	}
	if r.CardNetwork != nil {
		n, ok := policy.ParseNetwork(*r.CardNetwork)
		if !ok {
			return subaccounts.Transaction{}, fmt.Errorf("transaction %s: unknown card network %q", r.ID, *r.CardNetwork)
		}
		t.CardNetwork = n
	}
	return t, nil
}

func transactionsOf(rows []transactionRow) ([]subaccounts.Transaction, error) {
	out := make([]subaccounts.Transaction, 0, len(rows))
	for _, r := range rows {
		t, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// InsertTransactions inserts messages (routed or unrouted) and returns the ids of those
// inserted; one whose (account, network transaction id, type) already exists is
// skipped, not an error.
func (q queries) InsertTransactions(ctx context.Context, txs []subaccounts.Transaction) ([]uuid.UUID, error) {
	if len(txs) == 0 {
		return []uuid.UUID{}, nil
	}
	if g := q.pgGroupOf(ctx); g != nil {
		return insertTransactionsPG(ctx, g, txs)
	}
	rows := make([][]any, len(txs))
	for i, t := range txs {
		rows[i] = toTransactionRow(t).values()
	}
	ids, err := q.insertSkipping(ctx, "transactions", transactionColumns, "(account_id, network_transaction_id, type)", rows)
	if err != nil {
		return nil, fmt.Errorf("insert transactions: %w", err)
	}
	return ids, nil
}

// TransactionsByKey returns the account's stored messages (routed or unrouted) with
// any of these keys.
func (q queries) TransactionsByKey(ctx context.Context, accountID uuid.UUID, keys []subaccounts.TransactionKey) ([]subaccounts.Transaction, error) {
	if g := q.pgGroupOf(ctx); g != nil {
		return transactionsByKeyPG(ctx, g, accountID, keys)
	}
	want := make(map[subaccounts.TransactionKey]bool, len(keys))
	ntids := make([]string, 0, len(keys))
	for _, k := range keys {
		if !want[k] {
			want[k] = true
			ntids = append(ntids, k.NetworkTransactionID)
		}
	}
	slices.Sort(ntids)
	ntids = slices.Compact(ntids)

	var out []subaccounts.Transaction
	for chunk := range slices.Chunk(ntids, inChunk) {
		var rows []transactionRow
		err := q.with(ctx).Where("account_id = ? AND network_transaction_id IN ?", accountID, chunk).
			Order("id").Find(&rows).Error
		if err != nil {
			return nil, translate(err)
		}
		for _, r := range rows {
			if !want[subaccounts.TransactionKey{NetworkTransactionID: r.NetworkTransactionID, Type: subaccounts.TransactionType(r.Type)}] {
				continue
			}
			t, err := r.toDomain()
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// GetTransaction returns one message of the account, routed or not; lock takes a row
// lock for the rest of the transaction ctx carries (on PostgreSQL).
func (q queries) GetTransaction(ctx context.Context, accountID, id uuid.UUID, lock bool) (subaccounts.Transaction, error) {
	db := q.with(ctx)
	if lock && q.inTransaction(ctx) {
		db = q.d.forUpdate(db)
	}
	var row transactionRow
	if err := db.Where("account_id = ? AND id = ?", accountID, id).Take(&row).Error; err != nil {
		return subaccounts.Transaction{}, notFound("transaction", err)
	}
	return row.toDomain()
}

// ListTransactions returns one page of the account's messages matching f, in id
// (arrival) order.
func (q queries) ListTransactions(ctx context.Context, accountID uuid.UUID, f subaccounts.TransactionFilter, p subaccounts.Page) ([]subaccounts.Transaction, error) {
	db := q.with(ctx).Where("account_id = ?", accountID)
	// Literal routing values let the planners use the partial indexes on routing.
	switch f.Routing {
	case "":
	case subaccounts.Routed:
		db = db.Where("routing = 'routed'")
	case subaccounts.Unrouted:
		db = db.Where("routing = 'unrouted'")
	default:
		db = db.Where("routing = ?", string(f.Routing))
	}
	if f.SubaccountID != nil || f.CardID != nil {
		// Only routed messages have a subaccount and card; saying so selects the
		// partial bucket indexes.
		db = db.Where("routing = 'routed'")
	}
	if f.SubaccountID != nil {
		db = db.Where("subaccount_id = ?", *f.SubaccountID)
	}
	if f.CardID != nil {
		db = db.Where("card_id = ?", *f.CardID)
	}
	if f.Type != "" {
		db = db.Where("type = ?", string(f.Type))
	}
	if !f.From.IsZero() {
		db = q.d.timeAfter(db, "datetime", f.From)
	}
	if !f.To.IsZero() {
		db = q.d.timeBefore(db, "datetime", f.To)
	}
	if p.After != uuid.Nil {
		db = db.Where("id > ?", p.After)
	}
	var rows []transactionRow
	if err := db.Order("id").Limit(p.Limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return transactionsOf(rows)
}

// Lifecycle returns the routed messages of the account sharing a network transaction
// id, oldest datetime first.
func (q queries) Lifecycle(ctx context.Context, accountID uuid.UUID, networkTransactionID string) ([]subaccounts.Transaction, error) {
	var rows []transactionRow
	err := q.with(ctx).
		Where("account_id = ? AND network_transaction_id = ? AND routing = 'routed'", accountID, networkTransactionID).
		Order(q.d.timeOrder("datetime", false) + ", id").
		Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return transactionsOf(rows)
}

// RouteTransaction turns an unrouted message into a routed one (writing the routing
// fields and clearing the fingerprint); subaccounts.NotFound("transaction") when it is
// not unrouted any more.
func (q queries) RouteTransaction(ctx context.Context, t subaccounts.Transaction) error {
	if t.Routing != subaccounts.Routed {
		return fmt.Errorf("route transaction %s: routing is %q, want %q", t.ID, t.Routing, subaccounts.Routed)
	}
	r := toTransactionRow(t)
	res := q.with(ctx).Model(&transactionRow{}).
		Where("account_id = ? AND id = ? AND routing = 'unrouted'", t.AccountID, t.ID).
		Updates(map[string]any{
			"routing":              r.Routing,
			"unrouted_reason":      nil,
			"card_fingerprint":     nil,
			"subaccount_id":        orNull(r.SubaccountID),
			"card_id":              orNull(r.CardID),
			"card_country":         orNull(r.CardCountry),
			"card_network":         orNull(r.CardNetwork),
			"routed_at":            orNull(r.RoutedAt),
			"config_version":       orNull(r.ConfigVersion),
			"policy_status":        orNull(r.PolicyStatus),
			"subaccount_suspended": r.SubaccountSuspended,
		})
	if res.Error != nil {
		return fmt.Errorf("route transaction: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("transaction")
	}
	return nil
}

// UpdateUnroutedReason records a new reason on a message still unrouted;
// subaccounts.NotFound("transaction") when it is not unrouted any more.
func (q queries) UpdateUnroutedReason(ctx context.Context, accountID, id uuid.UUID, reason string) error {
	if reason == "" {
		return fmt.Errorf("update unrouted reason of %s: no reason", id)
	}
	res := q.with(ctx).Model(&transactionRow{}).
		Where("account_id = ? AND id = ? AND routing = 'unrouted'", accountID, id).
		Update("unrouted_reason", reason)
	if res.Error != nil {
		return fmt.Errorf("update unrouted reason: %w", translate(res.Error))
	}
	if res.RowsAffected == 0 {
		return subaccounts.NotFound("transaction")
	}
	return nil
}
