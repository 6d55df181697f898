package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// ExplainGroupReads returns the generic plans of the group path's look-ups of
// transactions and cards, as PostgreSQL runs a prepared statement after its first
// executions, for one account.
func (d *DB) ExplainGroupReads(ctx context.Context, accountID uuid.UUID) (string, error) {
	sqlDB, err := d.gdb.DB()
	if err != nil {
		return "", err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var plan strings.Builder
	for i, stmt := range []struct{ sql, args string }{
		{pgGroupStored, `'{N-1,N-2}', '{auth,auth}'`},
		{pgGroupCardsOf, `'{` + uuid.NewString() + `}', '{"\\x01"}'`},
		{pgGroupSubaccounts, `'{` + uuid.NewString() + `}', '{"\\x01"}'`},
	} {
		if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			return "", err
		}
		name := fmt.Sprintf("group_read_%d", i)
		if _, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+stmt.sql); err != nil {
			return "", fmt.Errorf("prepare %s: %w", name, err)
		}
		rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE "+name+"('"+accountID.String()+"', "+stmt.args+")")
		if err != nil {
			return "", fmt.Errorf("explain %s: %w", name, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return "", err
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return plan.String(), nil
}
