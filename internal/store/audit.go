package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm/clause"

	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// auditEventRow is the audit_events table. before and after are JSON text, NULL for none;
// seq, prev_hash and hash are NULL until the event is chained.
type auditEventRow struct {
	AccountID     uuid.UUID `gorm:"column:account_id;primaryKey"`
	ID            uuid.UUID `gorm:"column:id;primaryKey"`
	Seq           *int64    `gorm:"column:seq"`
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
	PrevHash      *string   `gorm:"column:prev_hash"`
	Hash          *string   `gorm:"column:hash"`
}

func (auditEventRow) TableName() string { return "audit_events" }

// auditHeadRow is the audit_heads table: the newest link of each account's chain.
type auditHeadRow struct {
	AccountID uuid.UUID `gorm:"column:account_id;primaryKey"`
	Seq       int64     `gorm:"column:seq"`
	Hash      string    `gorm:"column:hash"`
}

func (auditHeadRow) TableName() string { return "audit_heads" }

// toAuditEventRow is the row of e as it is inserted: unchained, whatever e says of its
// links.
func toAuditEventRow(e subaccounts.AuditEvent) auditEventRow {
	return auditEventRow{
		AccountID:     e.AccountID,
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
		Seq:           deref(r.Seq),
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
		PrevHash:      deref(r.PrevHash),
		Hash:          deref(r.Hash),
	}
}

func auditEventsOf(rows []auditEventRow) []subaccounts.AuditEvent {
	out := make([]subaccounts.AuditEvent, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out
}

func (q queries) InsertAuditEvents(ctx context.Context, events []subaccounts.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	rows := make([]auditEventRow, len(events))
	for i, e := range events {
		if e.AccountID == uuid.Nil {
			return fmt.Errorf("insert audit events: event %s has no account", e.ID)
		}
		var err error
		// Store before and after exactly as they are hashed.
		if e.Before, err = audit.CanonicalJSON(e.Before); err != nil {
			return fmt.Errorf("insert audit events: before: %w", err)
		}
		if e.After, err = audit.CanonicalJSON(e.After); err != nil {
			return fmt.Errorf("insert audit events: after: %w", err)
		}
		rows[i] = toAuditEventRow(e)
	}
	if g := q.pgGroupOf(ctx); g != nil {
		insertAuditEventsPG(g, rows)
		return nil
	}
	if err := q.with(ctx).CreateInBatches(rows, 200).Error; err != nil {
		return fmt.Errorf("insert audit events: %w", translate(err))
	}
	return nil
}

func (q queries) ChainAuditEvents(ctx context.Context, accountID uuid.UUID, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	if q.inTransaction(ctx) {
		return q.chainAuditEvents(ctx, accountID, limit)
	}
	// Called on the pool: the head lock, the links and the head move still need one
	// transaction of their own.
	var chained int
	err := q.Transact(ctx, func(ctx context.Context) error {
		var err error
		chained, err = q.chainAuditEvents(ctx, accountID, limit)
		return err
	})
	return chained, err
}

func (q queries) chainAuditEvents(ctx context.Context, accountID uuid.UUID, limit int) (int, error) {
	// Create the head when missing. Concurrent first chainers both get here; ON CONFLICT
	// makes the loser wait for the winner's row instead of failing on the key.
	seed := auditHeadRow{AccountID: accountID, Seq: 0, Hash: subaccounts.GenesisHash}
	if err := q.with(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&seed).Error; err != nil {
		return 0, fmt.Errorf("chain audit events: create head: %w", translate(err))
	}
	db := q.with(ctx)
	db = q.d.forUpdate(db)
	var head auditHeadRow
	if err := db.Where("account_id = ?", accountID).Take(&head).Error; err != nil {
		return 0, fmt.Errorf("chain audit events: lock head: %w", translate(err))
	}
	// Read under the lock: what another chainer linked before it let go is not seen as
	// unchained here.
	var rows []auditEventRow
	err := q.with(ctx).Where("account_id = ? AND hash IS NULL", accountID).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("chain audit events: %w", translate(err))
	}
	if len(rows) == 0 {
		return 0, nil
	}
	links := make([]auditLink, len(rows))
	prev, seq := head.Hash, head.Seq
	for i, r := range rows {
		e := r.toDomain()
		seq++
		e.Seq, e.PrevHash = seq, prev
		h, err := audit.ChainHash(e)
		if err != nil {
			return 0, fmt.Errorf("chain audit events: %w", err)
		}
		links[i] = auditLink{id: e.ID, seq: seq, prevHash: prev, hash: h}
		prev = h
	}
	if err := q.writeAuditLinks(ctx, accountID, links); err != nil {
		return 0, fmt.Errorf("chain audit events: %w", err)
	}
	res := q.with(ctx).Model(&auditHeadRow{}).Where("account_id = ? AND seq = ?", accountID, head.Seq).
		Updates(map[string]any{"seq": seq, "hash": prev})
	if res.Error != nil {
		return 0, fmt.Errorf("chain audit events: move head: %w", translate(res.Error))
	}
	if res.RowsAffected != 1 {
		// The head moved under the lock: something other than this code writes it.
		return 0, fmt.Errorf("chain audit events: the chain head of %s moved while locked", accountID)
	}
	return len(links), nil
}

// auditLink is what chaining writes into one unchained event.
type auditLink struct {
	id             uuid.UUID
	seq            int64
	prevHash, hash string
}

// auditLinkBatch bounds the parameters of one UPDATE … FROM (VALUES …).
const auditLinkBatch = 500

// writeAuditLinks fills in seq, prev_hash and hash of unchained events, refusing to
// touch one that is chained already.
func (q queries) writeAuditLinks(ctx context.Context, accountID uuid.UUID, links []auditLink) error {
	if q.d.perRowUpdates {
		for _, l := range links {
			res := q.with(ctx).Model(&auditEventRow{}).Where("account_id = ? AND id = ? AND hash IS NULL", accountID, l.id).
				Updates(map[string]any{"seq": l.seq, "prev_hash": l.prevHash, "hash": l.hash})
			if res.Error != nil {
				return translate(res.Error)
			}
			if res.RowsAffected != 1 {
				return fmt.Errorf("event %s of %s was chained by someone else while its head was locked", l.id, accountID)
			}
		}
		return nil
	}
	for len(links) > 0 {
		n := min(len(links), auditLinkBatch)
		batch := links[:n]
		links = links[n:]
		var values strings.Builder
		args := make([]any, 0, 4*n+1)
		for i, l := range batch {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(?::uuid, ?::bigint, ?::text, ?::text)")
			args = append(args, l.id, l.seq, l.prevHash, l.hash)
		}
		args = append(args, accountID)
		res := q.with(ctx).Exec(`UPDATE audit_events AS e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
FROM (VALUES `+values.String()+`) AS v (id, seq, prev_hash, hash)
WHERE e.account_id = ? AND e.id = v.id AND e.hash IS NULL`, args...)
		if res.Error != nil {
			return translate(res.Error)
		}
		if res.RowsAffected != int64(n) {
			return fmt.Errorf("%d of %d events of %s were chained by someone else while its head was locked", int64(n)-res.RowsAffected, n, accountID)
		}
	}
	return nil
}

func (q queries) AccountsWithUnchainedAuditEvents(ctx context.Context, limit int) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := q.with(ctx).Model(&auditEventRow{}).Distinct("account_id").Where("hash IS NULL").Limit(limit).Pluck("account_id", &ids).Error
	if err != nil {
		return nil, translate(err)
	}
	return ids, nil
}

func (q queries) CountUnchainedAuditEvents(ctx context.Context, accountID uuid.UUID) (int64, error) {
	var n int64
	if err := q.with(ctx).Model(&auditEventRow{}).Where("account_id = ? AND hash IS NULL", accountID).Count(&n).Error; err != nil {
		return 0, translate(err)
	}
	return n, nil
}

func (q queries) ListAuditEvents(ctx context.Context, accountID uuid.UUID, f subaccounts.AuditFilter, p subaccounts.Page) ([]subaccounts.AuditEvent, error) {
	// Only chained events are listed: until then an event has no place in the log.
	db := q.with(ctx).Where("account_id = ? AND seq IS NOT NULL", accountID)
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
		db = q.d.timeAfter(db, "created_at", f.From)
	}
	if !f.To.IsZero() {
		db = q.d.timeBefore(db, "created_at", f.To)
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
