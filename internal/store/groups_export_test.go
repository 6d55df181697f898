package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// GroupReadPlan is the generic plan of one of the group path's look-ups.
type GroupReadPlan struct {
	// Name names the look-up; Plan is its EXPLAIN text.
	Name, Plan string
}

// ExplainGroupReads returns the generic plans of the group path's look-ups of
// transactions, cards and subaccounts, as PostgreSQL runs a prepared statement after
// its first executions, for one account.
func (d *DB) ExplainGroupReads(ctx context.Context, accountID uuid.UUID) ([]GroupReadPlan, error) {
	sqlDB, err := d.gdb.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var plans []GroupReadPlan
	for i, stmt := range []struct{ name, sql, args string }{
		{"stored", pgGroupStored, `'{N-1,N-2}', '{auth,auth}'`},
		{"cards", pgGroupCardsOf, `'{` + uuid.NewString() + `}', '{"\\x01"}'`},
		{"subaccounts", pgGroupSubaccounts, `'{` + uuid.NewString() + `}', '{"\\x01"}'`},
		{"enrolment subaccount", pgEnrolmentSubaccount, `'` + uuid.NewString() + `'`},
	} {
		var plan strings.Builder
		if _, err := conn.ExecContext(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
			return nil, err
		}
		// Unique, and deallocated below: the pool may hand out this connection again.
		name := fmt.Sprintf("group_read_%d_%s", i, strings.ReplaceAll(uuid.NewString(), "-", ""))
		if _, err := conn.ExecContext(ctx, "PREPARE "+name+" AS "+stmt.sql); err != nil {
			return nil, fmt.Errorf("prepare %s: %w", name, err)
		}
		rows, err := conn.QueryContext(ctx, "EXPLAIN EXECUTE "+name+"('"+accountID.String()+"', "+stmt.args+")")
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", name, err)
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				rows.Close()
				return nil, err
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		if _, err := conn.ExecContext(ctx, "DEALLOCATE "+name); err != nil {
			return nil, err
		}
		if _, err := conn.ExecContext(ctx, "RESET plan_cache_mode"); err != nil {
			return nil, err
		}
		plans = append(plans, GroupReadPlan{Name: stmt.name, Plan: plan.String()})
	}
	return plans, nil
}

// Analyze gathers the statistics of the group path's tables.
func (d *DB) Analyze(ctx context.Context) error {
	return d.gdb.WithContext(ctx).Exec("ANALYZE transactions, cards, subaccounts").Error
}
