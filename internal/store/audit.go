package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// auditEventRow is the audit_events table. before and after are JSON text, NULL for none.
type auditEventRow struct {
	AccountID     uuid.UUID `gorm:"column:account_id;primaryKey"`
	Seq           int64     `gorm:"column:seq;primaryKey"`
	ID            uuid.UUID `gorm:"column:id"`
	ActorSub      string    `gorm:"column:actor_sub"`
	ActorClientID string    `gorm:"column:actor_client_id"`
	Action        string    `gorm:"column:action"`
	ResourceType  string    `gorm:"column:resource_type"`
	ResourceID    string    `gorm:"column:resource_id"`
	Before        *string   `gorm:"column:before"`
	After         *string   `gorm:"column:after"`
	Reference     string    `gorm:"column:reference"`
	RequestID     string    `gorm:"column:request_id"`
	CreatedAt     time.Time `gorm:"column:created_at"`
	PrevHash      string    `gorm:"column:prev_hash"`
	Hash          string    `gorm:"column:hash"`
}

func (auditEventRow) TableName() string { return "audit_events" }

// auditHeadRow is the audit_heads table: the newest link of each account's chain.
type auditHeadRow struct {
	AccountID uuid.UUID `gorm:"column:account_id;primaryKey"`
	Seq       int64     `gorm:"column:seq"`
	Hash      string    `gorm:"column:hash"`
}

func (auditHeadRow) TableName() string { return "audit_heads" }

func toAuditEventRow(e subaccounts.AuditEvent) auditEventRow {
	return auditEventRow{
		AccountID:     e.AccountID,
		Seq:           e.Seq,
		ID:            e.ID,
		ActorSub:      e.ActorSubject,
		ActorClientID: e.ActorClientID,
		Action:        e.Action,
		ResourceType:  e.ResourceType,
		ResourceID:    e.ResourceID,
		Before:        jsonText(e.Before),
		After:         jsonText(e.After),
		Reference:     e.Reference,
		RequestID:     e.RequestID,
		CreatedAt:     e.CreatedAt.UTC(),
		PrevHash:      e.PrevHash,
		Hash:          e.Hash,
	}
}

func jsonText(raw json.RawMessage) *string {
	if raw == nil {
		return nil
	}
	s := string(raw)
	return &s
}

func rawJSON(s *string) json.RawMessage {
	if s == nil {
		return nil
	}
	return json.RawMessage(*s)
}

func (r auditEventRow) toDomain() subaccounts.AuditEvent {
	return subaccounts.AuditEvent{
		ID:            r.ID,
		AccountID:     r.AccountID,
		Seq:           r.Seq,
		ActorSubject:  r.ActorSub,
		ActorClientID: r.ActorClientID,
		Action:        r.Action,
		ResourceType:  r.ResourceType,
		ResourceID:    r.ResourceID,
		Before:        rawJSON(r.Before),
		After:         rawJSON(r.After),
		Reference:     r.Reference,
		RequestID:     r.RequestID,
		CreatedAt:     r.CreatedAt.UTC(),
		PrevHash:      r.PrevHash,
		Hash:          r.Hash,
	}
}

func auditEventsOf(rows []auditEventRow) []subaccounts.AuditEvent {
	out := make([]subaccounts.AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out
}

func (q queries) AppendAuditEvents(ctx context.Context, accountID uuid.UUID, events []subaccounts.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	if q.inTx {
		return q.appendAuditEvents(ctx, accountID, events)
	}
	// Called on the pool: the head lock, the inserts and the head move still need one
	// transaction of their own.
	err := q.with(ctx).Transaction(func(tx *gorm.DB) error {
		return queries{db: tx, dialect: q.dialect, inTx: true}.appendAuditEvents(ctx, accountID, events)
	})
	return translate(err)
}

func (q queries) appendAuditEvents(ctx context.Context, accountID uuid.UUID, events []subaccounts.AuditEvent) error {
	// Create the head when missing. Concurrent first appends both get here; ON CONFLICT
	// makes the loser wait for the winner's row instead of failing on the key.
	seed := auditHeadRow{AccountID: accountID, Seq: 0, Hash: subaccounts.GenesisHash}
	if err := q.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&seed).Error; err != nil {
		return fmt.Errorf("append audit events: create head: %w", translate(err))
	}
	db := q.with(ctx)
	// SQLite has no row locks; its immediate transactions already hold the write lock.
	if q.dialect == "postgres" {
		db = db.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var head auditHeadRow
	if err := db.Where("account_id = ?", accountID).Take(&head).Error; err != nil {
		return fmt.Errorf("append audit events: lock head: %w", translate(err))
	}
	rows := make([]auditEventRow, len(events))
	prev, seq := head.Hash, head.Seq
	for i := range events {
		e := &events[i]
		if e.AccountID != accountID {
			return fmt.Errorf("append audit events: event %s belongs to account %s, not %s", e.ID, e.AccountID, accountID)
		}
		var err error
		// Store before and after exactly as they are hashed.
		if e.Before, err = subaccounts.CanonicalJSON(e.Before); err != nil {
			return fmt.Errorf("append audit events: before: %w", err)
		}
		if e.After, err = subaccounts.CanonicalJSON(e.After); err != nil {
			return fmt.Errorf("append audit events: after: %w", err)
		}
		seq++
		e.Seq, e.PrevHash = seq, prev
		if e.Hash, err = e.ChainHash(); err != nil {
			return fmt.Errorf("append audit events: %w", err)
		}
		prev = e.Hash
		rows[i] = toAuditEventRow(*e)
	}
	if err := q.with(ctx).CreateInBatches(rows, 200).Error; err != nil {
		return fmt.Errorf("append audit events: %w", translate(err))
	}
	res := q.with(ctx).Model(&auditHeadRow{}).Where("account_id = ? AND seq = ?", accountID, head.Seq).
		Updates(map[string]any{"seq": seq, "hash": prev})
	if res.Error != nil {
		return fmt.Errorf("append audit events: move head: %w", translate(res.Error))
	}
	if res.RowsAffected != 1 {
		// The head moved under the lock: something other than this code writes it.
		return fmt.Errorf("append audit events: the chain head of %s moved while locked", accountID)
	}
	return nil
}

func (q queries) ListAuditEvents(ctx context.Context, accountID uuid.UUID, f subaccounts.AuditFilter, p subaccounts.Page) ([]subaccounts.AuditEvent, error) {
	db := q.with(ctx).Where("account_id = ?", accountID)
	if f.Action != "" {
		db = db.Where("action = ?", f.Action)
	}
	if f.ResourceType != "" {
		db = db.Where("resource_type = ?", f.ResourceType)
		if f.ResourceID != "" {
			db = db.Where("resource_id = ?", f.ResourceID)
		}
	}
	if f.Actor != "" {
		db = db.Where("(actor_sub = ? OR actor_client_id = ?)", f.Actor, f.Actor)
	}
	if !f.From.IsZero() {
		db = q.timeAfter(db, "created_at", f.From)
	}
	if !f.To.IsZero() {
		db = q.timeBefore(db, "created_at", f.To)
	}
	if p.After != uuid.Nil {
		// The cursor is an event id; an id that is not the account's (another tenant's,
		// or none) selects nothing rather than revealing anything.
		cursor := q.with(ctx).Model(&auditEventRow{}).Select("seq").Where("account_id = ? AND id = ?", accountID, p.After)
		db = db.Where("seq > (?)", cursor)
	}
	var rows []auditEventRow
	if err := db.Order("seq").Limit(p.Limit).Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return auditEventsOf(rows), nil
}

func (q queries) AuditEventsAfter(ctx context.Context, accountID uuid.UUID, afterSeq int64, limit int) ([]subaccounts.AuditEvent, error) {
	var rows []auditEventRow
	err := q.with(ctx).Where("account_id = ? AND seq > ?", accountID, afterSeq).Order("seq").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	return auditEventsOf(rows), nil
}

func (q queries) AuditHead(ctx context.Context, accountID uuid.UUID) (subaccounts.AuditHead, error) {
	var rows []auditHeadRow
	if err := q.with(ctx).Where("account_id = ?", accountID).Limit(1).Find(&rows).Error; err != nil {
		return subaccounts.AuditHead{}, translate(err)
	}
	if len(rows) == 0 {
		return subaccounts.AuditHead{}, nil
	}
	return subaccounts.AuditHead{Seq: rows[0].Seq, Hash: rows[0].Hash}, nil
}
