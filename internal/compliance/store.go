package compliance

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

// Store is what the compliance report needs of the database: the account, its
// subaccounts, and the aggregates that answer the report in the database.
type Store interface {
	// GetAccount returns the account (lock is always false here).
	GetAccount(ctx context.Context, id uuid.UUID, lock bool) (subaccounts.Account, error)
	// GetSubaccount returns a live subaccount of the account.
	GetSubaccount(ctx context.Context, accountID, id uuid.UUID) (subaccounts.Subaccount, error)
	// CountSubaccounts counts the account's live subaccounts.
	CountSubaccounts(ctx context.Context, accountID uuid.UUID) (int, error)
	// EntitledPairs returns the distinct pairs the account's live subaccounts permit.
	EntitledPairs(ctx context.Context, accountID uuid.UUID) ([]policy.Pair, error)
	// SubaccountsPermitting returns which live subaccounts permit which of pairs.
	SubaccountsPermitting(ctx context.Context, accountID uuid.UUID, pairs []policy.Pair) ([]subaccounts.SubaccountPair, error)
	// CardsOutsideConfiguration groups the account's active cards whose pair their
	// subaccount does not permit by (subaccount, country, network), with up to sample card
	// ids per group, and counts all of the account's active cards in the same pass.
	CardsOutsideConfiguration(ctx context.Context, accountID uuid.UUID, sample int) ([]subaccounts.CardViolation, int64, error)
	// OutOfPolicyTransactions groups the routed out-of-policy messages with datetime in
	// [from, to) by (subaccount, card country, card network).
	OutOfPolicyTransactions(ctx context.Context, accountID uuid.UUID, from, to time.Time) ([]subaccounts.TransactionViolation, error)
	// CountActiveCardsInAccount counts the account's active cards.
	CountActiveCardsInAccount(ctx context.Context, accountID uuid.UUID) (int64, error)
}
