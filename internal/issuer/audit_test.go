package issuer_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestClientChangesAreAudited: creating and revoking a client append client.create and
// client.revoke to its account's log as the actor in the context, without the secret or
// its hash; refused changes append nothing.
func TestClientChangesAreAudited(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	acct, other := e.account(t), e.account(t)
	ctx := subaccounts.WithActor(e.ctx, subaccounts.Actor{Subject: "op", ClientID: "op-client", RequestID: "req-9"})
	c, secret, err := e.issuer.CreateClient(ctx, acct, issuer.ClientInput{Name: "audited", Scopes: []string{subaccounts.ScopeAuditRead}})
	if err != nil {
		t.Fatal(err)
	}
	// Refused: invalid input, another account's client, an unknown client.
	if _, _, err := e.issuer.CreateClient(ctx, acct, issuer.ClientInput{Name: "", Scopes: []string{"x"}}); err == nil {
		t.Fatal("invalid client created")
	}
	if err := e.issuer.RevokeClient(ctx, other, c.ID); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Fatalf("revoking through another account: %v", err)
	}
	if err := e.issuer.RevokeClient(ctx, acct, uuid.NewString()); !errors.Is(err, subaccounts.ErrNotFound) {
		t.Fatalf("revoking an unknown client: %v", err)
	}
	if err := e.issuer.RevokeClient(ctx, acct, c.ID); err != nil {
		t.Fatal(err)
	}

	// The events were written unchained with each change; chain them as the service's
	// chainer would.
	for _, a := range []uuid.UUID{acct, other} {
		if _, err := e.store.ChainAuditEvents(e.ctx, a, 100); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := e.store.AuditEventsAfter(e.ctx, acct, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Action != "client.create" || evs[1].Action != "client.revoke" {
		t.Fatalf("events %+v", evs)
	}
	for _, ev := range evs {
		if ev.ResourceType != "client" || ev.ResourceID != c.ID || ev.ActorSubject != "op" || ev.ActorClientID != "op-client" || ev.RequestID != "req-9" {
			t.Errorf("event %+v", ev)
		}
		for _, doc := range []json.RawMessage{ev.Before, ev.After} {
			if strings.Contains(string(doc), c.SecretHash) || strings.Contains(string(doc), secret) || strings.Contains(strings.ToLower(string(doc)), "secret") {
				t.Errorf("%s event holds the secret or its hash: %s", ev.Action, doc)
			}
		}
	}
	var after map[string]any
	if err := json.Unmarshal(evs[0].After, &after); err != nil || after["clientId"] != c.ID || evs[0].Before != nil {
		t.Errorf("client.create before %s, after %s", evs[0].Before, evs[0].After)
	}
	if evs[1].Before == nil || evs[1].After != nil {
		t.Errorf("client.revoke before %s, after %s", evs[1].Before, evs[1].After)
	}
	if evs, _ := e.store.AuditEventsAfter(e.ctx, other, 0, 100); len(evs) != 0 {
		t.Errorf("the other account has %d events", len(evs))
	}
}
