// Package events turns the changes the services commit into outbound events: the
// catalogue of event types, their payloads (the resource exactly as the API returns it),
// each account's subscriptions, and the Recorder that writes an event, with a delivery
// for every endpoint subscribed to it, into the outbox in the change's own transaction.
//
// It is one kind of subaccounts.Recorder beside the audit log; the webhook workers
// (internal/webhooks) deliver what it writes, and the stream publisher (Stream) sends it
// to NATS JetStream. It imports only the vocabulary and the wire types.
package events

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// Types is the catalogue of event types an endpoint may subscribe to, in the order the
// documentation lists them.
var Types = []string{
	"transaction.routed", "transaction.unrouted",
	"card.enrolled", "card.moved", "card.removed", "card.policy-changed",
	"subaccount.created", "subaccount.updated", "subaccount.suspended", "subaccount.reactivated",
	"subaccount.deleted", "subaccount.over-limit",
	"transfer.created", "contract.updated", "account.updated",
	"webhook-endpoint.disabled", "webhook.test",
}

// AllTypes subscribes an endpoint to every type, present and future.
const AllTypes = "*"

// Known reports whether t is in the catalogue.
func Known(t string) bool { return slices.Contains(Types, t) }

// Payload is the body of every event, per the Standard Webhooks specification: its type,
// when it happened, and data, the resource as the API returns it; id is the event's id
// (the webhook-id header) and subaccountId the subaccount it is about, absent for an
// account-level event.
type Payload struct {
	ID           string  `json:"id"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp"`
	AccountID    string  `json:"accountId"`
	SubaccountID *string `json:"subaccountId,omitempty"`
	Data         any     `json:"data"`
}

// TransferData is the data of transfer.created: the transfer as the API returns it and
// what kind of movement it was.
type TransferData struct {
	api.Transfer
	// Kind is credit-transfer, balance-transfer, top-up or auto-top-up.
	Kind string `json:"kind"`
}

// TestData is the data of webhook.test.
type TestData struct {
	EndpointID string `json:"endpointId"`
	Message    string `json:"message"`
}

// pending is an event a change gives rise to, before it is written.
type pending struct {
	typ string
	sub *uuid.UUID
	// skip is an endpoint it never goes to (the endpoint a webhook-endpoint.disabled
	// is about).
	skip uuid.UUID
	data func() any
}

// New builds the event of type typ about sub (nil: the account) with data, at time at.
func New(accountID uuid.UUID, typ string, sub *uuid.UUID, data any, at time.Time) (subaccounts.Event, error) {
	id := uuid.Must(uuid.NewV7())
	body, err := json.Marshal(Payload{
		ID: id.String(), Type: typ, Timestamp: api.Time(at), AccountID: accountID.String(),
		SubaccountID: api.IDPtr(sub), Data: data,
	})
	if err != nil {
		return subaccounts.Event{}, fmt.Errorf("event %s: %w", typ, err)
	}
	return subaccounts.Event{AccountID: accountID, ID: id, Type: typ, SubaccountID: sub, Payload: body, CreatedAt: at}, nil
}

// eventsOf is what one change tells the account's systems: nothing for changes no
// event describes (clients, the account's creation, a cascade's bulk card removal,
// which subaccount.deleted covers).
func eventsOf(c subaccounts.Change) ([]pending, error) {
	switch c.Action {
	case "transaction.route":
		t, err := as[subaccounts.Transaction](c, c.After)
		return one("transaction.routed", &t.SubaccountID, func() any { return api.FromTransaction(t) }), err
	case "transaction.unroute":
		t, err := as[subaccounts.Transaction](c, c.After)
		return one("transaction.unrouted", nil, func() any { return api.FromUnrouted(t) }), err
	case "card.enrol", "card.remove", "card.policy-change":
		card, err := as[subaccounts.Card](c, c.After)
		return one(cardTypes[c.Action], &card.SubaccountID, func() any { return api.FromCard(card) }), err
	case "card.move":
		before, err := as[subaccounts.Card](c, c.Before)
		if err != nil {
			return nil, err
		}
		after, err := as[subaccounts.Card](c, c.After)
		return cardMoved(before, after), err
	case "subaccount.create", "subaccount.update", "subaccount.narrow", "subaccount.suspend", "subaccount.reactivate", "subaccount.over-limit":
		sub, err := as[subaccounts.Subaccount](c, c.After)
		return one(subaccountTypes[c.Action], &sub.ID, func() any { return api.FromSubaccount(sub) }), err
	case "subaccount.delete":
		sub, err := as[subaccounts.Subaccount](c, c.Before)
		return one("subaccount.deleted", &sub.ID, func() any { return api.FromSubaccount(sub) }), err
	case "credit-transfer.create", "balance-transfer.create", "top-up.create", "balance-transfer.auto":
		e, err := as[subaccounts.Entry](c, c.After)
		kind := string(e.Kind)
		if c.Action == "balance-transfer.auto" {
			kind = "auto-top-up"
		}
		return one("transfer.created", e.SubaccountID, func() any { return TransferData{Transfer: api.FromTransfer(e), Kind: kind} }), err
	case "contract.update", "account.update":
		a, err := as[subaccounts.Account](c, c.After)
		return one(accountTypes[c.Action], nil, func() any { return api.FromAccount(a) }), err
	case "webhook-endpoint.disable":
		e, err := as[subaccounts.WebhookEndpoint](c, c.After)
		return []pending{{typ: "webhook-endpoint.disabled", sub: e.SubaccountID, skip: e.ID, data: func() any { return api.FromWebhookEndpoint(e) }}}, err
	}
	return nil, nil
}

// as is v as a T (or the T a *T points at); a change whose values are of another type is
// a programming error the change's transaction fails on, not an event silently lost.
func as[T any](c subaccounts.Change, v any) (T, error) {
	switch x := v.(type) {
	case T:
		return x, nil
	case *T:
		if x != nil {
			return *x, nil
		}
	}
	var zero T
	return zero, fmt.Errorf("event of %s: unexpected %T", c.Action, v)
}

var (
	cardTypes       = map[string]string{"card.enrol": "card.enrolled", "card.remove": "card.removed", "card.policy-change": "card.policy-changed"}
	subaccountTypes = map[string]string{
		"subaccount.create": "subaccount.created", "subaccount.update": "subaccount.updated", "subaccount.narrow": "subaccount.updated",
		"subaccount.suspend": "subaccount.suspended", "subaccount.reactivate": "subaccount.reactivated", "subaccount.over-limit": "subaccount.over-limit",
	}
	accountTypes = map[string]string{"contract.update": "contract.updated", "account.update": "account.updated"}
)

func one(typ string, sub *uuid.UUID, data func() any) []pending {
	return []pending{{typ: typ, sub: sub, data: data}}
}

// cardMoved tells both subaccounts: the one the card went to and the one it left.
func cardMoved(before, after subaccounts.Card) []pending {
	data := func() any { return api.FromCard(after) }
	out := one("card.moved", &after.SubaccountID, data)
	if before.SubaccountID != after.SubaccountID {
		out = append(out, pending{typ: "card.moved", sub: &before.SubaccountID, data: data})
	}
	return out
}
