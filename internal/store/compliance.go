package store

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// pairRow is one (country, network) pair of an aggregate.
type pairRow struct {
	Country string `gorm:"column:country"`
	Network string `gorm:"column:network"`
}

// subaccountPairRow is one subaccount_entitlements row as SubaccountsPermitting reads it.
type subaccountPairRow struct {
	SubaccountID uuid.UUID `gorm:"column:subaccount_id"`
	Country      string    `gorm:"column:country"`
	Network      string    `gorm:"column:network"`
}

// cardGroupRow is one (subaccount, country, network) group of active cards.
type cardGroupRow struct {
	SubaccountID uuid.UUID `gorm:"column:subaccount_id"`
	CountryCode  string    `gorm:"column:country_code"`
	Network      string    `gorm:"column:network"`
	Cards        int64     `gorm:"column:cards"`
	Permitted    bool      `gorm:"column:permitted"`
}

// cardSampleRow is one sampled card of a group.
type cardSampleRow struct {
	SubaccountID uuid.UUID `gorm:"column:subaccount_id"`
	CountryCode  string    `gorm:"column:country_code"`
	Network      string    `gorm:"column:network"`
	ID           uuid.UUID `gorm:"column:id"`
}

// transactionGroupRow is one (subaccount, card country, card network) group of messages.
type transactionGroupRow struct {
	SubaccountID uuid.UUID `gorm:"column:subaccount_id"`
	CardCountry  string    `gorm:"column:card_country"`
	CardNetwork  string    `gorm:"column:card_network"`
	Transactions int64     `gorm:"column:transactions"`
}

// EntitledPairs returns the distinct pairs the account's live subaccounts permit, in
// (country, network) order.
func (q queries) EntitledPairs(ctx context.Context, accountID uuid.UUID) ([]policy.Pair, error) {
	// Entitlement rows exist only for live subaccounts: deleting one deletes its rows.
	var rows []pairRow
	err := q.with(ctx).Raw(
		"SELECT DISTINCT country, network FROM subaccount_entitlements WHERE account_id = ? ORDER BY country, network",
		accountID).Scan(&rows).Error
	if err != nil {
		return nil, translate(err)
	}
	out := make([]policy.Pair, len(rows))
	for i, r := range rows {
		if out[i], err = toPair(r.Country, r.Network); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pairChunk pairs go into one SubaccountsPermitting query (two parameters each).
const pairChunk = 200

// SubaccountsPermitting returns which live subaccounts of the account permit which of
// pairs, ordered by subaccount and pair.
func (q queries) SubaccountsPermitting(ctx context.Context, accountID uuid.UUID, pairs []policy.Pair) ([]subaccounts.SubaccountPair, error) {
	pairs = slices.Clone(pairs)
	slices.SortFunc(pairs, comparePairs)
	pairs = slices.Compact(pairs)

	var out []subaccounts.SubaccountPair
	for chunk := range slices.Chunk(pairs, pairChunk) {
		// An OR of (country, network) conditions rather than a row-value IN, which the
		// two databases spell and plan differently; each term is an index prefix.
		terms := make([]string, len(chunk))
		args := []any{accountID}
		for i, p := range chunk {
			terms[i] = "(country = ? AND network = ?)"
			args = append(args, p.Country, p.Network.String())
		}
		var rows []subaccountPairRow
		err := q.with(ctx).Raw(
			"SELECT subaccount_id, country, network FROM subaccount_entitlements WHERE account_id = ? AND ("+
				strings.Join(terms, " OR ")+")", args...).Scan(&rows).Error
		if err != nil {
			return nil, translate(err)
		}
		for _, r := range rows {
			pair, err := toPair(r.Country, r.Network)
			if err != nil {
				return nil, err
			}
			out = append(out, subaccounts.SubaccountPair{SubaccountID: r.SubaccountID, Pair: pair})
		}
	}
	slices.SortFunc(out, func(a, b subaccounts.SubaccountPair) int {
		return cmp.Or(bytes.Compare(a.SubaccountID[:], b.SubaccountID[:]), comparePairs(a.Pair, b.Pair))
	})
	return out, nil
}

// comparePairs orders pairs as the queries' ORDER BY country, network does.
func comparePairs(a, b policy.Pair) int {
	return cmp.Or(strings.Compare(a.Country, b.Country), strings.Compare(a.Network.String(), b.Network.String()))
}

// cardGroups aggregates first and looks up second: the GROUP BY reads the account's
// active cards once (an index-only scan of cards_active_pair_idx, or a parallel scan when
// the account is most of the table), and only its few groups (subaccounts × pairs, not
// cards) are looked up in subaccount_entitlements. The same pass counts every active card,
// so the report needs no second scan for its total. A card of a deleted subaccount is
// outside configuration: deleting the subaccount deleted its entitlement rows.
const cardGroups = `
SELECT g.subaccount_id, g.country_code, g.network, g.cards,
	EXISTS (
		SELECT 1 FROM subaccount_entitlements e
		WHERE e.account_id = ? AND e.subaccount_id = g.subaccount_id
		  AND e.country = g.country_code AND e.network = g.network
	) AS permitted
FROM (
	SELECT subaccount_id, country_code, network, count(*) AS cards
	FROM cards
	WHERE account_id = ? AND status = 'active'
	GROUP BY subaccount_id, country_code, network
) g
ORDER BY g.subaccount_id, g.country_code, g.network`

// groupChunk groups go into one sample query (one UNION ALL branch and five parameters
// each; SQLite allows 500 branches).
const groupChunk = 100

// CardsOutsideConfiguration groups the account's active cards whose pair their
// subaccount does not permit by (subaccount, country, network), with up to sample card
// ids per group, and counts all of the account's active cards in the same pass.
func (q queries) CardsOutsideConfiguration(ctx context.Context, accountID uuid.UUID, sample int) ([]subaccounts.CardViolation, int64, error) {
	if q.d.lateral && sample > 0 {
		return q.cardsOutsideSampled(ctx, accountID, sample)
	}
	var all []cardGroupRow
	if err := q.with(ctx).Raw(cardGroups, accountID, accountID).Scan(&all).Error; err != nil {
		return nil, 0, fmt.Errorf("cards outside configuration: %w", translate(err))
	}
	var active int64
	groups := make([]cardGroupRow, 0, len(all))
	for _, g := range all {
		active += g.Cards
		if !g.Permitted {
			groups = append(groups, g)
		}
	}
	out, err := q.sampleGroups(ctx, accountID, groups, sample)
	return out, active, err
}

// cardGroupsSampled is cardGroups with each violating group's first sample ids (as
// comma-separated text) joined per group in the same statement: one round trip and one
// plan, where sampleGroups sends a UNION ALL of a branch per group after it. The
// one-time filter on permitted keeps the permitted groups' subqueries from running.
const cardGroupsSampled = `
SELECT g.subaccount_id, g.country_code, g.network, g.cards, g.permitted, s.ids
FROM (` + cardGroups + `) g
LEFT JOIN LATERAL (
	SELECT string_agg(x.id::text, ',' ORDER BY x.id) AS ids FROM (
		SELECT c.id FROM cards c
		WHERE NOT g.permitted AND c.account_id = ? AND c.status = 'active'
		  AND c.subaccount_id = g.subaccount_id AND c.country_code = g.country_code AND c.network = g.network
		ORDER BY c.id LIMIT ?
	) x
) s ON true
ORDER BY g.subaccount_id, g.country_code, g.network`

// cardGroupSampledRow is cardGroupRow with its samples (gorm's Scan fills no embedded
// struct).
type cardGroupSampledRow struct {
	SubaccountID uuid.UUID `gorm:"column:subaccount_id"`
	CountryCode  string    `gorm:"column:country_code"`
	Network      string    `gorm:"column:network"`
	Cards        int64     `gorm:"column:cards"`
	Permitted    bool      `gorm:"column:permitted"`
	IDs          *string   `gorm:"column:ids"`
}

// cardsOutsideSampled is CardsOutsideConfiguration in one statement (PostgreSQL).
func (q queries) cardsOutsideSampled(ctx context.Context, accountID uuid.UUID, sample int) ([]subaccounts.CardViolation, int64, error) {
	var all []cardGroupSampledRow
	if err := q.with(ctx).Raw(cardGroupsSampled, accountID, accountID, accountID, sample).Scan(&all).Error; err != nil {
		return nil, 0, fmt.Errorf("cards outside configuration: %w", translate(err))
	}
	var active int64
	var out []subaccounts.CardViolation
	for _, g := range all {
		active += g.Cards
		if g.Permitted {
			continue
		}
		pair, err := toPair(g.CountryCode, g.Network)
		if err != nil {
			return nil, 0, err
		}
		v := subaccounts.CardViolation{SubaccountID: g.SubaccountID, Pair: pair, Cards: g.Cards}
		if g.IDs != nil {
			for id := range strings.SplitSeq(*g.IDs, ",") {
				u, err := uuid.Parse(id)
				if err != nil {
					return nil, 0, fmt.Errorf("cards outside configuration: sample id %q: %w", id, err)
				}
				v.SampleIDs = append(v.SampleIDs, u)
			}
		}
		out = append(out, v)
	}
	if out == nil {
		out = []subaccounts.CardViolation{}
	}
	return out, active, nil
}

func (q queries) sampleGroups(ctx context.Context, accountID uuid.UUID, groups []cardGroupRow, sample int) ([]subaccounts.CardViolation, error) {
	out := make([]subaccounts.CardViolation, len(groups))
	type groupKey struct {
		subaccount       uuid.UUID
		country, network string
	}
	index := make(map[groupKey]int, len(groups))
	for i, g := range groups {
		pair, err := toPair(g.CountryCode, g.Network)
		if err != nil {
			return nil, err
		}
		out[i] = subaccounts.CardViolation{SubaccountID: g.SubaccountID, Pair: pair, Cards: g.Cards}
		index[groupKey{g.SubaccountID, g.CountryCode, g.Network}] = i
	}
	if sample <= 0 {
		return out, nil
	}

	// Each violating group's first ids come from its own top-N branch: an index-only range
	// scan of cards_active_pair_idx (whose trailing id keeps a group in id order) that
	// stops after sample entries. A window function (row_number() OVER (PARTITION BY the
	// group ORDER BY id)) would have to read every card of every violating group; at a
	// million cards with a fifth of them outside, that was about seven times slower on
	// PostgreSQL.
	// The subqueries are wrapped because SQLite allows no LIMIT on a compound member.
	for chunk := range slices.Chunk(groups, groupChunk) {
		branches := make([]string, len(chunk))
		args := make([]any, 0, 5*len(chunk))
		for i, g := range chunk {
			branches[i] = fmt.Sprintf("SELECT * FROM (SELECT subaccount_id, country_code, network, id FROM cards"+
				" WHERE account_id = ? AND status = 'active' AND subaccount_id = ? AND country_code = ? AND network = ?"+
				" ORDER BY id LIMIT ?) AS g%d", i)
			args = append(args, accountID, g.SubaccountID, g.CountryCode, g.Network, sample)
		}
		var rows []cardSampleRow
		if err := q.with(ctx).Raw(strings.Join(branches, " UNION ALL "), args...).Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("cards outside configuration: samples: %w", translate(err))
		}
		for _, r := range rows {
			i, ok := index[groupKey{r.SubaccountID, r.CountryCode, r.Network}]
			if !ok {
				return nil, fmt.Errorf("cards outside configuration: sample card %s of no violating group", r.ID)
			}
			out[i].SampleIDs = append(out[i].SampleIDs, r.ID)
		}
	}
	// A compound query keeps no order across its branches.
	for i := range out {
		slices.SortFunc(out[i].SampleIDs, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	}
	return out, nil
}

// OutOfPolicyTransactions groups the account's routed out-of-policy messages with
// datetime in [from, to) by (subaccount, card country, card network); a zero bound
// leaves that side open.
func (q queries) OutOfPolicyTransactions(ctx context.Context, accountID uuid.UUID, from, to time.Time) ([]subaccounts.TransactionViolation, error) {
	// The literals select transactions_out_of_policy_idx, a range scan on datetime.
	db := q.with(ctx).Model(&transactionRow{}).
		Select("subaccount_id, card_country, card_network, count(*) AS transactions").
		Where("account_id = ? AND policy_status = 'out-of-policy' AND routing = 'routed'", accountID)
	// A zero bound leaves that side of the window open.
	if !from.IsZero() {
		db = q.d.timeAfter(db, "datetime", from)
	}
	if !to.IsZero() {
		db = q.d.timeBefore(db, "datetime", to)
	}
	var rows []transactionGroupRow
	err := db.Group("subaccount_id, card_country, card_network").
		Order("subaccount_id, card_country, card_network").
		Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("out-of-policy transactions: %w", translate(err))
	}
	out := make([]subaccounts.TransactionViolation, len(rows))
	for i, r := range rows {
		pair, err := toPair(r.CardCountry, r.CardNetwork)
		if err != nil {
			return nil, err
		}
		out[i] = subaccounts.TransactionViolation{SubaccountID: r.SubaccountID, Pair: pair, Transactions: r.Transactions}
	}
	return out, nil
}

// CountActiveCardsInAccount counts the account's active cards.
func (q queries) CountActiveCardsInAccount(ctx context.Context, accountID uuid.UUID) (int64, error) {
	var n int64
	err := q.with(ctx).Model(&cardRow{}).Where("account_id = ? AND status = 'active'", accountID).Count(&n).Error
	return n, translate(err)
}
