package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// BulkInsertChainedAudit writes already chained events (Seq, PrevHash and Hash set) that
// next yields, until it returns false, and moves the account's head to the last one. It
// streams: COPY on PostgreSQL, 2,000-row inserts in one transaction on SQLite, so a
// million events need neither a million statements nor a million events in memory. Only
// tests and benchmarks call it.
func BulkInsertChainedAudit(ctx context.Context, d *DB, next func() (subaccounts.AuditEvent, bool)) (int64, error) {
	var last subaccounts.AuditEvent
	var n int64
	track := func() (subaccounts.AuditEvent, bool) {
		e, ok := next()
		if ok {
			last, n = e, n+1
		}
		return e, ok
	}
	var err error
	if d.Dialect() == "postgres" {
		err = copyAudit(ctx, d, track)
	} else {
		err = d.gdb.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			batch := make([]auditEventRow, 0, 2000)
			for {
				e, ok := track()
				if ok {
					batch = append(batch, chainedRow(e))
				}
				if len(batch) == cap(batch) || (!ok && len(batch) > 0) {
					if err := tx.Create(&batch).Error; err != nil {
						return err
					}
					batch = batch[:0]
				}
				if !ok {
					return nil
				}
			}
		})
	}
	if err != nil || n == 0 {
		return n, err
	}
	head := auditHeadRow{AccountID: last.AccountID, Seq: last.Seq, Hash: last.Hash}
	err = d.gdb.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "account_id"}}, DoUpdates: clause.AssignmentColumns([]string{"seq", "hash"}),
	}).Create(&head).Error
	return n, err
}

func chainedRow(e subaccounts.AuditEvent) auditEventRow {
	r := toAuditEventRow(e)
	seq, prev, hash := e.Seq, e.PrevHash, e.Hash
	r.Seq, r.PrevHash, r.Hash = &seq, &prev, &hash
	return r
}

var auditColumns = []string{"account_id", "id", "seq", "actor_sub", "actor_client_id", "action", "resource_type",
	"resource_id", "before", "after", "reference", "request_id", "created_at", "prev_hash", "hash"}

func copyAudit(ctx context.Context, d *DB, next func() (subaccounts.AuditEvent, bool)) error {
	sqlDB, err := d.gdb.DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("bulk insert: driver connection is %T, not pgx", dc)
		}
		_, err := pc.Conn().CopyFrom(ctx, pgx.Identifier{"audit_events"}, auditColumns, &auditSource{next: next})
		return err
	})
}

// auditSource feeds COPY one event at a time.
type auditSource struct {
	next func() (subaccounts.AuditEvent, bool)
	row  []any
}

func (s *auditSource) Next() bool {
	e, ok := s.next()
	if !ok {
		return false
	}
	r := chainedRow(e)
	s.row = []any{r.AccountID, r.ID, *r.Seq, r.ActorSub, r.ActorClientID, r.Action, r.ResourceType,
		r.ResourceID, r.Before, r.After, r.Reference, r.RequestID, r.CreatedAt, *r.PrevHash, *r.Hash}
	return true
}

func (s *auditSource) Values() ([]any, error) { return s.row, nil }
func (s *auditSource) Err() error             { return nil }
