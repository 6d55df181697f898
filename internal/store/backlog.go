package store

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Backlog reads what waits in the queues of every account, for the operator's metrics:
// each count reads at most subaccounts.BacklogCap rows of its partial index (pending
// deliveries by next_attempt_ms, stream-pending events, unchained audit events), so a
// scrape costs the same whatever the backlog beyond it.
func (q queries) Backlog(ctx context.Context, now time.Time) (subaccounts.Backlog, error) {
	var b subaccounts.Backlog
	db := q.with(ctx)
	capped := func(sub *gorm.DB, n *int64) error {
		return db.Table("(?) AS queued", sub.Select("1").Limit(subaccounts.BacklogCap)).Count(n).Error
	}
	ms := now.UnixMilli()
	pending := func() *gorm.DB { return db.Model(&deliveryRow{}).Where("status = ?", subaccounts.DeliveryPending) }
	if err := capped(pending(), &b.PendingDeliveries); err != nil {
		return b, translate(err)
	}
	if err := capped(pending().Where("next_attempt_ms <= ?", ms), &b.DueDeliveries); err != nil {
		return b, translate(err)
	}
	var due []int64
	if err := pending().Where("next_attempt_ms <= ?", ms).Order("next_attempt_ms").Limit(1).Pluck("next_attempt_ms", &due).Error; err != nil {
		return b, translate(err)
	}
	if len(due) == 1 {
		t := time.UnixMilli(due[0]).UTC()
		b.OldestDue = &t
	}
	var err error
	if b.StreamPending, b.OldestStreamPending, err = q.queued(ctx, &eventRow{}, "stream_pending"); err != nil {
		return b, err
	}
	if b.UnchainedAudit, b.OldestUnchained, err = q.queued(ctx, &auditEventRow{}, "hash IS NULL"); err != nil {
		return b, err
	}
	return b, nil
}

// queued counts model's rows matching where (a fixed condition, never input), up to
// BacklogCap, and finds the oldest one's created_at.
func (q queries) queued(ctx context.Context, model any, where string) (int64, *time.Time, error) {
	db := q.with(ctx)
	var n int64
	sub := db.Model(model).Where(where).Select("1").Limit(subaccounts.BacklogCap)
	if err := db.Table("(?) AS queued", sub).Count(&n).Error; err != nil {
		return 0, nil, translate(err)
	}
	if n == 0 {
		return 0, nil, nil
	}
	var oldest []struct {
		CreatedAt time.Time `gorm:"column:created_at"`
	}
	if err := db.Model(model).Select("created_at").Where(where).Order(q.d.timeOrder("created_at", false)).Limit(1).Find(&oldest).Error; err != nil {
		return 0, nil, translate(err)
	}
	if len(oldest) == 0 {
		return n, nil, nil
	}
	t := oldest[0].CreatedAt.UTC()
	return n, &t, nil
}
