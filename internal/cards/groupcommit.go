package cards

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/cardseg/subaccounts/internal/groupcommit"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// DefaultGroupCommit is how concurrent single enrolments share transactions: at most
// 256 or 2 ms a group, two groups in flight, as messages do.
var DefaultGroupCommit = groupcommit.Config{
	MaxBatch: 256, MaxWait: 2 * time.Millisecond, Writers: 2,
	SpanName: "cards.group_commit", SizeAttribute: "cards.group.enrolments",
}

// enrolment is one single enrolment on its way through the group commit.
type enrolment struct {
	p       subaccounts.Principal
	subID   uuid.UUID
	checked checkedCard
	// actor and origin are the request's, for its audit event and outbound event: the
	// group is written under a context of its own.
	actor  subaccounts.Actor
	origin trace.SpanContext
	// err is the enrolment's outcome, set by writeEnrolments: nil (enrolled), a refusal,
	// or errNeedAccountLock for one that charges or counts a quota.
	err error
}

// submitEnrolment enrols through the group commit: concurrent enrolments, into any
// subaccounts of any accounts, share one transaction (on PostgreSQL three round trips
// for the whole group). One that charges or counts a quota is refused by the group
// with errNeedAccountLock and written by the caller with the account lock.
func (s *Service) submitEnrolment(ctx context.Context, p subaccounts.Principal, subID uuid.UUID, checked checkedCard) error {
	e := &enrolment{p: p, subID: subID, checked: checked, actor: subaccounts.ActorFrom(ctx), origin: trace.SpanContextFromContext(ctx)}
	if err := s.committer.Submit(ctx, e); err != nil {
		return err
	}
	return e.err
}

// writeEnrolments writes one group in one group transaction: the accounts and
// share-locked subaccounts in one read, each enrolment decided on its own (a refusal is
// its outcome, not the group's), the cards in one insert, the holders of skipped
// fingerprints in one read per account, and every enrolled card's audit and outbound
// events with the COMMIT. It may run again (a retried transaction, or each enrolment
// alone after the group failed), so it sets every outcome afresh.
func (s *Service) writeEnrolments(ctx context.Context, items []*enrolment) error {
	return s.store.TransactGroup(ctx, func(ctx context.Context) error {
		keys := make([]subaccounts.SubaccountKey, len(items))
		for i, e := range items {
			e.err = nil
			keys[i] = subaccounts.SubaccountKey{AccountID: e.p.AccountID, SubaccountID: e.subID}
		}
		reads, err := s.store.LoadEnrolments(ctx, keys)
		if err != nil {
			return err
		}
		var inserting []*enrolment
		for i, e := range items {
			if e.err = decideEnrolment(reads[i], e.checked.card); e.err == nil {
				inserting = append(inserting, e)
			}
		}
		if len(inserting) == 0 {
			return nil
		}
		if err := s.refuseHeldUnderOlderKeys(ctx, inserting); err != nil {
			return err
		}
		cards := unrefusedCards(inserting)
		if len(cards) == 0 {
			return nil
		}
		ids, err := s.store.CreateCards(ctx, cards)
		if err != nil {
			return err
		}
		return s.answerEnrolments(ctx, inserting, ids)
	})
}

// decideEnrolment is an enrolment's decision on what it read: errNeedAccountLock when it
// charges or counts a quota, a refusal when the subaccount's configuration, suspension
// or credit limit forbids it, nil when it may be written.
func decideEnrolment(r subaccounts.EnrolmentRead, card subaccounts.Card) error {
	if r.Err != nil {
		return r.Err
	}
	if r.Account.Contract.Pricing.CardEnrolment > 0 || r.Subaccount.MaxCards > 0 {
		return errNeedAccountLock
	}
	sub := r.Subaccount
	if err := decideCard(sub, card.Pair()); err != nil {
		return err
	}
	return ledger.NewBook(r.Account, card.CreatedAt).BlockedByLimit(&sub)
}

// refuseHeldUnderOlderKeys refuses the enrolments whose card the account holds under
// an older fingerprint key version (one read per account with such enrolments).
func (s *Service) refuseHeldUnderOlderKeys(ctx context.Context, items []*enrolment) error {
	older := map[uuid.UUID][][]byte{}
	for _, e := range items {
		older[e.p.AccountID] = append(older[e.p.AccountID], e.checked.older...)
	}
	for accountID, fps := range older {
		if len(fps) == 0 {
			continue
		}
		held, err := s.store.ActiveCardsByFingerprint(ctx, accountID, fps)
		if err != nil {
			return err
		}
		for _, e := range items {
			if e.p.AccountID == accountID {
				if c, ok := holderOf(held, e.checked.older); ok {
					e.err = cardExists(c.ID)
				}
			}
		}
	}
	return nil
}

// holderOf is the card of held whose fingerprint is one of fps.
func holderOf(held []subaccounts.Card, fps [][]byte) (subaccounts.Card, bool) {
	for _, c := range held {
		for _, fp := range fps {
			if string(c.Fingerprint) == string(fp) {
				return c, true
			}
		}
	}
	return subaccounts.Card{}, false
}

// unrefusedCards are the cards of the enrolments not refused yet.
func unrefusedCards(items []*enrolment) []subaccounts.Card {
	var out []subaccounts.Card
	for _, e := range items {
		if e.err == nil {
			out = append(out, e.checked.card)
		}
	}
	return out
}

// answerEnrolments records the inserted cards and refuses the others: a card the
// insert skipped is held by an active card of its account, inserted earlier or in this
// very group.
func (s *Service) answerEnrolments(ctx context.Context, items []*enrolment, ids []uuid.UUID) error {
	inserted := make(map[uuid.UUID]bool, len(ids))
	for _, id := range ids {
		inserted[id] = true
	}
	skipped := map[uuid.UUID][][]byte{}
	for _, e := range items {
		switch card := e.checked.card; {
		case e.err != nil:
		case inserted[card.ID]:
			rctx := trace.ContextWithSpanContext(subaccounts.WithActor(ctx, e.actor), e.origin)
			if err := s.rec.Record(rctx, e.p.AccountID, cardRecord("card.enrol", nil, &card)); err != nil {
				return err
			}
		default:
			skipped[e.p.AccountID] = append(skipped[e.p.AccountID], card.Fingerprint)
		}
	}
	for accountID, fps := range skipped {
		held, err := s.store.ActiveCardsByFingerprint(ctx, accountID, fps)
		if err != nil {
			return err
		}
		for _, e := range items {
			if e.err != nil || e.p.AccountID != accountID || inserted[e.checked.card.ID] {
				continue
			}
			c, ok := holderOf(held, [][]byte{e.checked.card.Fingerprint})
			if !ok {
				// The holder was removed between the insert and the look-up; try again.
				return fmt.Errorf("%w: enrolment raced a removal", subaccounts.ErrConflict)
			}
			e.err = cardExists(c.ID)
		}
	}
	return nil
}
