package webhooks_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/internal/webhooks"
	"github.com/cardseg/subaccounts/policy"
)

// schemaOf names the openapi.yaml schema of an event type: transaction.routed is
// TransactionRoutedEvent.
func schemaOf(typ string) string {
	var sb strings.Builder
	for _, part := range strings.FieldsFunc(typ, func(r rune) bool { return r == '.' || r == '-' }) {
		sb.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return sb.String() + "Event"
}

// TestEventPayloadsMatchTheSpec: the events the service really sends — produced by the
// services' own changes and delivered to a receiver — validate against openapi.yaml's
// schema of their type, and every catalogue type has one.
func TestEventPayloadsMatchTheSpec(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range events.Types {
		if doc.Components.Schemas[schemaOf(typ)] == nil {
			t.Errorf("openapi.yaml has no schema %s for %s", schemaOf(typ), typ)
		}
	}
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{})
	rc := newReceiver(t, nil)
	gone := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	all, _ := h.endpoint(h.p, rc.URL, nil, "*")
	ctx := t.Context()

	// Changes of every kind, made through the services.
	h.ingest(h.p, h.card.ID)
	h.ingest(h.p, h.sub.ID) // no such card: unrouted
	second := h.newSubaccount(h.p, "Second")
	if _, err := h.svc.Cards.MoveCard(ctx, h.p, h.card.ID, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Cards.RemoveCard(ctx, h.p, h.card.ID); err != nil {
		t.Fatal(err)
	}
	other := h.enrol(h.p, second, "4012888888881881")
	none := []policy.Configuration{}
	if _, err := h.svc.Tenancy.UpdateSubaccount(ctx, h.p, second.ID, tenancy.SubaccountPatch{Configurations: &none}, false, nil); err != nil {
		t.Fatal(err)
	}
	for _, suspended := range []bool{true, false} {
		if _, err := h.svc.Tenancy.UpdateSubaccount(ctx, h.p, second.ID, tenancy.SubaccountPatch{Suspended: ptr(suspended)}, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.svc.Tenancy.UpdateAccount(ctx, h.p.AccountID, tenancy.AccountPatch{Name: ptr("Acme Renamed")}, nil); err != nil {
		t.Fatal(err)
	}
	// A fee per message takes a subaccount with a balance of its own (0) over its limit.
	pricing := &tenancy.PricingInput{CardEnrolment: ptr(int64(0)), Transaction: ptr(int64(5))}
	if _, err := h.svc.Tenancy.SetContract(ctx, h.p.AccountID, tenancy.ContractInput{Configurations: usa, MaxSubaccounts: ptr(6), Pricing: pricing}, false, false, nil); err != nil {
		t.Fatal(err)
	}
	own, err := h.svc.Tenancy.CreateSubaccount(ctx, h.p, tenancy.SubaccountInput{Name: "Own", Configurations: usa, UsePrimaryBalance: ptr(false)})
	if err != nil {
		t.Fatal(err)
	}
	h.ingest(h.p, h.enrol(h.p, own, "4000056655665556").ID)
	if _, err := h.svc.Ledger.TopUp(ctx, h.p.AccountID, ptr(int64(500)), ptr("payment")); err != nil {
		t.Fatal(err)
	}
	doomed := h.newSubaccount(h.p, "Doomed")
	if err := h.svc.Tenancy.DeleteSubaccount(ctx, h.p, doomed.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Webhooks.Test(ctx, h.p, all.ID); err != nil {
		t.Fatal(err)
	}
	h.endpoint(h.p, gone.URL, nil, "transaction.routed")
	h.ingest(h.p, other.ID)

	want := []string{
		"account.updated", "card.enrolled", "card.moved", "card.policy-changed", "card.removed", "contract.updated",
		"subaccount.created", "subaccount.deleted", "subaccount.over-limit", "subaccount.reactivated", "subaccount.suspended", "subaccount.updated",
		"transaction.routed", "transaction.unrouted", "transfer.created", "webhook-endpoint.disabled", "webhook.test",
	}
	var seen []string
	waitFor(t, "an event of every type made", 10*time.Second, func() bool {
		seen = seen[:0]
		for _, r := range rc.requests() {
			if typ := payloadOf(t, r.body).Type; !slices.Contains(seen, typ) {
				seen = append(seen, typ)
			}
		}
		return len(seen) >= len(want)
	})
	slices.Sort(seen)
	if !slices.Equal(seen, want) {
		t.Errorf("types received %v, want %v", seen, want)
	}
	for _, r := range rc.requests() {
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Fatal(err)
		}
		typ := payloadOf(t, r.body).Type
		ref := doc.Components.Schemas[schemaOf(typ)]
		if ref == nil {
			continue
		}
		if err := ref.Value.VisitJSON(v, openapi3.MultiErrors()); err != nil {
			t.Errorf("%s does not match %s: %v\n%s", typ, schemaOf(typ), err, r.body)
		}
	}
	// The check can fail: a routed transaction without its id does not match.
	for _, r := range rc.requests() {
		var v map[string]any
		if err := json.Unmarshal(r.body, &v); err != nil || v["type"] != "transaction.routed" {
			continue
		}
		delete(v["data"].(map[string]any), "id")
		if err := doc.Components.Schemas[schemaOf("transaction.routed")].Value.VisitJSON(v); err == nil {
			t.Error("a transaction.routed without data.id validates")
		}
		break
	}
}
