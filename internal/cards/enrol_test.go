package cards_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

const (
	visaPAN  = "4111111111111111"
	visaPAN2 = "4012888888881881"
	visaPAN3 = "4242424242424242"
	mcPAN    = "5555555555554444"
)

// TestEnrolCard: the policy decisions of a single enrolment, the fee it charges and
// what it leaves in the store.
func TestEnrolCard(t *testing.T) {
	cases := []struct {
		name  string
		price int64
		sub   func(*subaccounts.Subaccount)
		// setup runs before the enrolment and returns the id of a card that already
		// holds the PAN, if any.
		setup       func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID
		in          cards.CardInput
		wantCode    subaccounts.Code
		wantReason  string
		wantBalance int64 // the subaccount's own balance after (when it pays itself)
		wantPrimary int64
	}{
		{name: "in policy, free", in: cardIn(visaPAN, "DEU")},
		{name: "mastercard in policy", in: cardIn(mcPAN, "DEU")},
		{name: "pair not permitted", in: cardIn(visaPAN, "FRA"), wantCode: subaccounts.CodePolicy},
		{name: "network not permitted", sub: func(s *subaccounts.Subaccount) {
			s.Configurations = []policy.Configuration{{Countries: []string{"DEU"}, Networks: []string{"VISA"}}}
		}, in: cardIn(mcPAN, "DEU"), wantCode: subaccounts.CodePolicy},
		{name: "subaccount permits nothing", sub: func(s *subaccounts.Subaccount) { s.Configurations = []policy.Configuration{} },
			in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodePolicy},
		{name: "suspended", sub: func(s *subaccounts.Subaccount) { s.Suspended = true }, in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodeSuspended},
		{name: "quota full", sub: func(s *subaccounts.Subaccount) { s.MaxCards = 1 },
			setup: func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID {
				enrol(t, fx, sub, visaPAN2)
				return uuid.Nil
			},
			in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodeQuotaExceeded, wantReason: "max-cards"},
		{name: "quota with room", sub: func(s *subaccounts.Subaccount) { s.MaxCards = 2 },
			setup: func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID {
				enrol(t, fx, sub, visaPAN2)
				return uuid.Nil
			},
			in: cardIn(visaPAN, "DEU")},
		{name: "quota counts active cards only", sub: func(s *subaccounts.Subaccount) { s.MaxCards = 1 },
			setup: func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID {
				c := enrol(t, fx, sub, visaPAN2)
				if _, err := fx.svc.RemoveCard(context.Background(), fx.principal(), c.ID); err != nil {
					t.Fatal(err)
				}
				return uuid.Nil
			},
			in: cardIn(visaPAN, "DEU")},
		{name: "already enrolled in another subaccount",
			setup: func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID {
				return enrol(t, fx, fx.sub(func(s *subaccounts.Subaccount) { s.Name = "other" }), visaPAN).ID
			},
			in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodeCardExists},
		{name: "enrolled again after removal",
			setup: func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID {
				c := enrol(t, fx, sub, visaPAN)
				if _, err := fx.svc.RemoveCard(context.Background(), fx.principal(), c.ID); err != nil {
					t.Fatal(err)
				}
				return uuid.Nil
			},
			in: cardIn(visaPAN, "DEU")},
		{name: "fee from its own balance", price: 10, sub: func(s *subaccounts.Subaccount) { s.UsePrimaryBalance, s.Balance = false, 25 },
			in: cardIn(visaPAN, "DEU"), wantBalance: 15},
		{name: "fee down to its credit limit", price: 10, sub: func(s *subaccounts.Subaccount) { s.UsePrimaryBalance, s.Balance, s.CreditLimit = false, 5, 5 },
			in: cardIn(visaPAN, "DEU"), wantBalance: -5},
		{name: "fee the subaccount cannot pay", price: 10, sub: func(s *subaccounts.Subaccount) { s.UsePrimaryBalance, s.Balance, s.CreditLimit = false, 5, 4 },
			in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodeInsufficientCredit, wantReason: "insufficient-credit", wantBalance: 5},
		{name: "fee the primary cannot pay", price: 10,
			in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodeInsufficientCredit, wantReason: "insufficient-credit"},
		{name: "fee from the primary", price: 10,
			setup: func(t *testing.T, fx fixture, sub subaccounts.Subaccount) uuid.UUID {
				fx.f.st.account.Balance = 100
				return uuid.Nil
			},
			in: cardIn(visaPAN, "DEU"), wantPrimary: 90},
		{name: "over its limit", sub: func(s *subaccounts.Subaccount) { s.UsePrimaryBalance, s.Balance, s.OverLimit = false, -1, true },
			in: cardIn(visaPAN, "DEU"), wantCode: subaccounts.CodeInsufficientCredit, wantReason: "over-limit", wantBalance: -1},
		{name: "invalid number", in: cardIn("4111111111111112", "DEU"), wantCode: subaccounts.CodeValidation},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, tc.price)
			sub := fx.sub(tc.sub)
			var holder uuid.UUID
			if tc.setup != nil {
				holder = tc.setup(t, fx, sub)
			}
			before := fx.f.state()
			card, err := fx.svc.EnrolCard(context.Background(), fx.principal(), sub.ID, tc.in)
			after := fx.f.state()
			if tc.wantCode != "" {
				se := wantError(t, err, tc.wantCode)
				if tc.wantReason != "" && se.Reason() != tc.wantReason {
					t.Errorf("reason %q, want %q", se.Reason(), tc.wantReason)
				}
				switch d := se.Detail.(type) {
				case *subaccounts.CardRefused:
					want := policy.Pair{Country: *tc.in.CountryCode, Network: networkOf(*tc.in.Number)}
					if d.Pair != want || !reflect.DeepEqual(d.Permitted, sub.Configurations) {
						t.Errorf("refused %+v, want pair %v and the subaccount's configurations %v", d, want, sub.Configurations)
					}
				case *subaccounts.CardExists:
					if d.CardID != holder {
						t.Errorf("card exists as %s, want the holder %s", d.CardID, holder)
					}
				}
				if tc.wantCode == subaccounts.CodePolicy {
					if _, ok := se.Detail.(*subaccounts.CardRefused); !ok {
						t.Errorf("detail %T, want *subaccounts.CardRefused", se.Detail)
					}
				}
				if tc.wantCode == subaccounts.CodeCardExists {
					if _, ok := se.Detail.(*subaccounts.CardExists); !ok {
						t.Errorf("detail %T, want *subaccounts.CardExists", se.Detail)
					}
				}
				if len(after.cards) != len(before.cards) || len(after.entries) != len(before.entries) || len(after.changes) != len(before.changes) {
					t.Errorf("refused enrolment wrote: %d→%d cards, %d→%d entries, %d→%d changes",
						len(before.cards), len(after.cards), len(before.entries), len(after.entries), len(before.changes), len(after.changes))
				}
				if got := after.subs[sub.ID].Balance; got != tc.wantBalance {
					t.Errorf("subaccount balance %d, want %d", got, tc.wantBalance)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnrolCard: %v", err)
			}
			stored, ok := after.cards[card.ID]
			if !ok || stored.SubaccountID != sub.ID || stored.Status != subaccounts.CardActive || stored.PolicyStatus != subaccounts.InPolicy {
				t.Fatalf("stored card %+v, want it active and in policy in %s", stored, sub.ID)
			}
			num := *tc.in.Number
			if card.FirstNumbers != num[:6] || card.LastNumbers != num[len(num)-4:] || card.Network != networkOf(num) || len(card.Fingerprint) == 0 {
				t.Errorf("card %+v: want first six, last four, network and a fingerprint", card)
			}
			if got := after.subs[sub.ID].Balance; got != tc.wantBalance {
				t.Errorf("subaccount balance %d, want %d", got, tc.wantBalance)
			}
			if after.account.Balance != tc.wantPrimary {
				t.Errorf("primary balance %d, want %d", after.account.Balance, tc.wantPrimary)
			}
			newEntries := after.entries[len(before.entries):]
			if tc.price == 0 {
				if len(newEntries) != 0 {
					t.Errorf("free enrolment journalled %+v", newEntries)
				}
			} else if len(newEntries) != 1 || newEntries[0].Kind != subaccounts.KindCharge || newEntries[0].Amount != tc.price ||
				newEntries[0].ChargeType != subaccounts.ChargeCardEnrolment || *newEntries[0].SubjectID != card.ID {
				t.Errorf("journal %+v, want one enrolment charge of %d for %s", newEntries, tc.price, card.ID)
			}
			newChanges := after.changes[len(before.changes):]
			if len(newChanges) != 1 || newChanges[0].Action != "card.enrol" || newChanges[0].ResourceID != card.ID.String() {
				t.Errorf("recorded %+v, want card.enrol of %s", newChanges, card.ID)
			}
			if fx.f.outsideTx != 0 {
				t.Errorf("%d writes outside a transaction", fx.f.outsideTx)
			}
		})
	}
}

func networkOf(number string) policy.Network {
	if number[0] == '4' {
		return policy.Visa
	}
	return policy.Mastercard
}

// enrol enrols number (issued in DEU) into sub and returns the card.
func enrol(t *testing.T, fx fixture, sub subaccounts.Subaccount, number string) subaccounts.Card {
	t.Helper()
	c, err := fx.svc.EnrolCard(context.Background(), fx.principal(), sub.ID, cardIn(number, "DEU"))
	if err != nil {
		t.Fatalf("enrol %s…: %v", number[:6], err)
	}
	return c
}

// TestEnrolCards: each item of a batch has its own outcome: enrolled, invalid, refused
// by the policy, beyond the quota, a repeat of an earlier item, or already held; valid
// items are enrolled in one transaction.
func TestEnrolCards(t *testing.T) {
	fx := newFixture(t, 0)
	sub := fx.sub(func(s *subaccounts.Subaccount) { s.MaxCards = 4 })
	other := fx.sub(func(s *subaccounts.Subaccount) { s.Name = "other" })
	held := enrol(t, fx, other, visaPAN3)

	items := []cards.CardInput{
		0: cardIn(visaPAN, "DEU"),
		1: {Number: addr(visaPAN2)}, // invalid: no expiry, country, terms
		2: cardIn(visaPAN2, "FRA"),  // not permitted
		3: cardIn(visaPAN, "DEU"),   // repeats item 0
		4: cardIn(visaPAN3, "DEU"),  // held by another subaccount
		5: cardIn(mcPAN, "DEU"),
		6: cardIn(visaPAN2, "DEU"),
		7: cardIn("4000056655665556", "DEU"), // the 4th new card: the last the quota of 4 has room for
		8: cardIn("4000000000000002", "DEU"), // the 5th: beyond the quota
	}
	out, err := fx.svc.EnrolCards(context.Background(), fx.principal(), sub.ID, items)
	if err != nil {
		t.Fatalf("EnrolCards: %v", err)
	}
	if len(out) != len(items) {
		t.Fatalf("%d outcomes for %d items", len(out), len(items))
	}
	wantCode := map[int]subaccounts.Code{1: subaccounts.CodeValidation, 2: subaccounts.CodePolicy, 3: subaccounts.CodeCardExists, 4: subaccounts.CodeCardExists, 8: subaccounts.CodeQuotaExceeded}
	for i, o := range out {
		code, refused := wantCode[i]
		if !refused {
			if o.Err != nil || o.Card == nil {
				t.Errorf("item %d: %v, want enrolled", i, o.Err)
			}
			continue
		}
		if o.Card != nil {
			t.Errorf("item %d enrolled, want %s", i, code)
			continue
		}
		var se *subaccounts.Error
		if !errors.As(o.Err, &se) || se.Code != code {
			t.Errorf("item %d: %v, want %s", i, o.Err, code)
		}
	}
	exists := func(i int) uuid.UUID {
		var se *subaccounts.Error
		if errors.As(out[i].Err, &se) {
			if d, ok := se.Detail.(*subaccounts.CardExists); ok {
				return d.CardID
			}
		}
		return uuid.Nil
	}
	if out[0].Card != nil && exists(3) != out[0].Card.ID {
		t.Errorf("repeat of item 0 names %s, want the card item 0 enrolled, %s", exists(3), out[0].Card.ID)
	}
	if exists(4) != held.ID {
		t.Errorf("held card named %s, want %s", exists(4), held.ID)
	}
	if got := len(fx.f.state().activeIn(sub.ID)); got != 4 {
		t.Errorf("%d active cards in the subaccount, want 4", got)
	}
}

// TestEnrolCardsFees: a batch charges each new card as the single route would, and
// refuses on their own the items the payer cannot pay for.
func TestEnrolCardsFees(t *testing.T) {
	fx := newFixture(t, 10)
	sub := fx.sub(func(s *subaccounts.Subaccount) { s.UsePrimaryBalance, s.Balance = false, 25 })
	items := []cards.CardInput{cardIn(visaPAN, "DEU"), cardIn(visaPAN2, "DEU"), cardIn(visaPAN3, "DEU")}
	out, err := fx.svc.EnrolCards(context.Background(), fx.principal(), sub.ID, items)
	if err != nil {
		t.Fatalf("EnrolCards: %v", err)
	}
	for i, o := range out[:2] {
		if o.Err != nil {
			t.Errorf("item %d: %v, want enrolled", i, o.Err)
		}
	}
	var se *subaccounts.Error
	if !errors.As(out[2].Err, &se) || se.Code != subaccounts.CodeInsufficientCredit {
		t.Errorf("item 2: %v, want insufficient credit", out[2].Err)
	}
	st := fx.f.state()
	if got := st.subs[sub.ID].Balance; got != 5 {
		t.Errorf("balance %d, want 25 - 2×10 = 5", got)
	}
	var charged int64
	for _, e := range st.entries {
		if e.Kind == subaccounts.KindCharge {
			charged += e.Amount
		}
	}
	if charged != 20 {
		t.Errorf("charged %d, want 20", charged)
	}
}

// TestEnrolCardsWholeBatchRefused: a batch into a suspended, unknown or unseen
// subaccount fails as a whole; an empty batch is invalid.
func TestEnrolCardsWholeBatchRefused(t *testing.T) {
	fx := newFixture(t, 0)
	suspended := fx.sub(func(s *subaccounts.Subaccount) { s.Suspended = true })
	mine := fx.sub(func(s *subaccounts.Subaccount) { s.Name = "mine" })
	confined := subaccounts.Principal{AccountID: fx.a.ID, SubaccountID: &mine.ID}
	one := []cards.CardInput{cardIn(visaPAN, "DEU")}
	ctx := context.Background()

	_, err := fx.svc.EnrolCards(ctx, fx.principal(), suspended.ID, one)
	wantError(t, err, subaccounts.CodeSuspended)
	_, err = fx.svc.EnrolCards(ctx, fx.principal(), mine.ID, nil)
	wantError(t, err, subaccounts.CodeValidation)
	if _, err := fx.svc.EnrolCards(ctx, fx.principal(), uuid.New(), one); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("unknown subaccount: %v, want not found", err)
	}
	if _, err := fx.svc.EnrolCards(ctx, confined, suspended.ID, one); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("another subaccount for a confined client: %v, want not found", err)
	}
	if n := len(fx.f.state().cards); n != 0 {
		t.Errorf("%d cards stored", n)
	}
}

// TestConfinedPrincipal: a client confined to a subaccount enrols, reads, lists, moves
// and removes only within it.
func TestConfinedPrincipal(t *testing.T) {
	fx := newFixture(t, 0)
	mine := fx.sub(func(s *subaccounts.Subaccount) { s.Name = "mine" })
	theirs := fx.sub(func(s *subaccounts.Subaccount) { s.Name = "theirs" })
	theirCard := enrol(t, fx, theirs, visaPAN2)
	p := subaccounts.Principal{AccountID: fx.a.ID, SubaccountID: &mine.ID}
	ctx := context.Background()

	myCard, err := fx.svc.EnrolCard(ctx, p, mine.ID, cardIn(visaPAN, "DEU"))
	if err != nil {
		t.Fatalf("EnrolCard into its own subaccount: %v", err)
	}
	if _, err := fx.svc.EnrolCard(ctx, p, theirs.ID, cardIn(mcPAN, "DEU")); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("EnrolCard into another subaccount: %v, want not found", err)
	}
	if _, err := fx.svc.GetCard(ctx, p, theirCard.ID); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("GetCard of another subaccount's card: %v, want not found", err)
	}
	if got, err := fx.svc.GetCard(ctx, p, myCard.ID); err != nil || got.ID != myCard.ID {
		t.Errorf("GetCard of its own card: %v, %v", got.ID, err)
	}
	list, _, err := fx.svc.ListCards(ctx, p, subaccounts.CardFilter{}, subaccounts.Page{Limit: 10})
	if err != nil || len(list) != 1 || list[0].ID != myCard.ID {
		t.Errorf("ListCards: %v %v, want only its own card", list, err)
	}
	list, _, err = fx.svc.ListCards(ctx, p, subaccounts.CardFilter{SubaccountID: &theirs.ID}, subaccounts.Page{Limit: 10})
	if err != nil || len(list) != 0 {
		t.Errorf("ListCards filtered to another subaccount: %v %v, want nothing", list, err)
	}
	if _, err := fx.svc.RemoveCard(ctx, p, theirCard.ID); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("RemoveCard of another subaccount's card: %v, want not found", err)
	}
	if _, err := fx.svc.MoveCard(ctx, p, myCard.ID, theirs.ID); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Errorf("MoveCard into another subaccount: %v, want not found", err)
	}
	if c := fx.f.state().cards[theirCard.ID]; c.Status != subaccounts.CardActive || c.SubaccountID != theirs.ID {
		t.Errorf("another subaccount's card changed: %+v", c)
	}
}

// TestMoveCard: a move is decided on the destination's configuration, suspension and
// quota.
func TestMoveCard(t *testing.T) {
	cases := []struct {
		name     string
		dest     func(*subaccounts.Subaccount)
		wantCode subaccounts.Code
	}{
		{name: "permitted"},
		{name: "not permitted", dest: func(s *subaccounts.Subaccount) {
			s.Configurations = []policy.Configuration{{Countries: []string{"FRA"}, Networks: []string{"VISA"}}}
		}, wantCode: subaccounts.CodePolicy},
		{name: "suspended", dest: func(s *subaccounts.Subaccount) { s.Suspended = true }, wantCode: subaccounts.CodeSuspended},
		{name: "quota full", dest: func(s *subaccounts.Subaccount) { s.MaxCards = 1 }, wantCode: subaccounts.CodeQuotaExceeded},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fx := newFixture(t, 0)
			from := fx.sub(nil)
			dest := fx.sub(func(s *subaccounts.Subaccount) {
				s.Name = "dest"
				if tc.dest != nil {
					tc.dest(s)
				}
			})
			card := enrol(t, fx, from, visaPAN)
			if tc.wantCode == subaccounts.CodeQuotaExceeded {
				fx.f.st.cards[uuid.New()] = subaccounts.Card{AccountID: fx.a.ID, SubaccountID: dest.ID, Status: subaccounts.CardActive}
			}
			moved, err := fx.svc.MoveCard(context.Background(), fx.principal(), card.ID, dest.ID)
			stored := fx.f.state().cards[card.ID]
			if tc.wantCode != "" {
				wantError(t, err, tc.wantCode)
				if stored.SubaccountID != from.ID {
					t.Errorf("refused move left the card in %s", stored.SubaccountID)
				}
				return
			}
			if err != nil {
				t.Fatalf("MoveCard: %v", err)
			}
			if moved.SubaccountID != dest.ID || stored.SubaccountID != dest.ID || stored.PolicyStatus != subaccounts.InPolicy {
				t.Errorf("moved %+v stored %+v, want in %s, in policy", moved, stored, dest.ID)
			}
		})
	}
}
