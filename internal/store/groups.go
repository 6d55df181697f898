package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// The group path: a group commit's messages (and a batch request's) are written with as
// few round trips as the database allows. On PostgreSQL the group's transaction runs on
// a pooled connection through pgx directly, without gorm or database/sql in between, and
// its statements travel in pipelines: the BEGIN with the group's reads (LoadGroup), the
// insert on its own (its answer says which rows are new), and the events with the
// COMMIT — three round trips per group, whatever its size. On SQLite, and inside a
// transaction gorm already holds, the same methods run one statement after another.

// pgGroup is a group's transaction on one pgx connection. Statements whose answer can
// wait (the BEGIN, the events) queue in next and travel with the next statement that
// needs one, or with the COMMIT.
type pgGroup struct {
	root  *gorm.DB
	conn  *pgx.Conn
	next  *pgx.Batch
	begun bool
}

type pgGroupKey struct{}

// pgGroupOf returns the group transaction of q's pool that ctx carries, or nil.
func (q queries) pgGroupOf(ctx context.Context) *pgGroup {
	if g, ok := ctx.Value(pgGroupKey{}).(*pgGroup); ok && g != nil && g.root == q.db {
		return g
	}
	return nil
}

// send sends what is queued and runs each statement's handler in order; the first
// error is returned.
func (g *pgGroup) send(ctx context.Context) error {
	b := g.next
	g.next = &pgx.Batch{}
	if b.Len() == 0 {
		return nil
	}
	g.begun = true
	return g.conn.SendBatch(ctx, b).Close()
}

// errOutsideGroup is what a store method that the group path does not cover answers
// inside a group transaction, rather than run on the pool outside it.
var errOutsideGroup = errors.New("store: this call cannot run inside a group transaction")

// TransactGroup runs fn in one transaction for a group of messages, like Transact (five
// attempts on serialization failures and deadlocks). On PostgreSQL, outside any other
// transaction, fn's transaction is a pgx one (see the group path above): in it only
// LoadGroup, InsertTransactions, TransactionsByKey, InsertEvents and the reads of
// webhook subscriptions work, and every other store call fails, so a caller that needs
// more (an account's row lock and its ledger) must return and use Transact. Elsewhere it
// is Transact.
func (q queries) TransactGroup(ctx context.Context, fn func(ctx context.Context) error) error {
	if !q.d.rowLocks || q.ambientOf(ctx) != nil || q.pgGroupOf(ctx) != nil {
		// Transact joins the transaction gorm holds, or refuses a nested group.
		return q.Transact(ctx, fn)
	}
	sqlDB, err := q.db.DB()
	if err != nil {
		return err
	}
	const attempts = 5
	for i := range attempts {
		err = q.groupAttempt(ctx, sqlDB.Conn, fn)
		if err == nil || !retryable(err) {
			return translate(err)
		}
		backoff := time.Duration(1<<i) * 5 * time.Millisecond
		select {
		case <-ctx.Done():
			return asUnavailable(ctx.Err())
		case <-time.After(backoff/2 + rand.N(backoff)):
		}
	}
	return fmt.Errorf("transaction kept conflicting: %w", translate(err))
}

func (q queries) groupAttempt(ctx context.Context, acquire func(context.Context) (*sql.Conn, error), fn func(ctx context.Context) error) error {
	conn, err := acquire(ctx)
	if err != nil {
		return asUnavailable(err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("group transaction: the driver's connection is a %T", dc)
		}
		g := &pgGroup{root: q.db, conn: sc.Conn(), next: &pgx.Batch{}}
		g.next.Queue("BEGIN")
		err := fn(context.WithValue(ctx, pgGroupKey{}, g))
		if err == nil {
			g.next.Queue("COMMIT")
			if err = g.send(ctx); err == nil {
				return nil
			}
		}
		if !g.begun {
			return err
		}
		// A failed statement leaves the transaction open and aborted (the rest of its
		// pipeline, COMMIT included, was skipped): it must end before the connection goes
		// back to the pool, or the pool must drop the connection.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if _, rerr := g.conn.Exec(rctx, "ROLLBACK"); rerr != nil {
			return errors.Join(err, driver.ErrBadConn)
		}
		return err
	})
}

// LoadGroup reads what routing one account's messages needs (see
// subaccounts.GroupQuery), in the transaction ctx carries; in a group transaction on
// PostgreSQL, in one round trip that also carries the transaction's BEGIN.
func (q queries) LoadGroup(ctx context.Context, accountID uuid.UUID, gq subaccounts.GroupQuery) (subaccounts.GroupRead, error) {
	if g := q.pgGroupOf(ctx); g != nil {
		return loadGroupPG(ctx, g, accountID, gq)
	}
	var out subaccounts.GroupRead
	a, err := q.GetAccount(ctx, accountID, false)
	switch {
	case errors.Is(err, subaccounts.ErrNotFound):
	case err != nil:
		return out, err
	default:
		out.Account = &a
	}
	if len(gq.Keys) > 0 {
		if out.Stored, err = q.TransactionsByKey(ctx, accountID, gq.Keys); err != nil {
			return out, err
		}
	}
	if len(gq.CardIDs) > 0 {
		if out.Cards, err = q.GetCards(ctx, accountID, gq.CardIDs); err != nil {
			return out, err
		}
	}
	if len(gq.Fingerprints) > 0 {
		cards, err := q.ActiveCardsByFingerprint(ctx, accountID, gq.Fingerprints)
		if err != nil {
			return out, err
		}
		out.Cards = append(out.Cards, cards...)
	}
	seen := map[uuid.UUID]bool{}
	var ids []uuid.UUID
	for _, c := range out.Cards {
		if !seen[c.SubaccountID] {
			seen[c.SubaccountID] = true
			ids = append(ids, c.SubaccountID)
		}
	}
	if len(ids) > 0 {
		var rows []subaccountRow
		if err := q.live(ctx, accountID).Where("id IN ?", ids).Find(&rows).Error; err != nil {
			return out, translate(err)
		}
		for _, r := range rows {
			s, err := r.toDomain()
			if err != nil {
				return out, err
			}
			out.Subaccounts = append(out.Subaccounts, s)
		}
	}
	return out, nil
}

// The group path's statements on PostgreSQL. Keys, ids and fingerprints travel as
// arrays, so each statement's text (and its prepared plan) is the same whatever the
// group's size; and each look-up is a LATERAL subquery per key with equality on every
// column of a unique key, so even a generic plan on tables without statistics (where an
// account's rows look few) takes that key's index rather than scan the account's history.
// (OFFSET 0 keeps the planner from flattening the subqueries into one join over the
// account's rows.)
const (
	pgAccountColumns = "account_id, name, contract_configurations, max_subaccounts, contract_version, currency, " +
		"price_card_enrolment, price_transaction, balance, credit_limit, allocated_credit, over_limit, version, created_at, updated_at"
	pgSubaccountColumns = "account_id, id, name, configurations, config_version, metadata, suspended, use_primary_balance, " +
		"balance, credit_limit, over_limit, auto_top_up_threshold, auto_top_up_amount, max_cards, version, created_at, updated_at, deleted_at"

	pgGroupAccount = `SELECT ` + pgAccountColumns + ` FROM accounts WHERE account_id = $1`
	pgGroupStored  = `SELECT t.* FROM unnest($2::text[], $3::text[]) AS k(ntid, type)
CROSS JOIN LATERAL (SELECT ` + transactionColumns + ` FROM transactions
                     WHERE account_id = $1 AND network_transaction_id = k.ntid AND type = k.type OFFSET 0) t`
	// pgGroupCardsOf are the cards by id (any status) and the active cards by
	// fingerprint; a card named both ways comes twice.
	pgGroupCardsOf = `SELECT c.* FROM unnest($2::uuid[]) AS k(id)
CROSS JOIN LATERAL (SELECT ` + cardColumns + ` FROM cards WHERE account_id = $1 AND id = k.id OFFSET 0) c
UNION ALL
SELECT c.* FROM unnest($3::bytea[]) AS k(fp)
CROSS JOIN LATERAL (SELECT ` + cardColumns + ` FROM cards WHERE account_id = $1 AND status = 'active' AND fingerprint = k.fp OFFSET 0) c`
	// pgGroupSubaccounts are the cards' subaccounts, deleted ones included (the caller
	// drops them): "deleted_at IS NULL" would let the planner take the partial name
	// index instead of the primary key.
	pgGroupSubaccounts = `SELECT s.* FROM (SELECT DISTINCT subaccount_id FROM (` + pgGroupCardsOf + `) g) c
CROSS JOIN LATERAL (SELECT ` + pgSubaccountColumns + ` FROM subaccounts
                     WHERE account_id = $1 AND id = c.subaccount_id OFFSET 0) s`
	// pgEnrolmentSubaccount share-locks the subaccount an enrolment writes into, deleted
	// or not (the caller refuses a deleted one), by its primary key.
	pgEnrolmentSubaccount = `SELECT ` + pgSubaccountColumns + ` FROM subaccounts
 WHERE account_id = $1 AND id = $2 FOR SHARE`
)

func loadGroupPG(ctx context.Context, g *pgGroup, accountID uuid.UUID, gq subaccounts.GroupQuery) (subaccounts.GroupRead, error) {
	var out subaccounts.GroupRead
	acct := pgUUID(accountID)
	g.next.Queue(pgGroupAccount, acct).Query(func(rows pgx.Rows) error {
		var err error
		out.Account, err = scanAccounts(rows)
		return err
	})
	if len(gq.Keys) > 0 {
		ntids, types := make([]string, len(gq.Keys)), make([]string, len(gq.Keys))
		for i, k := range gq.Keys {
			ntids[i], types[i] = k.NetworkTransactionID, string(k.Type)
		}
		g.next.Queue(pgGroupStored, acct, ntids, types).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var r transactionRow
				if err := rows.Scan(r.targets()...); err != nil {
					return err
				}
				t, err := r.toDomain()
				if err != nil {
					return err
				}
				out.Stored = append(out.Stored, t)
			}
			return rows.Err()
		})
	}
	if len(gq.CardIDs) > 0 || len(gq.Fingerprints) > 0 {
		ids := pgUUIDs(gq.CardIDs)
		fps := gq.Fingerprints
		if fps == nil {
			fps = [][]byte{}
		}
		g.next.Queue(pgGroupCardsOf, acct, ids, fps).Query(func(rows pgx.Rows) error {
			var err error
			out.Cards, err = scanCards(rows)
			return err
		})
		g.next.Queue(pgGroupSubaccounts, acct, ids, fps).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				sub, live, err := scanSubaccount(rows)
				if err != nil {
					return err
				}
				if live {
					out.Subaccounts = append(out.Subaccounts, sub)
				}
			}
			return rows.Err()
		})
	}
	if err := g.send(ctx); err != nil {
		return subaccounts.GroupRead{}, fmt.Errorf("load group: %w", asUnavailable(err))
	}
	return out, nil
}

// pgInsertTransactions is InsertTransactions in one statement: one array per column.
const pgInsertTransactions = `INSERT INTO transactions (` + transactionColumns + `)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::timestamptz[],
    $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[],
    $14::text[], $15::text[], $16::uuid[], $17::bytea[],
    $18::uuid[], $19::uuid[], $20::text[], $21::text[], $22::timestamptz[], $23::bigint[], $24::text[], $25::bool[])
ON CONFLICT (account_id, network_transaction_id, type) DO NOTHING
RETURNING id`

func insertTransactionsPG(ctx context.Context, g *pgGroup, txs []subaccounts.Transaction) ([]uuid.UUID, error) {
	n := len(txs)
	var (
		accounts, ids                                           = make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		ntids, types, currencies, names, mccs, countries        = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		amounts                                                 = make([]int64, n)
		datetimes, received                                     = make([]time.Time, n), make([]time.Time, n)
		cities, authCodes, reasons, cardCountries, networks, ps = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		routings                                                = make([]string, n)
		requested, subs, cardIDs                                = make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
		fps                                                     = make([][]byte, n)
		routedAt                                                = make([]*time.Time, n)
		versions                                                = make([]*int64, n)
		suspended                                               = make([]bool, n)
	)
	for i, t := range txs {
		r := toTransactionRow(t)
		accounts[i], ids[i] = pgUUID(r.AccountID), pgUUID(r.ID)
		ntids[i], types[i], amounts[i], currencies[i], datetimes[i] = r.NetworkTransactionID, r.Type, r.Amount, r.Currency, r.Datetime
		names[i], mccs[i], countries[i], cities[i], authCodes[i], received[i] = r.MerchantName, r.MerchantMCC, r.MerchantCountry, r.MerchantCity, r.AuthCode, r.ReceivedAt
		routings[i], reasons[i], requested[i] = r.Routing, r.UnroutedReason, pgUUIDPtr(r.RequestedCardID)
		if len(r.CardFingerprint) > 0 {
			fps[i] = r.CardFingerprint
		}
		subs[i], cardIDs[i], cardCountries[i], networks[i] = pgUUIDPtr(r.SubaccountID), pgUUIDPtr(r.CardID), r.CardCountry, r.CardNetwork
		routedAt[i], versions[i], ps[i], suspended[i] = r.RoutedAt, r.ConfigVersion, r.PolicyStatus, r.SubaccountSuspended
	}
	var out []uuid.UUID
	g.next.Queue(pgInsertTransactions, accounts, ids, ntids, types, amounts, currencies, datetimes,
		names, mccs, countries, cities, authCodes, received, routings, reasons, requested, fps,
		subs, cardIDs, cardCountries, networks, routedAt, versions, ps, suspended).Query(scanIDs(&out, n))
	if err := g.send(ctx); err != nil {
		return nil, fmt.Errorf("insert transactions: %w", asUnavailable(err))
	}
	return out, nil
}

// transactionsByKeyPG is TransactionsByKey in the group transaction.
func transactionsByKeyPG(ctx context.Context, g *pgGroup, accountID uuid.UUID, keys []subaccounts.TransactionKey) ([]subaccounts.Transaction, error) {
	read, err := loadGroupPG(ctx, g, accountID, subaccounts.GroupQuery{Keys: keys})
	if err != nil {
		return nil, err
	}
	return read.Stored, nil
}

// pgInsertEvents writes a group's events and their deliveries in one statement; it
// travels with the COMMIT.
const (
	pgInsertEventsOnly = `INSERT INTO events (` + eventColumns + `)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::uuid[], $5::text[], $6::bool[], $7::timestamptz[], $8::text[])`
	pgInsertEvents = `WITH ev AS (` + pgInsertEventsOnly + `)
INSERT INTO webhook_deliveries (` + deliveryColumns + `)
SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::uuid[], $13::text[], $14::text[], $15::int[], $16::int[],
    $17::bigint[], $18::timestamptz[], $19::timestamptz[])`
)

func insertEventsPG(g *pgGroup, events []subaccounts.Event, deliveries []subaccounts.Delivery) {
	n := len(events)
	accounts, ids, subs := make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	types, payloads := make([]string, n), make([]string, n)
	stream := make([]bool, n)
	created := make([]time.Time, n)
	parents := make([]*string, n)
	for i, e := range events {
		accounts[i], ids[i], subs[i] = pgUUID(e.AccountID), pgUUID(e.ID), pgUUIDPtr(e.SubaccountID)
		types[i], payloads[i], stream[i], created[i] = e.Type, string(e.Payload), e.Stream, e.CreatedAt.UTC()
		parents[i] = ptrTo(e.TraceParent)
	}
	args := []any{accounts, ids, types, subs, payloads, stream, created, parents}
	sql := pgInsertEventsOnly
	if m := len(deliveries); m > 0 {
		dAccounts, dIDs, endpoints, eventIDs := make([]pgtype.UUID, m), make([]pgtype.UUID, m), make([]pgtype.UUID, m), make([]pgtype.UUID, m)
		evTypes, statuses := make([]string, m), make([]string, m)
		attempts, maxAttempts := make([]int32, m), make([]int32, m)
		next := make([]*int64, m)
		dCreated, dUpdated := make([]time.Time, m), make([]time.Time, m)
		for i, d := range deliveries {
			r := toDeliveryRow(d)
			dAccounts[i], dIDs[i], endpoints[i], eventIDs[i] = pgUUID(r.AccountID), pgUUID(r.ID), pgUUID(r.EndpointID), pgUUID(r.EventID)
			evTypes[i], statuses[i], attempts[i], maxAttempts[i] = r.EventType, r.Status, int32(r.Attempts), int32(r.MaxAttempts)
			next[i], dCreated[i], dUpdated[i] = r.NextAttemptMs, r.CreatedAt, r.UpdatedAt
		}
		args = append(args, dAccounts, dIDs, endpoints, eventIDs, evTypes, statuses, attempts, maxAttempts, next, dCreated, dUpdated)
		sql = pgInsertEvents
	}
	g.next.Queue(sql, args...)
}

// pgUUID binds a UUID in pgx's own type: encoded directly in the binary format, where a
// uuid.UUID would go through its driver.Valuer as text.
func pgUUID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

func pgUUIDPtr(id *uuid.UUID) pgtype.UUID {
	if id == nil {
		return pgtype.UUID{}
	}
	return pgUUID(*id)
}

func pgUUIDs(ids []uuid.UUID) []pgtype.UUID {
	out := make([]pgtype.UUID, len(ids))
	for i, id := range ids {
		out[i] = pgUUID(id)
	}
	return out
}

// targets are the row's fields in transactionColumns' order, for Scan.
func (r *transactionRow) targets() []any {
	return []any{
		&r.AccountID, &r.ID, &r.NetworkTransactionID, &r.Type, &r.Amount, &r.Currency, &r.Datetime,
		&r.MerchantName, &r.MerchantMCC, &r.MerchantCountry, &r.MerchantCity, &r.AuthCode, &r.ReceivedAt,
		&r.Routing, &r.UnroutedReason, &r.RequestedCardID, &r.CardFingerprint,
		&r.SubaccountID, &r.CardID, &r.CardCountry, &r.CardNetwork, &r.RoutedAt, &r.ConfigVersion, &r.PolicyStatus, &r.SubaccountSuspended,
	}
}

// targets are the row's fields in cardColumns' order, for Scan.
func (r *cardRow) targets() []any {
	return []any{
		&r.AccountID, &r.ID, &r.SubaccountID, &r.Network, &r.CountryCode, &r.FirstNumbers, &r.LastNumbers,
		&r.ExpMonth, &r.ExpYear, &r.Fingerprint, &r.FingerprintKeyVersion, &r.Status, &r.PolicyStatus, &r.Metadata,
		&r.CreatedAt, &r.UpdatedAt, &r.EnrolledSubaccountID,
	}
}

// LoadEnrolment reads the account and share-locks its live subaccount for an
// enrolment, in the transaction ctx carries: in a group transaction on PostgreSQL in one
// round trip that also carries the BEGIN. The errors are GetAccount's and
// ShareSubaccount's.
func (q queries) LoadEnrolment(ctx context.Context, accountID, subaccountID uuid.UUID) (subaccounts.Account, subaccounts.Subaccount, error) {
	reads, err := q.LoadEnrolments(ctx, []subaccounts.SubaccountKey{{AccountID: accountID, SubaccountID: subaccountID}})
	if err != nil {
		return subaccounts.Account{}, subaccounts.Subaccount{}, err
	}
	return reads[0].Account, reads[0].Subaccount, reads[0].Err
}

// LoadEnrolments is LoadEnrolment for many enrolments at once, one read per key in
// keys' order (a key whose account or live subaccount does not exist has its Err): in a
// group transaction on PostgreSQL every account and subaccount comes in one round trip.
func (q queries) LoadEnrolments(ctx context.Context, keys []subaccounts.SubaccountKey) ([]subaccounts.EnrolmentRead, error) {
	out := make([]subaccounts.EnrolmentRead, len(keys))
	g := q.pgGroupOf(ctx)
	if g == nil {
		for i, k := range keys {
			a, err := q.GetAccount(ctx, k.AccountID, false)
			if err == nil {
				out[i].Subaccount, err = q.ShareSubaccount(ctx, k.AccountID, k.SubaccountID)
			}
			if err != nil && !errors.Is(err, subaccounts.ErrNotFound) {
				return nil, err
			}
			out[i].Account, out[i].Err = a, err
		}
		return out, nil
	}
	accounts := map[uuid.UUID]*subaccounts.Account{}
	subs := map[subaccounts.SubaccountKey]*subaccounts.Subaccount{}
	for _, k := range keys {
		if _, queued := accounts[k.AccountID]; !queued {
			accounts[k.AccountID] = nil
			g.next.Queue(pgGroupAccount, pgUUID(k.AccountID)).Query(func(rows pgx.Rows) error {
				a, err := scanAccounts(rows)
				accounts[k.AccountID] = a
				return err
			})
		}
		if _, queued := subs[k]; !queued {
			subs[k] = nil
			g.next.Queue(pgEnrolmentSubaccount, pgUUID(k.AccountID), pgUUID(k.SubaccountID)).Query(func(rows pgx.Rows) error {
				for rows.Next() {
					s, live, err := scanSubaccount(rows)
					if err != nil {
						return err
					}
					if live {
						subs[k] = &s
					}
				}
				return rows.Err()
			})
		}
	}
	if err := g.send(ctx); err != nil {
		return nil, fmt.Errorf("load enrolment: %w", asUnavailable(err))
	}
	for i, k := range keys {
		switch a, sub := accounts[k.AccountID], subs[k]; {
		case a == nil:
			out[i].Err = subaccounts.NotFound("account")
		case sub == nil:
			out[i].Account, out[i].Err = *a, subaccounts.NotFound("subaccount")
		default:
			out[i].Account, out[i].Subaccount = *a, *sub
		}
	}
	return out, nil
}

// scanAccounts reads pgGroupAccount's answer: the account, or nil.
func scanAccounts(rows pgx.Rows) (*subaccounts.Account, error) {
	var out *subaccounts.Account
	for rows.Next() {
		var r accountRow
		if err := rows.Scan(&r.AccountID, &r.Name, &r.ContractConfigurations, &r.MaxSubaccounts, &r.ContractVersion,
			&r.Currency, &r.PriceCardEnrolment, &r.PriceTransaction, &r.Balance, &r.CreditLimit, &r.AllocatedCredit,
			&r.OverLimit, &r.Version, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, err
		}
		a, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = &a
	}
	return out, rows.Err()
}

// scanSubaccount reads one row of pgSubaccountColumns.
// scanIDs reads RETURNING id rows into out, sized for n.
func scanIDs(out *[]uuid.UUID, n int) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		*out = make([]uuid.UUID, 0, n)
		for rows.Next() {
			var id uuid.UUID
			if err := rows.Scan(&id); err != nil {
				return err
			}
			*out = append(*out, id)
		}
		return rows.Err()
	}
}

// scanSubaccount reads a row of pgSubaccountColumns; live is false for a deleted
// subaccount.
func scanSubaccount(rows pgx.Rows) (sub subaccounts.Subaccount, live bool, err error) {
	var r subaccountRow
	if err := rows.Scan(&r.AccountID, &r.ID, &r.Name, &r.Configurations, &r.ConfigVersion, &r.Metadata,
		&r.Suspended, &r.UsePrimaryBalance, &r.Balance, &r.CreditLimit, &r.OverLimit, &r.AutoTopUpThreshold,
		&r.AutoTopUpAmount, &r.MaxCards, &r.Version, &r.CreatedAt, &r.UpdatedAt, &r.DeletedAt); err != nil {
		return subaccounts.Subaccount{}, false, err
	}
	sub, err = r.toDomain()
	return sub, r.DeletedAt == nil, err
}

// scanCards reads rows of cardColumns.
func scanCards(rows pgx.Rows) ([]subaccounts.Card, error) {
	var out []subaccounts.Card
	for rows.Next() {
		var r cardRow
		if err := rows.Scan(r.targets()...); err != nil {
			return nil, err
		}
		c, err := r.toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// activeCardsByFingerprintPG is ActiveCardsByFingerprint in the group transaction.
func activeCardsByFingerprintPG(ctx context.Context, g *pgGroup, accountID uuid.UUID, fps [][]byte) ([]subaccounts.Card, error) {
	var out []subaccounts.Card
	g.next.Queue(pgGroupCardsOf, pgUUID(accountID), []pgtype.UUID{}, fps).Query(func(rows pgx.Rows) error {
		var err error
		out, err = scanCards(rows)
		return err
	})
	if err := g.send(ctx); err != nil {
		return nil, fmt.Errorf("active cards by fingerprint: %w", asUnavailable(err))
	}
	return out, nil
}

// pgCreateCards is CreateCards in one statement: one array per column.
const pgCreateCards = `INSERT INTO cards (` + cardColumns + `)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::int[], $9::int[], $10::bytea[], $11::int[], $12::text[], $13::text[], $14::jsonb[], $15::timestamptz[], $16::timestamptz[],
    $17::uuid[])
ON CONFLICT (account_id, fingerprint) WHERE status = 'active' DO NOTHING
RETURNING id`

func createCardsPG(ctx context.Context, g *pgGroup, cards []subaccounts.Card) ([]uuid.UUID, error) {
	n := len(cards)
	cols := make([][]any, 17)
	for i := range cols {
		cols[i] = make([]any, n)
	}
	for i, c := range cards {
		r, err := toCardRow(c)
		if err != nil {
			return nil, err
		}
		for j, v := range r.values() {
			if id, ok := v.(uuid.UUID); ok {
				v = pgUUID(id)
			}
			cols[j][i] = v
		}
	}
	args := make([]any, len(cols))
	for j := range cols {
		args[j] = cols[j]
	}
	var out []uuid.UUID
	g.next.Queue(pgCreateCards, args...).Query(scanIDs(&out, n))
	if err := g.send(ctx); err != nil {
		return nil, fmt.Errorf("create cards: %w", asUnavailable(err))
	}
	return out, nil
}

// pgInsertAuditEvents writes unchained audit events; it travels with the COMMIT.
const pgInsertAuditEvents = `INSERT INTO audit_events (account_id, id, actor_sub, actor_client_id, action, resource_type,
    resource_id, before, after, reference, request_id, created_at)
SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
    $9::text[], $10::text[], $11::text[], $12::timestamptz[])`

func insertAuditEventsPG(g *pgGroup, rows []auditEventRow) {
	n := len(rows)
	accounts, ids := make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	subs, clients, actions, types, resources, refs, requests := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	before, after := make([]*string, n), make([]*string, n)
	created := make([]time.Time, n)
	for i, r := range rows {
		accounts[i], ids[i] = pgUUID(r.AccountID), pgUUID(r.ID)
		subs[i], clients[i], actions[i], types[i], resources[i] = r.ActorSub, r.ActorClientID, r.Action, r.ResourceType, r.ResourceID
		before[i], after[i], refs[i], requests[i], created[i] = r.Before, r.After, r.Reference, r.RequestID, r.CreatedAt
	}
	g.next.Queue(pgInsertAuditEvents, accounts, ids, subs, clients, actions, types, resources, before, after, refs, requests, created)
}

// enabledEndpointsPG is EnabledWebhookEndpoints in the group transaction.
func enabledEndpointsPG(ctx context.Context, g *pgGroup, accountID uuid.UUID) ([]subaccounts.WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	g.next.Queue(`SELECT account_id, id, subaccount_id, url, description, event_types, disabled, disabled_reason, secret,
       previous_secret, previous_secret_expires_at, failing_since, version, created_at, updated_at
  FROM webhook_endpoints WHERE account_id = $1 AND NOT disabled ORDER BY id`, pgUUID(accountID)).Query(func(rs pgx.Rows) error {
		for rs.Next() {
			var r webhookEndpointRow
			if err := rs.Scan(&r.AccountID, &r.ID, &r.SubaccountID, &r.URL, &r.Description, &r.EventTypes, &r.Disabled,
				&r.DisabledReason, &r.Secret, &r.PreviousSecret, &r.PreviousSecretExpiresAt, &r.FailingSince, &r.Version,
				&r.CreatedAt, &r.UpdatedAt); err != nil {
				return err
			}
			rows = append(rows, r)
		}
		return rs.Err()
	})
	if err := g.send(ctx); err != nil {
		return nil, fmt.Errorf("enabled webhook endpoints: %w", asUnavailable(err))
	}
	return endpointsFrom(rows)
}
