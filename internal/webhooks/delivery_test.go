package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/cardseg/subaccounts/internal/app"
	"github.com/cardseg/subaccounts/internal/audit"
	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/keys/keystest"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/store"
	"github.com/cardseg/subaccounts/internal/store/storetest"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
	"github.com/cardseg/subaccounts/internal/webhooks"
	"github.com/cardseg/subaccounts/policy"
)

// testSchedule retries fast, so a test sees a whole schedule in well under a second.
var testSchedule = []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}

func ptr[T any](v T) *T { return &v }

// ntid numbers the test's network transaction ids (a random UUID may hold a digit run
// the card-data guard refuses).
var ntid atomic.Int64

// received is one request a hookReceiver got.
type received struct {
	header http.Header
	body   []byte
	at     time.Time
}

// hookReceiver is a real HTTP endpoint (httptest) that answers with answer and keeps every
// request it got.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, w http.ResponseWriter, r *http.Request)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *hookReceiver {
	t.Helper()
	rc := &hookReceiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body, at: time.Now()})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.answer == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		rc.answer(n, w, r)
	}))
	t.Cleanup(rc.Server.Close)
	return rc
}

func (rc *hookReceiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// hooks is one account with a subaccount, a card in it, and services delivering with a
// short schedule.
type hooks struct {
	t    testing.TB
	db   *store.DB
	ring *keys.Ring
	svc  *app.Services
	p    subaccounts.Principal
	sub  subaccounts.Subaccount
	card subaccounts.Card
}

var usa = []policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}

func newHooks(t *testing.T, dialect string, worker *webhooks.WorkerConfig) *hooks {
	t.Helper()
	db := storetest.Open(t, dialect)
	ring := keystest.Ring(t)
	if _, err := keys.CheckFingerprintKeys(t.Context(), db, ring); err != nil {
		t.Fatal(err)
	}
	if worker != nil {
		if worker.Schedule == nil {
			worker.Schedule = testSchedule
		}
		if worker.Poll == 0 {
			worker.Poll = 10 * time.Millisecond
		}
		if worker.Timeout == 0 {
			worker.Timeout = 2 * time.Second
		}
	}
	h := &hooks{t: t, db: db, ring: ring}
	h.svc = app.New(db, app.Config{
		Keys: ring, WebhookAllowPrivateNetworks: true, Events: events.Config{Schedule: testSchedule}, Delivery: worker,
	})
	t.Cleanup(h.svc.Close)
	h.p, h.sub = h.newAccount("Acme")
	h.card = h.enrol(h.p, h.sub, "4111111111111111")
	return h
}

func (h *hooks) newAccount(name string) (subaccounts.Principal, subaccounts.Subaccount) {
	h.t.Helper()
	ctx := h.t.Context()
	a, err := h.svc.Tenancy.CreateAccount(ctx, name, tenancy.ContractInput{Configurations: usa, MaxSubaccounts: ptr(5)})
	if err != nil {
		h.t.Fatal(err)
	}
	p := subaccounts.Principal{AccountID: a.ID, Scopes: subaccounts.TenantScopes}
	return p, h.newSubaccount(p, "Shop")
}

func (h *hooks) newSubaccount(p subaccounts.Principal, name string) subaccounts.Subaccount {
	h.t.Helper()
	sub, err := h.svc.Tenancy.CreateSubaccount(h.t.Context(), p, tenancy.SubaccountInput{Name: name, Configurations: usa})
	if err != nil {
		h.t.Fatal(err)
	}
	return sub
}

func (h *hooks) enrol(p subaccounts.Principal, sub subaccounts.Subaccount, number string) subaccounts.Card {
	h.t.Helper()
	c, err := h.svc.Cards.EnrolCard(h.t.Context(), p, sub.ID, cards.CardInput{
		Number: ptr(number), ExpMonth: ptr(12), ExpYear: ptr(time.Now().Year() + 1), CountryCode: ptr("USA"), TermsOfUse: ptr(true),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// endpoint creates an endpoint to url and returns it with its secret.
func (h *hooks) endpoint(p subaccounts.Principal, url string, sub *uuid.UUID, types ...string) (subaccounts.WebhookEndpoint, string) {
	h.t.Helper()
	e, secret, err := h.svc.Webhooks.Create(h.t.Context(), p, webhooks.EndpointInput{URL: &url, SubaccountID: sub, EventTypes: &types})
	if err != nil {
		h.t.Fatal(err)
	}
	return e, secret
}

// ingest routes one message for card and returns the transaction.
func (h *hooks) ingest(p subaccounts.Principal, cardID uuid.UUID) subaccounts.Transaction {
	h.t.Helper()
	out, err := h.svc.Routing.IngestTransaction(h.t.Context(), p, routing.MessageInput{
		NetworkTransactionID: ptr(fmt.Sprintf("ntid-%d", ntid.Add(1))), Type: ptr("auth"), Amount: ptr(int64(100)), Currency: ptr("USD"),
		Datetime: ptr("2026-11-20T10:00:00Z"), CardID: ptr(cardID.String()),
		Merchant: &routing.MerchantInput{Name: ptr("Diner"), MCC: ptr("5812"), CountryCode: ptr("USA")},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return out.Transaction
}

func (h *hooks) deliveries(p subaccounts.Principal, endpointID uuid.UUID, f subaccounts.DeliveryFilter) []subaccounts.Delivery {
	h.t.Helper()
	ds, _, err := h.svc.Webhooks.Deliveries(h.t.Context(), p, endpointID, f, subaccounts.Page{Limit: 100})
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

func (h *hooks) waitDeliveries(p subaccounts.Principal, endpointID uuid.UUID, status subaccounts.DeliveryStatus, n int) []subaccounts.Delivery {
	h.t.Helper()
	var ds []subaccounts.Delivery
	waitFor(h.t, fmt.Sprintf("%d %s deliveries", n, status), 10*time.Second, func() bool {
		ds = h.deliveries(p, endpointID, subaccounts.DeliveryFilter{Status: status})
		return len(ds) >= n
	})
	return ds
}

func payloadOf(t testing.TB, body []byte) events.Payload {
	t.Helper()
	var p events.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("payload %s: %v", body, err)
	}
	return p
}

// TestDeliverySignedPerStandardWebhooks: a routed transaction reaches a subscribed
// endpoint as a Standard Webhooks message — verified by the reference library — whose
// payload carries the transaction as the API returns it, and the delivery is listed as
// delivered with its attempt.
func TestDeliverySignedPerStandardWebhooks(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, &webhooks.WorkerConfig{})
			rc := newReceiver(t, nil)
			e, secret := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			txn := h.ingest(h.p, h.card.ID)
			waitFor(t, "the delivery", 10*time.Second, func() bool { return len(rc.requests()) == 1 })
			got := rc.requests()[0]
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(got.body, got.header); err != nil {
				t.Fatalf("the reference library refuses the signature: %v", err)
			}
			pl := payloadOf(t, got.body)
			data, _ := pl.Data.(map[string]any)
			if pl.Type != "transaction.routed" || data["id"] != txn.ID.String() || pl.SubaccountID == nil || *pl.SubaccountID != h.sub.ID.String() {
				t.Errorf("payload %s, want transaction.routed of %s in %s", got.body, txn.ID, h.sub.ID)
			}
			for name, want := range map[string]string{
				"webhook-id": pl.ID, "webhook-event-type": "transaction.routed", "webhook-subaccount-id": h.sub.ID.String(),
				"Content-Type": "application/json", "User-Agent": webhooks.UserAgent,
			} {
				if v := got.header.Get(name); v != want {
					t.Errorf("%s = %q, want %q", name, v, want)
				}
			}
			ds := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, 1)
			if len(ds[0].History) != 1 || ds[0].History[0].StatusCode != http.StatusNoContent || ds[0].EventID.String() != pl.ID {
				t.Errorf("delivery %+v, want one 204 attempt of event %s", ds[0], pl.ID)
			}
		})
	}
}

// TestDeliveryRetriedUntilAccepted: a hookReceiver that fails twice gets the same webhook-id
// a third time, on the schedule, and the history keeps all three attempts.
func TestDeliveryRetriedUntilAccepted(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, &webhooks.WorkerConfig{})
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				if n <= 2 {
					http.Error(w, "try later", http.StatusInternalServerError)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			h.ingest(h.p, h.card.ID)
			ds := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, 1)
			got := rc.requests()
			if len(got) != 3 {
				t.Fatalf("%d requests, want 3", len(got))
			}
			for _, r := range got[1:] {
				if r.header.Get("webhook-id") != got[0].header.Get("webhook-id") {
					t.Errorf("webhook-id changed across retries: %q, %q", got[0].header.Get("webhook-id"), r.header.Get("webhook-id"))
				}
			}
			if gap := got[1].at.Sub(got[0].at); gap < 25*time.Millisecond {
				t.Errorf("retried after %s, want the schedule's 30ms (±10%%)", gap)
			}
			codes := []int{}
			for _, a := range ds[0].History {
				codes = append(codes, a.StatusCode)
			}
			if !slices.Equal(codes, []int{500, 500, 200}) || ds[0].History[0].ResponseBody != "try later\n" {
				t.Errorf("attempts %v (first body %q), want 500, 500, 200", codes, ds[0].History[0].ResponseBody)
			}
		})
	}
}

// TestDeliveryExhaustedThenResentAndRecovered: a delivery whose schedule runs out is
// failed; resend makes exactly one more attempt with the same webhook-id, and recover
// queues every failed delivery since a time.
func TestDeliveryExhaustedThenResentAndRecovered(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, &webhooks.WorkerConfig{})
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			start := subaccounts.Now().Add(-time.Second)
			h.ingest(h.p, h.card.ID)
			h.ingest(h.p, h.card.ID)
			failed := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryFailed, 2)
			if n := len(rc.requests()); n != 2*(len(testSchedule)+1) {
				t.Fatalf("%d requests, want %d: every attempt of the schedule, no more", n, 2*(len(testSchedule)+1))
			}
			d0, err := h.svc.Webhooks.Resend(t.Context(), h.p, e.ID, failed[0].ID)
			if err != nil || d0.Status != subaccounts.DeliveryPending {
				t.Fatalf("resend = %+v, %v", d0, err)
			}
			waitFor(t, "the resend's attempt", 10*time.Second, func() bool { return len(rc.requests()) == 2*(len(testSchedule)+1)+1 })
			again := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryFailed, 2)
			if last := rc.requests()[len(rc.requests())-1]; last.header.Get("webhook-id") != failed[0].EventID.String() {
				t.Errorf("resent webhook-id %q, want %s", last.header.Get("webhook-id"), failed[0].EventID)
			}
			for _, d := range again {
				if d.ID == failed[0].ID && len(d.History) != len(testSchedule)+2 {
					t.Errorf("resent delivery has %d attempts, want one more than the schedule's %d", len(d.History), len(testSchedule)+1)
				}
			}
			n, err := h.svc.Webhooks.Recover(t.Context(), h.p, e.ID, start)
			if err != nil || n != 2 {
				t.Fatalf("recover = %d, %v; want both failed deliveries", n, err)
			}
			waitFor(t, "the recovered attempts", 10*time.Second, func() bool { return len(rc.requests()) == 2*(len(testSchedule)+1)+3 })
			var invalid *subaccounts.Error
			if _, err := h.svc.Webhooks.Recover(t.Context(), h.p, e.ID, time.Now().Add(time.Hour)); !errors.As(err, &invalid) || invalid.Code != subaccounts.CodeValidation {
				t.Errorf("recover since the future = %v, want invalid", err)
			}
		})
	}
}

// TestGoneDisablesAndReenablingResumes: 410 disables the endpoint at once (reason kept,
// audited, webhook-endpoint.disabled to the account's other endpoints); nothing is sent
// to it while disabled, and re-enabling it sends what is pending.
func TestGoneDisablesAndReenablingResumes(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, &webhooks.WorkerConfig{})
			var gone sync.Mutex
			isGone := true
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
				gone.Lock()
				defer gone.Unlock()
				if isGone {
					w.WriteHeader(http.StatusGone)
					return
				}
				w.WriteHeader(http.StatusOK)
			})
			other := newReceiver(t, nil)
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			h.endpoint(h.p, other.URL, nil, "webhook-endpoint.disabled")
			h.ingest(h.p, h.card.ID)
			waitFor(t, "the endpoint disabled", 10*time.Second, func() bool {
				got, err := h.svc.Webhooks.Get(t.Context(), h.p, e.ID)
				return err == nil && got.Disabled
			})
			got, _ := h.svc.Webhooks.Get(t.Context(), h.p, e.ID)
			if got.DisabledReason != webhooks.ReasonGone || len(rc.requests()) != 1 {
				t.Errorf("disabled for %q after %d requests, want %q after one", got.DisabledReason, len(rc.requests()), webhooks.ReasonGone)
			}
			waitFor(t, "webhook-endpoint.disabled at the other endpoint", 10*time.Second, func() bool { return len(other.requests()) == 1 })
			pl := payloadOf(t, other.requests()[0].body)
			if data, _ := pl.Data.(map[string]any); pl.Type != "webhook-endpoint.disabled" || data["id"] != e.ID.String() || data["status"] != "disabled" {
				t.Errorf("disabled event %s", other.requests()[0].body)
			}
			if _, ok := data(pl)["secret"]; ok {
				t.Error("the disabled event carries a secret")
			}
			evs, _, err := h.svc.Audit.ListAuditEvents(t.Context(), h.p, audit.AuditQuery{Action: "webhook-endpoint.disable"}, subaccounts.Page{Limit: 10})
			if err != nil || len(evs) != 1 {
				t.Errorf("audit of the disabling: %d events, %v", len(evs), err)
			}
			// Pending again while disabled: nothing is sent until it is re-enabled.
			failed := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryFailed, 1)
			if _, err := h.svc.Webhooks.Resend(t.Context(), h.p, e.ID, failed[0].ID); err != nil {
				t.Fatal(err)
			}
			time.Sleep(150 * time.Millisecond)
			if n := len(rc.requests()); n != 1 {
				t.Fatalf("%d requests to a disabled endpoint, want none after the first", n-1)
			}
			gone.Lock()
			isGone = false
			gone.Unlock()
			if _, err := h.svc.Webhooks.Update(t.Context(), h.p, e.ID, webhooks.EndpointInput{Disabled: ptr(false)}); err != nil {
				t.Fatal(err)
			}
			h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, 1)
		})
	}
}

func data(p events.Payload) map[string]any {
	m, _ := p.Data.(map[string]any)
	return m
}

// TestRetryAfterIsHonoured: a 429 with Retry-After waits at least that long, however
// short the schedule.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
	h.ingest(h.p, h.card.ID)
	h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, 1)
	got := rc.requests()
	if gap := got[1].at.Sub(got[0].at); gap < time.Second {
		t.Errorf("retried %s after a 429 with Retry-After: 1", gap)
	}
}

// TestHangingEndpointDoesNotStarveOthers: an endpoint that never answers holds at most
// its per-endpoint share of the worker; another endpoint's events keep flowing.
func TestHangingEndpointDoesNotStarveOthers(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			testHangingEndpointDoesNotStarveOthers(t, d)
		})
	}
}

func testHangingEndpointDoesNotStarveOthers(t *testing.T, dialect string) {
	release := make(chan struct{})
	h := newHooks(t, dialect, &webhooks.WorkerConfig{InFlight: 4, PerEndpoint: 2, Timeout: 5 * time.Second})
	hang := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })
	fine := newReceiver(t, nil)
	h.endpoint(h.p, hang.URL, nil, "transaction.routed")
	e, _ := h.endpoint(h.p, fine.URL, nil, "transaction.routed")
	for range 10 {
		h.ingest(h.p, h.card.ID)
	}
	h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, 10)
	if n := len(hang.requests()); n > 2 {
		t.Errorf("%d requests in flight to the hanging endpoint, want at most its 2", n)
	}
}

// TestTimeoutIsAFailedAttempt: an answer slower than the attempt's timeout is recorded
// as a timeout and retried.
func TestTimeoutIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{Timeout: 100 * time.Millisecond})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		w.WriteHeader(http.StatusOK)
	})
	e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
	h.ingest(h.p, h.card.ID)
	ds := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, 1)
	if a := ds[0].History[0]; a.StatusCode != 0 || !strings.HasPrefix(a.Error, "timeout") {
		t.Errorf("first attempt %+v, want a timeout without status", a)
	}
}

// TestRedirectsAreNotFollowed: a 3xx is the attempt's answer (a failure), and the
// redirect's target never hears of the event.
func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{Schedule: []time.Duration{10 * time.Millisecond}})
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	})
	e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
	h.ingest(h.p, h.card.ID)
	ds := h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryFailed, 1)
	if n := len(target.requests()); n != 0 || ds[0].History[0].StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("redirect target got %d requests; first attempt %+v", n, ds[0].History[0])
	}
}

// TestEventsReachOnlyTheirSubscribers: a subaccount's endpoint receives that subaccount's
// events only, an account-wide one all of them, and another account's endpoint none;
// account-level events go to account-wide endpoints only.
func TestEventsReachOnlyTheirSubscribers(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, &webhooks.WorkerConfig{})
			second := h.newSubaccount(h.p, "Second")
			pB, subB := h.newAccount("Tenant B")
			all, mine, theirs, tenantB := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
			h.endpoint(h.p, all.URL, nil, "*")
			h.endpoint(h.p, mine.URL, &h.sub.ID, "*")
			h.endpoint(h.p, theirs.URL, &second.ID, "card.enrolled")
			h.endpoint(pB, tenantB.URL, nil, "*")
			h.ingest(h.p, h.card.ID)
			h.enrol(h.p, second, "4012888888881881")
			h.ingest(h.p, uuid.New()) // unknown card: transaction.unrouted, account-level
			enrolledB := h.enrol(pB, subB, "4000056655665556")
			h.ingest(pB, enrolledB.ID)
			waitFor(t, "the account-wide endpoint's three events", 10*time.Second, func() bool { return len(all.requests()) == 3 })
			waitFor(t, "tenant B's two events", 10*time.Second, func() bool { return len(tenantB.requests()) == 2 })
			time.Sleep(100 * time.Millisecond)
			types := func(rc *hookReceiver, acct uuid.UUID) []string {
				var out []string
				for _, r := range rc.requests() {
					pl := payloadOf(t, r.body)
					if pl.AccountID != acct.String() || (pl.SubaccountID != nil && r.header.Get("webhook-subaccount-id") != *pl.SubaccountID) {
						t.Errorf("event of another account, or header and payload disagree: %s", r.body)
					}
					out = append(out, pl.Type)
				}
				slices.Sort(out)
				return out
			}
			for name, tc := range map[string]struct {
				rc   *hookReceiver
				acct uuid.UUID
				want []string
			}{
				"account-wide": {all, h.p.AccountID, []string{"card.enrolled", "transaction.routed", "transaction.unrouted"}},
				"subaccount":   {mine, h.p.AccountID, []string{"transaction.routed"}},
				"other sub":    {theirs, h.p.AccountID, []string{"card.enrolled"}},
				"tenant B":     {tenantB, pB.AccountID, []string{"card.enrolled", "transaction.routed"}},
			} {
				if got := types(tc.rc, tc.acct); !slices.Equal(got, tc.want) {
					t.Errorf("%s endpoint received %v, want %v", name, got, tc.want)
				}
			}
			for _, r := range tenantB.requests() {
				if strings.Contains(string(r.body), h.p.AccountID.String()) {
					t.Errorf("tenant B received account A's data: %s", r.body)
				}
			}
		})
	}
}

// TestRolledBackChangeHasNoEvent: the events of a change are written in its transaction:
// when it rolls back, so do they; when it commits, they are there.
func TestRolledBackChangeHasNoEvent(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, nil)
			e, _ := h.endpoint(h.p, "http://127.0.0.1:1/hook", nil, "*")
			change := subaccounts.Change{Action: "subaccount.update", ResourceType: "subaccount", ResourceID: h.sub.ID.String(), Before: h.sub, After: h.sub}
			boom := errors.New("boom")
			err := h.db.Transact(t.Context(), func(ctx context.Context) error {
				if err := h.svc.Recorder.Record(ctx, h.p.AccountID, change); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			if ds := h.deliveries(h.p, e.ID, subaccounts.DeliveryFilter{}); len(ds) != 0 {
				t.Fatalf("a rolled-back change left %d deliveries", len(ds))
			}
			// A refused change (a name already taken) leaves none either.
			if _, err := h.svc.Tenancy.CreateSubaccount(t.Context(), h.p, tenancy.SubaccountInput{Name: "Shop", Configurations: usa}); err == nil {
				t.Fatal("duplicate name accepted")
			}
			if ds := h.deliveries(h.p, e.ID, subaccounts.DeliveryFilter{}); len(ds) != 0 {
				t.Fatalf("a refused change left %d deliveries", len(ds))
			}
			err = h.db.Transact(t.Context(), func(ctx context.Context) error { return h.svc.Recorder.Record(ctx, h.p.AccountID, change) })
			if err != nil {
				t.Fatal(err)
			}
			if ds := h.deliveries(h.p, e.ID, subaccounts.DeliveryFilter{}); len(ds) != 1 || ds[0].EventType != "subaccount.updated" {
				t.Fatalf("a committed change left %+v, want one subaccount.updated", ds)
			}
		})
	}
}

// TestNoEndpointNoEvent: an account without endpoints writes no event: its changes pay
// for no outbox row.
func TestNoEndpointNoEvent(t *testing.T) {
	t.Parallel()
	h := newHooks(t, "sqlite", nil)
	h.ingest(h.p, h.card.ID)
	h.enrol(h.p, h.sub, "4012888888881881")
	// Purging everything up to an hour ahead counts every event there is.
	n, err := h.db.PurgeEvents(t.Context(), time.Now().Add(time.Hour))
	if err != nil || n != 0 {
		t.Errorf("%d events (%v) written for an account that has no endpoint", n, err)
	}
	h.endpoint(h.p, "http://127.0.0.1:1/hook", nil, "transaction.routed")
	h.ingest(h.p, h.card.ID)
	h.enrol(h.p, h.sub, "4000056655665556")
	if n, err := h.db.PurgeEvents(t.Context(), time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("%d events (%v) with one endpoint subscribed to transaction.routed, want the transaction's alone", n, err)
	}
}

// TestTwoReplicasDeliverEachOnce: two workers on one database never send the same
// attempt twice in normal operation, and together deliver everything.
func TestTwoReplicasDeliverEachOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, nil)
			rc := newReceiver(t, nil)
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			const n = 60
			for range n {
				h.ingest(h.p, h.card.ID)
			}
			for i := range 2 {
				w := h.svc.Webhooks.NewWorker(webhooks.WorkerConfig{ID: fmt.Sprintf("replica-%d", i), Poll: 5 * time.Millisecond, InFlight: 8})
				w.Start()
				t.Cleanup(func() { w.Stop(context.Background()) })
			}
			h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, n)
			time.Sleep(50 * time.Millisecond)
			seen := map[string]int{}
			for _, r := range rc.requests() {
				seen[r.header.Get("webhook-id")]++
			}
			if len(seen) != n {
				t.Errorf("%d distinct events received, want %d", len(seen), n)
			}
			for id, c := range seen {
				if c != 1 {
					t.Errorf("event %s sent %d times by two replicas", id, c)
				}
			}
		})
	}
}

// due counts the deliveries a worker could claim now (SKIP LOCKED skips those a claim
// not yet committed holds).
func (h *hooks) due() int {
	h.t.Helper()
	var n int
	if err := h.db.Transact(h.t.Context(), func(ctx context.Context) error {
		ds, err := h.db.DueDeliveries(ctx, time.Now(), 100, nil)
		n = len(ds)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// blockingTransport never answers until released: a replica frozen mid-attempt.
type blockingTransport struct{ release chan struct{} }

func (b blockingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	<-b.release
	return nil, errors.New("released")
}

// TestDeadReplicaLeasesRunOut: deliveries a replica claimed and never finished (it
// died) are sent by another once their lease runs out, with the same webhook-id.
func TestDeadReplicaLeasesRunOut(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, nil)
			rc := newReceiver(t, nil)
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			const n = 10
			for range n {
				h.ingest(h.p, h.card.ID)
			}
			frozen := blockingTransport{release: make(chan struct{})}
			// It claims all n at once, and then has no slot left to claim them again.
			dead := h.svc.Webhooks.NewWorker(webhooks.WorkerConfig{ID: "dead", Poll: 5 * time.Millisecond, Lease: 300 * time.Millisecond,
				InFlight: n, PerEndpoint: n, Client: &http.Client{Transport: frozen}})
			dead.Start()
			t.Cleanup(func() { close(frozen.release); dead.Stop(context.Background()) })
			waitFor(t, "the dead replica's claims", 5*time.Second, func() bool { return h.due() == 0 })
			live := h.svc.Webhooks.NewWorker(webhooks.WorkerConfig{ID: "live", Poll: 5 * time.Millisecond})
			live.Start()
			t.Cleanup(func() { live.Stop(context.Background()) })
			start := time.Now()
			h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryDelivered, n)
			if len(rc.requests()) != n {
				t.Errorf("%d requests, want %d", len(rc.requests()), n)
			}
			t.Logf("the live replica delivered the dead one's %d claims %s after starting", n, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestStopReleasesClaims: a replica shutting down gives up the attempts still running
// at its deadline and releases their claims, so the next replica need not wait for the
// lease to run out.
func TestStopReleasesClaims(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, nil)
			rc := newReceiver(t, nil)
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			h.ingest(h.p, h.card.ID)
			frozen := blockingTransport{release: make(chan struct{})}
			t.Cleanup(func() { close(frozen.release) })
			w := h.svc.Webhooks.NewWorker(webhooks.WorkerConfig{ID: "stopping", Poll: 5 * time.Millisecond, Lease: time.Hour,
				Client: &http.Client{Transport: cancellable{frozen}}})
			w.Start()
			// Read without locking: SKIP LOCKED would also skip a claim not yet committed.
			claimedBy := func() string {
				ds := h.deliveries(h.p, e.ID, subaccounts.DeliveryFilter{})
				if len(ds) != 1 {
					t.Fatalf("%d deliveries, want 1", len(ds))
				}
				return ds[0].ClaimedBy
			}
			waitFor(t, "the claim", 5*time.Second, func() bool { return claimedBy() == "stopping" })
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			w.Stop(ctx)
			if by, n := claimedBy(), h.due(); by != "" || n != 1 {
				t.Fatalf("after the stop: claimed by %q, %d due; want the claim released", by, n)
			}
		})
	}
}

// cancellable gives up a blocked round trip when its request is cancelled.
type cancellable struct{ blockingTransport }

func (c cancellable) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case <-c.release:
		return nil, errors.New("released")
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
}

// TestRotationSignsWithBothSecrets: during a rotation's overlap each message carries two
// signatures, and the reference library verifies it with the old secret and with the
// new; after expireOld=now only the new one verifies.
func TestRotationSignsWithBothSecrets(t *testing.T) {
	t.Parallel()
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{})
	rc := newReceiver(t, nil)
	e, old := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
	_, current, err := h.svc.Webhooks.RotateSecret(t.Context(), h.p, e.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	h.ingest(h.p, h.card.ID)
	waitFor(t, "the delivery", 10*time.Second, func() bool { return len(rc.requests()) == 1 })
	verify := func(secret string, r received) error {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		return wh.Verify(r.body, r.header)
	}
	first := rc.requests()[0]
	if sigs := strings.Fields(first.header.Get("webhook-signature")); len(sigs) != 2 {
		t.Errorf("signature header %q, want two during the overlap", first.header.Get("webhook-signature"))
	}
	if verify(old, first) != nil || verify(current, first) != nil {
		t.Errorf("during the overlap: old verifies %v, new verifies %v", verify(old, first), verify(current, first))
	}
	_, newest, err := h.svc.Webhooks.RotateSecret(t.Context(), h.p, e.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	h.ingest(h.p, h.card.ID)
	waitFor(t, "the second delivery", 10*time.Second, func() bool { return len(rc.requests()) == 2 })
	second := rc.requests()[1]
	if verify(newest, second) != nil || verify(current, second) == nil || verify(old, second) == nil {
		t.Errorf("after expireOld: newest %v, previous %v, oldest %v; want only the newest to verify",
			verify(newest, second), verify(current, second), verify(old, second))
	}
}

// TestFiveDaysOfFailuresDisable: an endpoint failing every delivery since five days ago
// is disabled at its next failure, for that reason.
func TestFiveDaysOfFailuresDisable(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Dialects(t) {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			h := newHooks(t, d, &webhooks.WorkerConfig{})
			rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
			e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
			// A first failure starts the clock.
			h.ingest(h.p, h.card.ID)
			waitFor(t, "the failing clock", 10*time.Second, func() bool {
				got, _ := h.svc.Webhooks.Get(t.Context(), h.p, e.ID)
				return got.FailingSince != nil
			})
			if got, _ := h.svc.Webhooks.Get(t.Context(), h.p, e.ID); got.Disabled {
				t.Fatal("disabled at its first failure")
			}
			h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryFailed, 1)
			longAgo := time.Now().Add(-webhooks.DisableAfter - time.Minute)
			if err := h.db.SetWebhookEndpointFailing(t.Context(), h.p.AccountID, e.ID, &longAgo); err != nil {
				t.Fatal(err)
			}
			h.ingest(h.p, h.card.ID)
			waitFor(t, "the endpoint disabled", 10*time.Second, func() bool {
				got, _ := h.svc.Webhooks.Get(t.Context(), h.p, e.ID)
				return got.Disabled
			})
			if got, _ := h.svc.Webhooks.Get(t.Context(), h.p, e.ID); got.DisabledReason != webhooks.ReasonFailing {
				t.Errorf("disabled for %q, want %q", got.DisabledReason, webhooks.ReasonFailing)
			}
			// Re-enabled, its clock starts afresh.
			got, err := h.svc.Webhooks.Update(t.Context(), h.p, e.ID, webhooks.EndpointInput{Disabled: ptr(false)})
			if err != nil || got.FailingSince != nil {
				t.Errorf("re-enabled: failing since %v, %v", got.FailingSince, err)
			}
		})
	}
}

// TestCardNumbersNeverLeaveInEvents: the PAN canary: no event payload, no stored
// response body (a receiver echoing one back) and no log line of the worker holds the
// card number.
func TestCardNumbersNeverLeaveInEvents(t *testing.T) {
	t.Parallel()
	const canary = "4000056655665556"
	var logs strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		logMu.Lock()
		defer logMu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{Logger: logger})
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"card `+canary+` refused"}`)
	})
	e, _ := h.endpoint(h.p, rc.URL, nil, "*")
	c := h.enrol(h.p, h.sub, canary)
	out, err := h.svc.Routing.IngestTransaction(t.Context(), h.p, routing.MessageInput{
		NetworkTransactionID: ptr(fmt.Sprintf("ntid-%d", ntid.Add(1))), Type: ptr("auth"), Amount: ptr(int64(100)), Currency: ptr("USD"),
		Datetime: ptr("2026-11-20T10:00:00Z"), CardNumber: ptr(canary),
		Merchant: &routing.MerchantInput{Name: ptr("Diner"), MCC: ptr("5812"), CountryCode: ptr("USA")},
	})
	if err != nil || out.Transaction.CardID != c.ID {
		t.Fatalf("ingest by card number: %+v, %v", out, err)
	}
	h.waitDeliveries(h.p, e.ID, subaccounts.DeliveryFailed, 2)
	for _, r := range rc.requests() {
		if strings.Contains(string(r.body), canary) || strings.Contains(string(r.body), canary[6:12]) {
			t.Errorf("an event carries the card number: %s", r.body)
		}
	}
	for _, d := range h.deliveries(h.p, e.ID, subaccounts.DeliveryFilter{}) {
		for _, a := range d.History {
			if strings.Contains(a.ResponseBody, canary) {
				t.Errorf("a stored response body holds the card number: %q", a.ResponseBody)
			}
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logs.String(), canary) {
		t.Error("the worker logged the card number")
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestOtherReplicaSeesANewEndpointWithinTheTTL: a replica that cached an account as
// having no endpoint writes the events of an endpoint created through another replica
// once its cached copy expires (events.DefaultSubscriptionTTL), without a restart.
func TestOtherReplicaSeesANewEndpointWithinTheTTL(t *testing.T) {
	t.Parallel()
	h := newHooks(t, "sqlite", &webhooks.WorkerConfig{})
	other := app.New(h.db, app.Config{Keys: h.ring, WebhookAllowPrivateNetworks: true})
	t.Cleanup(other.Close)
	viaOther := &hooks{t: t, db: h.db, ring: h.ring, svc: other, p: h.p, sub: h.sub, card: h.card}
	viaOther.ingest(h.p, h.card.ID) // the other replica caches "no endpoint"
	rc := newReceiver(t, nil)
	e, _ := h.endpoint(h.p, rc.URL, nil, "transaction.routed")
	start := time.Now()
	sent := map[string]bool{}
	waitFor(t, "the other replica's event", 3*events.DefaultSubscriptionTTL, func() bool {
		sent[viaOther.ingest(h.p, h.card.ID).ID.String()] = true
		time.Sleep(100 * time.Millisecond)
		for _, r := range rc.requests() {
			if id, _ := data(payloadOf(t, r.body))["id"].(string); sent[id] {
				return true
			}
		}
		return false
	})
	t.Logf("the other replica wrote the new endpoint's events %s after its creation", time.Since(start).Round(10*time.Millisecond))
	if ds := h.deliveries(h.p, e.ID, subaccounts.DeliveryFilter{}); len(ds) == 0 {
		t.Error("no delivery listed")
	}
}
