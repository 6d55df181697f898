package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

type eventRow struct {
	AccountID     uuid.UUID  `gorm:"column:account_id;primaryKey"`
	ID            uuid.UUID  `gorm:"column:id;primaryKey"`
	Type          string     `gorm:"column:type"`
	SubaccountID  *uuid.UUID `gorm:"column:subaccount_id"`
	Payload       string     `gorm:"column:payload"`
	StreamPending bool       `gorm:"column:stream_pending"`
	CreatedAt     time.Time  `gorm:"column:created_at"`
	TraceParent   *string    `gorm:"column:traceparent"`
}

func (eventRow) TableName() string { return "events" }

func (r eventRow) toDomain() subaccounts.Event {
	return subaccounts.Event{
		AccountID: r.AccountID, ID: r.ID, Type: r.Type, SubaccountID: r.SubaccountID,
		Payload: []byte(r.Payload), CreatedAt: r.CreatedAt.UTC(), Stream: r.StreamPending, TraceParent: deref(r.TraceParent),
	}
}

type deliveryRow struct {
	AccountID      uuid.UUID `gorm:"column:account_id;primaryKey"`
	ID             uuid.UUID `gorm:"column:id;primaryKey"`
	EndpointID     uuid.UUID `gorm:"column:endpoint_id"`
	EventID        uuid.UUID `gorm:"column:event_id"`
	EventType      string    `gorm:"column:event_type"`
	Status         string    `gorm:"column:status"`
	Attempts       int       `gorm:"column:attempts"`
	MaxAttempts    int       `gorm:"column:max_attempts"`
	NextAttemptMs  *int64    `gorm:"column:next_attempt_ms"`
	ClaimedBy      *string   `gorm:"column:claimed_by"`
	ClaimedUntilMs *int64    `gorm:"column:claimed_until_ms"`
	CreatedAt      time.Time `gorm:"column:created_at"`
	UpdatedAt      time.Time `gorm:"column:updated_at"`
}

func (deliveryRow) TableName() string { return "webhook_deliveries" }

func toDeliveryRow(d subaccounts.Delivery) deliveryRow {
	r := deliveryRow{
		AccountID: d.AccountID, ID: d.ID, EndpointID: d.EndpointID, EventID: d.EventID, EventType: d.EventType,
		Status: string(d.Status), Attempts: d.Attempts, MaxAttempts: d.MaxAttempts,
		NextAttemptMs: msPtr(d.NextAttemptAt), ClaimedUntilMs: msPtr(d.ClaimedUntil),
		CreatedAt: d.CreatedAt.UTC(), UpdatedAt: d.UpdatedAt.UTC(),
	}
	if d.ClaimedBy != "" {
		by := d.ClaimedBy
		r.ClaimedBy = &by
	}
	return r
}

func (r deliveryRow) toDomain() subaccounts.Delivery {
	d := subaccounts.Delivery{
		AccountID: r.AccountID, ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType,
		Status: subaccounts.DeliveryStatus(r.Status), Attempts: r.Attempts, MaxAttempts: r.MaxAttempts,
		NextAttemptAt: msTime(r.NextAttemptMs), ClaimedUntil: msTime(r.ClaimedUntilMs),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	if r.ClaimedBy != nil {
		d.ClaimedBy = *r.ClaimedBy
	}
	return d
}

type attemptRow struct {
	AccountID    uuid.UUID `gorm:"column:account_id;primaryKey"`
	DeliveryID   uuid.UUID `gorm:"column:delivery_id;primaryKey"`
	N            int       `gorm:"column:n;primaryKey"`
	AttemptedAt  time.Time `gorm:"column:attempted_at"`
	StatusCode   int       `gorm:"column:status_code"`
	LatencyMs    int64     `gorm:"column:latency_ms"`
	Error        string    `gorm:"column:error"`
	ResponseBody string    `gorm:"column:response_body"`
}

func (attemptRow) TableName() string { return "webhook_attempts" }

func msPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func msTime(ms *int64) *time.Time {
	if ms == nil {
		return nil
	}
	t := time.UnixMilli(*ms).UTC()
	return &t
}

// InsertEvents writes events and their deliveries, in the transaction ctx carries, with
// multi-row INSERTs and without gorm's per-row callbacks, since a group commit writes its
// messages' events on the hot path. On PostgreSQL a group's events and deliveries go in
// one statement (one round trip).
func (q queries) InsertEvents(ctx context.Context, events []subaccounts.Event, deliveries []subaccounts.Delivery) error {
	if g := q.pgGroupOf(ctx); g != nil {
		if len(events) > 0 {
			insertEventsPG(g, events, deliveries)
		}
		return nil
	}
	evRows := make([][]any, len(events))
	for i, e := range events {
		evRows[i] = []any{e.AccountID, e.ID, e.Type, e.SubaccountID, string(e.Payload), e.Stream, e.CreatedAt.UTC(), ptrTo(e.TraceParent)}
	}
	dRows := make([][]any, len(deliveries))
	for i, d := range deliveries {
		r := toDeliveryRow(d)
		dRows[i] = []any{r.AccountID, r.ID, r.EndpointID, r.EventID, r.EventType, r.Status, r.Attempts, r.MaxAttempts,
			r.NextAttemptMs, r.CreatedAt, r.UpdatedAt}
	}
	if !q.d.perRowUpdates && len(evRows) > 0 && len(dRows) > 0 && len(evRows)+len(dRows) <= insertChunk {
		evSQL, evArgs := valuesInsert("events", eventColumns, evRows)
		dSQL, dArgs := valuesInsert("webhook_deliveries", deliveryColumns, dRows)
		return translate(q.with(ctx).Exec("WITH ev AS ("+evSQL+") "+dSQL, append(evArgs, dArgs...)...).Error)
	}
	if err := q.insertRows(ctx, "events", eventColumns, evRows); err != nil {
		return err
	}
	return q.insertRows(ctx, "webhook_deliveries", deliveryColumns, dRows)
}

const (
	eventColumns    = "account_id, id, type, subaccount_id, payload, stream_pending, created_at, traceparent"
	deliveryColumns = "account_id, id, endpoint_id, event_id, event_type, status, attempts, max_attempts, next_attempt_ms, created_at, updated_at"
)

// valuesInsert is the multi-row INSERT of rows into table, and its parameters.
func valuesInsert(table, columns string, rows [][]any) (string, []any) {
	width := len(rows[0])
	tuple := "(" + strings.Repeat("?, ", width-1) + "?)"
	var sql strings.Builder
	sql.WriteString("INSERT INTO " + table + " (" + columns + ") VALUES ")
	args := make([]any, 0, len(rows)*width)
	for i, r := range rows {
		if i > 0 {
			sql.WriteString(", ")
		}
		sql.WriteString(tuple)
		args = append(args, r...)
	}
	return sql.String(), args
}

// insertRows inserts rows (each the values of columns, in order) with one multi-row
// INSERT per chunk.
func (q queries) insertRows(ctx context.Context, table, columns string, rows [][]any) error {
	for chunk := range slices.Chunk(rows, insertChunk) {
		sql, args := valuesInsert(table, columns, chunk)
		if err := q.with(ctx).Exec(sql, args...).Error; err != nil {
			return translate(err)
		}
	}
	return nil
}

// EnabledWebhookEndpoints returns the account's enabled endpoints: its subscriptions.
func (q queries) EnabledWebhookEndpoints(ctx context.Context, accountID uuid.UUID) ([]subaccounts.WebhookEndpoint, error) {
	if g := q.pgGroupOf(ctx); g != nil {
		// On the group's own connection: a second one from the pool could wait forever
		// when every connection is held by a group waiting the same way.
		return enabledEndpointsPG(ctx, g, accountID)
	}
	var rows []webhookEndpointRow
	if err := q.with(ctx).Where("account_id = ? AND NOT disabled", accountID).Order("id").Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return endpointsFrom(rows)
}

// DueDeliveries returns up to limit pending deliveries due at now whose endpoint is
// enabled and which no live lease holds, oldest due first, each with its event (one
// query) and its endpoint (one more, for the few endpoints of a claim). On PostgreSQL the deliveries are row-locked with SKIP LOCKED for
// the rest of the transaction, so concurrent workers pick disjoint sets; SQLite's write
// lock serialises the claimers. Deliveries to the endpoints in full (those the worker has
// no slot left for) are skipped, so one busy endpoint cannot fill every page.
func (q queries) DueDeliveries(ctx context.Context, now time.Time, limit int, full []uuid.UUID) ([]subaccounts.DeliveryWork, error) {
	ms := now.UnixMilli()
	var sql strings.Builder
	sql.WriteString(`SELECT d.account_id, d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.max_attempts,
       d.next_attempt_ms, d.claimed_by, d.claimed_until_ms, d.created_at, d.updated_at,
       v.type AS ev_type, v.subaccount_id AS ev_subaccount_id, v.payload AS ev_payload, v.stream_pending AS ev_stream_pending,
       v.created_at AS ev_created_at, v.traceparent AS ev_traceparent, ` + q.d.rowRef("d") + ` AS row_ref
  FROM webhook_deliveries d
  JOIN events v ON v.account_id = d.account_id AND v.id = d.event_id
  JOIN webhook_endpoints e ON e.account_id = d.account_id AND e.id = d.endpoint_id
 WHERE d.status = 'pending' AND d.next_attempt_ms <= ? AND (d.claimed_until_ms IS NULL OR d.claimed_until_ms < ?)
   AND NOT e.disabled`)
	args := []any{ms, ms}
	if len(full) > 0 {
		sql.WriteString(" AND d.endpoint_id NOT IN ?")
		args = append(args, full)
	}
	sql.WriteString(" ORDER BY d.next_attempt_ms LIMIT ?")
	args = append(args, limit)
	if q.d.rowLocks {
		sql.WriteString(" FOR UPDATE OF d SKIP LOCKED")
	}
	var rows []dueRow
	if err := q.with(ctx).Raw(sql.String(), args...).Scan(&rows).Error; err != nil {
		return nil, translate(err)
	}
	endpoints, err := q.endpointsOf(ctx, rows)
	if err != nil {
		return nil, err
	}
	out := make([]subaccounts.DeliveryWork, 0, len(rows))
	for _, r := range rows {
		if ep, ok := endpoints[r.EndpointID]; ok {
			out = append(out, r.toDomain(ep))
		}
	}
	return out, nil
}

// ClaimableDeliveries returns due deliveries of enabled endpoints within caps, locked
// for the caller's claim, and whether due ones were left behind (caps, or a full page).
// On PostgreSQL one statement ranks the due deliveries per endpoint and locks only those
// it returns (found again by their ctid), so a claim no longer reads and locks a page of
// deliveries of a busy endpoint to take a few; SQLite reads a page (DueDeliveries) and
// leaves the choice to the caller.
func (q queries) ClaimableDeliveries(ctx context.Context, now time.Time, caps subaccounts.DueCaps) ([]subaccounts.DeliveryWork, bool, error) {
	var full []uuid.UUID
	for id, n := range caps.Busy {
		if n >= caps.PerEndpoint {
			full = append(full, id)
		}
	}
	scan := min(2*caps.Take, 4*caps.PerEndpoint)
	if !q.d.rowLocks {
		due, err := q.DueDeliveries(ctx, now, scan, full)
		return due, len(due) == scan, err
	}
	if err := q.d.noTableScans(q.with(ctx)); err != nil {
		return nil, false, translate(err)
	}
	busyIDs, busyN := make([]string, 0, len(caps.Busy)), make([]string, 0, len(caps.Busy))
	for id, n := range caps.Busy {
		busyIDs, busyN = append(busyIDs, id.String()), append(busyN, strconv.Itoa(n))
	}
	fullIDs := make([]string, len(full))
	for i, id := range full {
		fullIDs[i] = id.String()
	}
	ms := now.UnixMilli()
	var rows []dueRow
	err := q.with(ctx).Raw(`WITH cand AS (
  SELECT d.ctid AS ref, d.endpoint_id, d.next_attempt_ms, d.id
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.account_id = d.account_id AND e.id = d.endpoint_id
   WHERE d.status = 'pending' AND d.next_attempt_ms <= ? AND (d.claimed_until_ms IS NULL OR d.claimed_until_ms < ?)
     AND NOT e.disabled AND d.endpoint_id <> ALL(?::uuid[])
   ORDER BY d.next_attempt_ms LIMIT ?),
ranked AS (
  SELECT c.ref, c.endpoint_id, c.next_attempt_ms, c.id,
         row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.next_attempt_ms, c.id) AS rn
    FROM cand c),
pick AS (
  SELECT r.ref FROM ranked r
    LEFT JOIN unnest(?::uuid[], ?::int[]) AS b(endpoint_id, busy) ON b.endpoint_id = r.endpoint_id
   WHERE r.rn <= ? - coalesce(b.busy, 0)
   ORDER BY r.next_attempt_ms, r.id LIMIT ?)
SELECT d.account_id, d.id, d.endpoint_id, d.event_id, d.event_type, d.status, d.attempts, d.max_attempts,
       d.next_attempt_ms, d.claimed_by, d.claimed_until_ms, d.created_at, d.updated_at,
       v.type AS ev_type, v.subaccount_id AS ev_subaccount_id, v.payload AS ev_payload, v.stream_pending AS ev_stream_pending,
       v.created_at AS ev_created_at, v.traceparent AS ev_traceparent, d.ctid::text AS row_ref,
       (SELECT count(*) FROM cand) AS seen
  FROM pick p
  JOIN webhook_deliveries d ON d.ctid = p.ref
  JOIN events v ON v.account_id = d.account_id AND v.id = d.event_id
 WHERE d.status = 'pending' AND (d.claimed_until_ms IS NULL OR d.claimed_until_ms < ?)
 ORDER BY d.next_attempt_ms
 FOR UPDATE OF d SKIP LOCKED`,
		ms, ms, pgArray(fullIDs), scan, pgArray(busyIDs), pgArray(busyN), caps.PerEndpoint, caps.Take, ms).Scan(&rows).Error
	if err != nil {
		return nil, false, translate(err)
	}
	due, seen := rows, 0
	if len(rows) > 0 {
		seen = rows[0].Seen
	}
	endpoints, err := q.endpointsOf(ctx, due)
	if err != nil {
		return nil, false, err
	}
	out := make([]subaccounts.DeliveryWork, 0, len(due))
	for _, r := range due {
		if ep, ok := endpoints[r.EndpointID]; ok {
			out = append(out, r.toDomain(ep))
		}
	}
	return out, seen == scan || len(rows) < seen, nil
}

// endpointsOf loads the endpoints of rows, each once: a claim's deliveries mostly share
// a few endpoints.
func (q queries) endpointsOf(ctx context.Context, rows []dueRow) (map[uuid.UUID]subaccounts.WebhookEndpoint, error) {
	out := map[uuid.UUID]subaccounts.WebhookEndpoint{}
	var keys [][]any
	for _, r := range rows {
		if _, seen := out[r.EndpointID]; !seen {
			out[r.EndpointID] = subaccounts.WebhookEndpoint{}
			keys = append(keys, []any{r.AccountID, r.EndpointID})
		}
	}
	if len(keys) == 0 {
		return out, nil
	}
	var eps []webhookEndpointRow
	if err := q.with(ctx).Where("(account_id, id) IN ?", keys).Find(&eps).Error; err != nil {
		return nil, translate(err)
	}
	list, err := endpointsFrom(eps)
	if err != nil {
		return nil, err
	}
	clear(out)
	for _, e := range list {
		out[e.ID] = e
	}
	return out, nil
}

// dueRow is a delivery with its event, as DueDeliveries reads them.
type dueRow struct {
	AccountID       uuid.UUID  `gorm:"column:account_id"`
	ID              uuid.UUID  `gorm:"column:id"`
	EndpointID      uuid.UUID  `gorm:"column:endpoint_id"`
	EventID         uuid.UUID  `gorm:"column:event_id"`
	EventType       string     `gorm:"column:event_type"`
	Status          string     `gorm:"column:status"`
	Attempts        int        `gorm:"column:attempts"`
	MaxAttempts     int        `gorm:"column:max_attempts"`
	NextAttemptMs   *int64     `gorm:"column:next_attempt_ms"`
	ClaimedBy       *string    `gorm:"column:claimed_by"`
	ClaimedUntilMs  *int64     `gorm:"column:claimed_until_ms"`
	CreatedAt       time.Time  `gorm:"column:created_at"`
	UpdatedAt       time.Time  `gorm:"column:updated_at"`
	EvType          string     `gorm:"column:ev_type"`
	EvSubaccountID  *uuid.UUID `gorm:"column:ev_subaccount_id"`
	EvPayload       string     `gorm:"column:ev_payload"`
	EvStreamPending bool       `gorm:"column:ev_stream_pending"`
	EvCreatedAt     time.Time  `gorm:"column:ev_created_at"`
	EvTraceParent   *string    `gorm:"column:ev_traceparent"`
	RowRef          string     `gorm:"column:row_ref"`
	// Seen is how many due deliveries ClaimableDeliveries ranked (on PostgreSQL).
	Seen int `gorm:"column:seen"`
}

func (r dueRow) toDomain(ep subaccounts.WebhookEndpoint) subaccounts.DeliveryWork {
	ev := eventRow{AccountID: r.AccountID, ID: r.EventID, Type: r.EvType, SubaccountID: r.EvSubaccountID,
		Payload: r.EvPayload, StreamPending: r.EvStreamPending, CreatedAt: r.EvCreatedAt, TraceParent: r.EvTraceParent}
	d := deliveryRow{
		AccountID: r.AccountID, ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType, Status: r.Status,
		Attempts: r.Attempts, MaxAttempts: r.MaxAttempts, NextAttemptMs: r.NextAttemptMs, ClaimedBy: r.ClaimedBy,
		ClaimedUntilMs: r.ClaimedUntilMs, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
	}
	delivery := d.toDomain()
	delivery.Ref = r.RowRef
	return subaccounts.DeliveryWork{Delivery: delivery, Endpoint: ep, Event: ev.toDomain()}
}

// ClaimDeliveries gives the deliveries to the worker by until: other workers skip them
// until the lease runs out. It returns them claimed, in the order of ds, with the Ref of
// the row version the claim wrote. On PostgreSQL the rows, locked by the caller's
// ClaimableDeliveries in the same transaction, are found by their Refs (a TID scan): a
// lookup by key was planned as a scan of the account's deliveries while the table had no
// statistics.
func (q queries) ClaimDeliveries(ctx context.Context, ds []subaccounts.Delivery, by string, until time.Time) ([]subaccounts.Delivery, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	now := time.Now().UTC()
	out := slices.Clone(ds)
	for i := range out {
		out[i].ClaimedBy, out[i].ClaimedUntil, out[i].UpdatedAt = by, &until, now
	}
	refs, ok := rowRefs(ds)
	if !ok {
		keys := make([][]any, len(ds))
		for i, d := range ds {
			keys[i] = []any{d.AccountID, d.ID}
		}
		err := q.with(ctx).Model(&deliveryRow{}).Where("(account_id, id) IN ?", keys).
			Updates(map[string]any{"claimed_by": by, "claimed_until_ms": until.UnixMilli(), "updated_at": now}).Error
		return out, translate(err)
	}
	// Sequential scans are already off: ds were read by ClaimableDeliveries in this
	// transaction (see noTableScans).
	var claimed []struct {
		ID     uuid.UUID `gorm:"column:id"`
		RowRef string    `gorm:"column:row_ref"`
	}
	err := q.with(ctx).Raw(`UPDATE webhook_deliveries SET claimed_by = ?, claimed_until_ms = ?, updated_at = ?
 WHERE ctid = ANY(?::tid[]) RETURNING id, ctid::text AS row_ref`, by, until.UnixMilli(), now, refs).Scan(&claimed).Error
	if err != nil {
		return nil, translate(err)
	}
	ref := make(map[uuid.UUID]string, len(claimed))
	for _, c := range claimed {
		ref[c.ID] = c.RowRef
	}
	for i := range out {
		out[i].Ref = ref[out[i].ID]
	}
	return out, nil
}

// rowRefs are the Refs of ds as one PostgreSQL tid[] literal ({"(0,1)","(0,2)"}); ok
// is false when one has none (SQLite, or a delivery not read by DueDeliveries).
func rowRefs(ds []subaccounts.Delivery) (string, bool) {
	quoted := make([]string, len(ds))
	for i, d := range ds {
		if d.Ref == "" {
			return "", false
		}
		quoted[i] = `"` + d.Ref + `"`
	}
	return pgArray(quoted), true
}

// FinishAttempts records the attempts made by worker by and writes each delivery as its
// attempt left it, its lease released. It returns the ids of the deliveries it wrote:
// one whose claim is no longer by's (its lease ran out and another worker took it over)
// is left alone, its attempt unrecorded — the record belongs to whoever holds it now.
// On PostgreSQL it is one UPDATE … FROM (VALUES …) RETURNING and one INSERT per chunk.
func (q queries) FinishAttempts(ctx context.Context, done []subaccounts.FinishedAttempt, by string) ([]uuid.UUID, error) {
	var mine []uuid.UUID
	var err error
	if q.d.perRowUpdates {
		mine, err = q.finishPerRow(ctx, done, by)
	} else {
		mine, err = q.finishInBulk(ctx, done, by)
	}
	if err != nil || len(mine) == 0 {
		return mine, err
	}
	wrote := make(map[uuid.UUID]bool, len(mine))
	for _, id := range mine {
		wrote[id] = true
	}
	rows := make([][]any, 0, len(mine))
	for _, f := range done {
		if a := f.Attempt; wrote[f.Delivery.ID] {
			rows = append(rows, []any{f.Delivery.AccountID, f.Delivery.ID, a.N, a.At.UTC(), a.StatusCode, a.Latency.Milliseconds(), a.Error, a.ResponseBody})
		}
	}
	return mine, q.insertRows(ctx, "webhook_attempts",
		"account_id, delivery_id, n, attempted_at, status_code, latency_ms, error, response_body", rows)
}

func (q queries) finishPerRow(ctx context.Context, done []subaccounts.FinishedAttempt, by string) ([]uuid.UUID, error) {
	var mine []uuid.UUID
	for _, f := range done {
		d, row := f.Delivery, toDeliveryRow(f.Delivery)
		res := q.with(ctx).Model(&deliveryRow{}).
			Where("account_id = ? AND id = ? AND claimed_by = ? AND attempts = ?", d.AccountID, d.ID, by, f.Attempt.N-1).
			Updates(map[string]any{
				"status": row.Status, "attempts": row.Attempts, "max_attempts": row.MaxAttempts, "next_attempt_ms": row.NextAttemptMs,
				"claimed_by": nil, "claimed_until_ms": nil, "updated_at": row.UpdatedAt,
			})
		if res.Error != nil {
			return nil, translate(res.Error)
		}
		if res.RowsAffected == 1 {
			mine = append(mine, d.ID)
		}
	}
	return mine, nil
}

func finishedDeliveries(done []subaccounts.FinishedAttempt) []subaccounts.Delivery {
	ds := make([]subaccounts.Delivery, len(done))
	for i, f := range done {
		ds[i] = f.Delivery
	}
	return ds
}

func (q queries) finishInBulk(ctx context.Context, done []subaccounts.FinishedAttempt, by string) ([]uuid.UUID, error) {
	if err := q.d.noTableScans(q.with(ctx)); err != nil {
		return nil, translate(err)
	}
	refs, byRef := rowRefs(finishedDeliveries(done))
	if !byRef {
		return q.finishByKey(ctx, done, by)
	}
	n := len(done)
	accounts, ids, statuses := make([]string, n), make([]string, n), make([]string, n)
	attempts, maxAttempts, next, updated := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, f := range done {
		r := toDeliveryRow(f.Delivery)
		accounts[i], ids[i], statuses[i] = r.AccountID.String(), r.ID.String(), r.Status
		attempts[i], maxAttempts[i] = strconv.Itoa(r.Attempts), strconv.Itoa(r.MaxAttempts)
		next[i] = "NULL"
		if r.NextAttemptMs != nil {
			next[i] = strconv.FormatInt(*r.NextAttemptMs, 10)
		}
		updated[i] = `"` + r.UpdatedAt.UTC().Format(time.RFC3339Nano) + `"`
	}
	// Each row is found by the Ref its claim wrote (a TID scan, whatever the statistics
	// say), in one statement of fixed text for any number of rows. A row written since
	// — another worker took the lease over — no longer has that version and is left
	// alone, like one whose claim is no longer by's.
	var mine []uuid.UUID
	err := q.with(ctx).Raw(`UPDATE webhook_deliveries AS d
   SET status = v.status, attempts = v.attempts, max_attempts = v.max_attempts, next_attempt_ms = v.next_attempt_ms,
       claimed_by = NULL, claimed_until_ms = NULL, updated_at = v.updated_at
  FROM unnest(?::tid[], ?::uuid[], ?::uuid[], ?::text[], ?::int[], ?::int[], ?::bigint[], ?::timestamptz[])
       AS v (ref, account_id, id, status, attempts, max_attempts, next_attempt_ms, updated_at)
 WHERE d.ctid = v.ref AND d.account_id = v.account_id AND d.id = v.id AND d.claimed_by = ? AND d.attempts = v.attempts - 1
RETURNING d.id`, refs, pgArray(accounts), pgArray(ids), pgArray(statuses), pgArray(attempts), pgArray(maxAttempts),
		pgArray(next), pgArray(updated), by).Scan(&mine).Error
	return mine, translate(err)
}

// pgArray is a PostgreSQL array literal of elements already written as the array's
// element syntax (quoted where they must be): one parameter, which gorm does not expand
// as it does a slice.
func pgArray(elems []string) string { return "{" + strings.Join(elems, ",") + "}" }

// finishByKey is finishInBulk for deliveries without Refs: one UPDATE … FROM (VALUES …)
// per chunk, by key.
func (q queries) finishByKey(ctx context.Context, done []subaccounts.FinishedAttempt, by string) ([]uuid.UUID, error) {
	var mine []uuid.UUID
	for chunk := range slices.Chunk(done, insertChunk) {
		var values strings.Builder
		args := make([]any, 0, 7*len(chunk)+1)
		for i, f := range chunk {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(?::uuid, ?::uuid, ?::text, ?::int, ?::int, ?::bigint, ?::timestamptz)")
			r := toDeliveryRow(f.Delivery)
			args = append(args, r.AccountID, r.ID, r.Status, r.Attempts, r.MaxAttempts, r.NextAttemptMs, r.UpdatedAt)
		}
		args = append(args, by)
		var ids []uuid.UUID
		err := q.with(ctx).Raw(`UPDATE webhook_deliveries AS d
   SET status = v.status, attempts = v.attempts, max_attempts = v.max_attempts, next_attempt_ms = v.next_attempt_ms,
       claimed_by = NULL, claimed_until_ms = NULL, updated_at = v.updated_at
  FROM (VALUES `+values.String()+`) AS v (account_id, id, status, attempts, max_attempts, next_attempt_ms, updated_at)
 WHERE d.account_id = v.account_id AND d.id = v.id AND d.claimed_by = ? AND d.attempts = v.attempts - 1
RETURNING d.id`, args...).Scan(&ids).Error
		if err != nil {
			return nil, translate(err)
		}
		mine = append(mine, ids...)
	}
	return mine, nil
}

// ReleaseDeliveries ends the leases worker by holds, so the next worker may send them.
func (q queries) ReleaseDeliveries(ctx context.Context, by string) error {
	return translate(q.with(ctx).Model(&deliveryRow{}).Where("claimed_by = ? AND status = ?", by, subaccounts.DeliveryPending).
		Updates(map[string]any{"claimed_by": nil, "claimed_until_ms": nil}).Error)
}

// SetWebhookEndpointFailing records since when the endpoint fails (nil: it answers).
func (q queries) SetWebhookEndpointFailing(ctx context.Context, accountID, id uuid.UUID, since *time.Time) error {
	var at any
	if since != nil {
		at = since.UTC()
	}
	return translate(q.with(ctx).Model(&webhookEndpointRow{}).Where("account_id = ? AND id = ?", accountID, id).
		Update("failing_since", at).Error)
}

// GetDelivery returns one delivery of the endpoint, with its attempts.
func (q queries) GetDelivery(ctx context.Context, accountID, endpointID, id uuid.UUID) (subaccounts.Delivery, error) {
	var row deliveryRow
	if err := q.with(ctx).Where("account_id = ? AND endpoint_id = ? AND id = ?", accountID, endpointID, id).Take(&row).Error; err != nil {
		return subaccounts.Delivery{}, notFound("delivery", err)
	}
	out, err := q.withHistory(ctx, accountID, []deliveryRow{row})
	if err != nil {
		return subaccounts.Delivery{}, err
	}
	return out[0], nil
}

// ListDeliveries returns one page of the endpoint's deliveries, newest first, with their
// attempts.
func (q queries) ListDeliveries(ctx context.Context, accountID, endpointID uuid.UUID, f subaccounts.DeliveryFilter, p subaccounts.Page) ([]subaccounts.Delivery, error) {
	db := q.with(ctx).Where("account_id = ? AND endpoint_id = ?", accountID, endpointID).Order("id DESC").Limit(p.Limit)
	if f.Status != "" {
		db = db.Where("status = ?", f.Status)
	}
	if !f.From.IsZero() {
		db = q.d.timeAfter(db, "created_at", f.From)
	}
	if !f.To.IsZero() {
		db = q.d.timeBefore(db, "created_at", f.To)
	}
	if p.After != uuid.Nil {
		db = db.Where("id < ?", p.After)
	}
	var rows []deliveryRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, translate(err)
	}
	return q.withHistory(ctx, accountID, rows)
}

// withHistory loads the attempts of rows in one query.
func (q queries) withHistory(ctx context.Context, accountID uuid.UUID, rows []deliveryRow) ([]subaccounts.Delivery, error) {
	out := make([]subaccounts.Delivery, len(rows))
	if len(rows) == 0 {
		return out, nil
	}
	ids := make([]uuid.UUID, len(rows))
	at := make(map[uuid.UUID]int, len(rows))
	for i, r := range rows {
		ids[i], at[r.ID] = r.ID, i
		out[i] = r.toDomain()
		out[i].History = []subaccounts.Attempt{}
	}
	var attempts []attemptRow
	if err := q.with(ctx).Where("account_id = ? AND delivery_id IN ?", accountID, ids).Order("delivery_id, n").Find(&attempts).Error; err != nil {
		return nil, translate(err)
	}
	for _, a := range attempts {
		i := at[a.DeliveryID]
		out[i].History = append(out[i].History, subaccounts.Attempt{
			N: a.N, At: a.AttemptedAt.UTC(), StatusCode: a.StatusCode, Latency: time.Duration(a.LatencyMs) * time.Millisecond,
			Error: a.Error, ResponseBody: a.ResponseBody,
		})
	}
	return out, nil
}

// RequeueDeliveries makes the endpoint's deliveries ids (or, with ids nil, every failed
// one created since) pending again, due at now, with one more attempt allowed; it
// returns how many it requeued. A delivery a worker holds is left alone.
func (q queries) RequeueDeliveries(ctx context.Context, accountID, endpointID uuid.UUID, ids []uuid.UUID, since, now time.Time) (int64, error) {
	db := q.with(ctx).Model(&deliveryRow{}).Where("account_id = ? AND endpoint_id = ?", accountID, endpointID).
		Where("NOT (status = ? AND claimed_until_ms IS NOT NULL AND claimed_until_ms >= ?)", subaccounts.DeliveryPending, now.UnixMilli())
	if ids != nil {
		db = db.Where("id IN ?", ids)
	} else {
		db = q.d.timeAfter(db.Where("status = ?", subaccounts.DeliveryFailed), "created_at", since)
	}
	res := db.Updates(map[string]any{
		"status": subaccounts.DeliveryPending, "max_attempts": gorm.Expr("attempts + 1"),
		"next_attempt_ms": now.UnixMilli(), "updated_at": now.UTC(),
	})
	return res.RowsAffected, translate(res.Error)
}

// PurgeEvents deletes the deliveries (with their attempts) and the events created before
// t, but not an event the stream has still to publish; it returns how many events went.
func (q queries) PurgeEvents(ctx context.Context, before time.Time) (int64, error) {
	if err := q.d.timeBefore(q.with(ctx), "created_at", before).Delete(&deliveryRow{}).Error; err != nil {
		return 0, translate(err)
	}
	res := q.d.timeBefore(q.with(ctx).Where("NOT stream_pending"), "created_at", before).
		Where("NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.account_id = events.account_id AND d.event_id = events.id)").
		Delete(&eventRow{})
	return res.RowsAffected, translate(res.Error)
}

// TryLockStream takes the stream publisher's lock for the rest of the transaction, or
// reports that another replica holds it. SQLite's write lock is already exclusive.
func (q queries) TryLockStream(ctx context.Context) (bool, error) {
	if !q.d.rowLocks {
		return true, nil
	}
	var ok bool
	err := q.with(ctx).Raw("SELECT pg_try_advisory_xact_lock(?)", streamLockKey).Scan(&ok).Error
	return ok, translate(err)
}

// streamLockKey is the advisory lock of the stream publisher.
const streamLockKey = 0x5375624576 // "SubEv"

// StreamPendingEvents returns up to limit events still to be published, in the order
// they were written.
func (q queries) StreamPendingEvents(ctx context.Context, limit int) ([]subaccounts.Event, error) {
	var rows []eventRow
	err := q.with(ctx).Where("stream_pending").Order(q.d.timeOrder("created_at", false)).Order("id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]subaccounts.Event, len(rows))
	for i, r := range rows {
		out[i] = r.toDomain()
	}
	return out, nil
}

// MarkEventsStreamed records that the stream acknowledged events.
func (q queries) MarkEventsStreamed(ctx context.Context, events []subaccounts.Event) error {
	if len(events) == 0 {
		return nil
	}
	if q.d.rowLocks {
		return q.markEventsStreamedPostgres(ctx, events)
	}
	keys := make([][]any, len(events))
	for i, e := range events {
		keys[i] = []any{e.AccountID, e.ID}
	}
	return translate(q.with(ctx).Model(&eventRow{}).Where("(account_id, id) IN ?", keys).Update("stream_pending", false).Error)
}

// markEventsStreamedPostgres marks events with one statement joining two arrays of keys:
// PostgreSQL plans a list of (account_id, id) row values as a filter over every pending
// row, which made a batch of 500 take 130 ms; the join probes the primary key instead.
func (q queries) markEventsStreamedPostgres(ctx context.Context, events []subaccounts.Event) error {
	accounts, ids := make([]string, len(events)), make([]string, len(events))
	for i, e := range events {
		accounts[i], ids[i] = e.AccountID.String(), e.ID.String()
	}
	return translate(q.with(ctx).Exec(`UPDATE events AS e SET stream_pending = false
		FROM unnest(?::uuid[], ?::uuid[]) AS k(account_id, id)
		WHERE e.account_id = k.account_id AND e.id = k.id`, uuidArray(accounts), uuidArray(ids)).Error)
}

// uuidArray is ids as a PostgreSQL array literal, one parameter however many ids there
// are (gorm would expand a slice into a list of parameters).
func uuidArray(ids []string) string {
	return "{" + strings.Join(ids, ",") + "}"
}
