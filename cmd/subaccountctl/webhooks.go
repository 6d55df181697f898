package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// webhookEndpoint is the API's WebhookEndpoint.
type webhookEndpoint = api.WebhookEndpoint

// webhookEndpointWithSecret is an endpoint as creation and rotation answer it.
type webhookEndpointWithSecret = api.WebhookEndpointWithSecret

// delivery is the API's Delivery: one event on its way to one endpoint.
type delivery = api.Delivery

// attempt is one try of a delivery.
type attempt = api.Attempt

const webhooksPath = "/v1/webhook-endpoints"

// endpointPath is the path of an endpoint, or of a route under it.
func endpointPath(id string, under ...string) string {
	p := webhooksPath + "/" + pathID(id)
	for _, u := range under {
		p += "/" + u
	}
	return p
}

// keyedEffect is what repeating a webhook POST with its key guarantees.
const keyedEffect = "it takes effect at most once, and a repeat answers as the first request did"

// deliveryStatuses are the values of deliveries --status.
var deliveryStatuses = map[string]bool{"pending": true, "delivered": true, "failed": true}

// parseEventTypes parses --event-types: a comma list of catalogue types, or "*" for
// every type. Whether a type is in the catalogue is the server's to say (it names the
// position of one it does not know), so a CLI older than the server takes new types.
func parseEventTypes(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, usagef("--event-types: empty event type in the list (want e.g. card.enrolled,transaction.routed, or '*')")
		}
		out = append(out, f)
	}
	return out, nil
}

// keyFlag registers --idempotency-key.
func keyFlag(fs *flag.FlagSet, p *string) { fs.StringVar(p, "idempotency-key", "", "") }

// keyed is the outcome of a POST sent with an Idempotency-Key.
type keyed struct {
	raw      []byte
	key      string
	replayed bool
}

// postKeyed sends one POST with an Idempotency-Key, the one given with
// --idempotency-key or a new one announced on stderr first, and decodes the answer into
// out.
func (a *app) postKeyed(ctx context.Context, fs *flag.FlagSet, given, path string, query url.Values, body, out any) (keyed, error) {
	key, generated, err := writeKey(fs, given)
	if err != nil {
		return keyed{}, err
	}
	api, err := a.client(ctx)
	if err != nil {
		return keyed{}, err
	}
	if generated {
		a.announceKey(key, keyedEffect)
	}
	raw, hdr, err := api.exchange(ctx, http.MethodPost, path, query, idempotencyHeaders(key), body, out)
	if err != nil {
		return keyed{}, keyedRetryHint(err, key, fmt.Sprintf("the request may or may not have taken effect; repeat the command with --idempotency-key %s: if it did, the API answers as it did then instead of doing it again", key))
	}
	return keyed{raw: raw, key: key, replayed: hdr.Get("Idempotent-Replayed") == "true"}, nil
}

// show prints a keyed answer: as received with --json (a replay noted on stderr), else
// pairs with the key and, for a replay, what that means.
func (k keyed) show(a *app, pairs []string) error {
	if a.g.json {
		if k.replayed {
			fmt.Fprintf(a.stderr, "subaccountctl: idempotency key %s was used before: this is the earlier answer; nothing was done again\n", k.key)
		}
		return writeJSON(a.stdout, k.raw)
	}
	pairs = append(pairs, "idempotency key", k.key)
	if k.replayed {
		pairs = append(pairs, "replayed", "yes: this key was used before; this is the earlier answer and nothing was done again")
	}
	return kv(a.stdout, pairs...)
}

func runWebhooksCreate(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var target, description, sub, types, key string
	fs.StringVar(&target, "endpoint-url", "", "")
	fs.StringVar(&description, "description", "", "")
	fs.StringVar(&sub, "subaccount", "", "")
	fs.StringVar(&types, "event-types", "", "")
	keyFlag(fs, &key)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if strings.TrimSpace(target) == "" {
		return 0, usagef("--endpoint-url is required: the https URL events are posted to (--url is the API's)")
	}
	if !flagGiven(fs, "event-types") {
		return 0, usagef("--event-types is required: a comma list of event types, or '*' for every type")
	}
	et, err := parseEventTypes(types)
	if err != nil {
		return 0, err
	}
	body := api.WebhookEndpointRequest{URL: &target, EventTypes: &et}
	if flagGiven(fs, "description") {
		body.Description = &description
	}
	if sub = strings.TrimSpace(sub); sub != "" {
		body.SubaccountID = &sub
	}
	var e webhookEndpointWithSecret
	k, err := a.postKeyed(ctx, fs, key, webhooksPath, nil, body, &e)
	if err != nil {
		return 0, err
	}
	return exitOK, k.showSecret(a, e)
}

// showSecret prints an endpoint with its signing secret, which the API shows only in
// this answer: with --json in the document as received; else on a line of its own,
// after the endpoint, saying so.
func (k keyed) showSecret(a *app, e webhookEndpointWithSecret) error {
	if err := k.show(a, endpointPairs(e.WebhookEndpoint)); err != nil || a.g.json {
		return err
	}
	note := "shown only now; store it"
	if k.replayed {
		note = "the secret of the earlier answer; store it"
	}
	if _, err := fmt.Fprintf(a.stdout, "\nsecret: %s (%s)\n", e.Secret, note); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

func runWebhooksList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var sub string
	var limit int
	fs.StringVar(&sub, "subaccount", "", "")
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "subaccountId", strings.TrimSpace(sub))
	items, done, err := listAll[webhookEndpoint](ctx, a, webhooksPath, q, limit, "webhook endpoints")
	if err != nil || done {
		return exitOK, err
	}
	tw := newTable(a.stdout)
	row(tw, "ID", "STATUS", "SUBACCOUNT", "EVENT TYPES", "URL", "DESCRIPTION")
	for _, e := range items {
		row(tw, e.ID, e.Status, orDash(deref(e.SubaccountID)), strings.Join(e.EventTypes, ","), e.URL, orDash(e.Description))
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}

func runWebhooksGet(ctx context.Context, a *app, c *command, args []string) (int, error) {
	pos, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 1)
	if err != nil {
		return 0, err
	}
	return a.endpointCall(ctx, http.MethodGet, endpointPath(pos[0]), nil)
}

func runWebhooksUpdate(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var target, description, types string
	var disable, enable bool
	fs.StringVar(&target, "endpoint-url", "", "")
	fs.StringVar(&description, "description", "", "")
	fs.StringVar(&types, "event-types", "", "")
	fs.BoolVar(&disable, "disable", false, "")
	fs.BoolVar(&enable, "enable", false, "")
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	var body api.WebhookEndpointRequest
	if flagGiven(fs, "endpoint-url") {
		body.URL = &target
	}
	if flagGiven(fs, "description") {
		body.Description = &description
	}
	if flagGiven(fs, "event-types") {
		et, err := parseEventTypes(types)
		if err != nil {
			return 0, err
		}
		body.EventTypes = &et
	}
	switch {
	case disable && enable:
		return 0, usagef("--disable and --enable exclude each other")
	case disable || enable:
		body.Disabled = &disable
	}
	if body == (api.WebhookEndpointRequest{}) {
		return 0, usagef("nothing to change: give --endpoint-url, --description, --event-types, --disable or --enable")
	}
	return a.endpointCall(ctx, http.MethodPatch, endpointPath(pos[0]), body)
}

// endpointCall makes one request answered by a WebhookEndpoint and shows it.
func (a *app) endpointCall(ctx context.Context, method, path string, body any) (int, error) {
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var e webhookEndpoint
	raw, err := api.do(ctx, method, path, nil, body, &e)
	if err != nil {
		return 0, err
	}
	if a.g.json {
		return exitOK, writeJSON(a.stdout, raw)
	}
	return exitOK, kv(a.stdout, endpointPairs(e)...)
}

// endpointPairs describes an endpoint for kv.
func endpointPairs(e webhookEndpoint) []string {
	sub := "- (every subaccount's events and the account's)"
	if e.SubaccountID != nil {
		sub = *e.SubaccountID
	}
	types := strings.Join(e.EventTypes, ",")
	if types == "*" {
		types = "* (every type, present and future)"
	}
	status := e.Status
	if e.DisabledReason != nil {
		status += " (" + *e.DisabledReason + ")"
	}
	pairs := []string{
		"id", e.ID,
		"url", e.URL,
		"description", orDash(e.Description),
		"subaccount", sub,
		"event types", types,
		"status", status,
	}
	if e.SecretRotatingUntil != nil {
		pairs = append(pairs, "previous secret", "still signs until "+*e.SecretRotatingUntil)
	}
	return append(pairs,
		"version", strconv.FormatInt(e.Version, 10),
		"created", e.CreatedAt,
		"updated", e.UpdatedAt,
	)
}

func runWebhooksDelete(ctx context.Context, a *app, c *command, args []string) (int, error) {
	pos, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 1)
	if err != nil {
		return 0, err
	}
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	if _, err := api.do(ctx, http.MethodDelete, endpointPath(pos[0]), nil, nil, nil); err != nil {
		return 0, err
	}
	if a.g.json {
		// 204: the API answers with no document, and so does --json; the exit code says it.
		return exitOK, nil
	}
	fmt.Fprintf(a.stdout, "Deleted webhook endpoint %s.\n", pos[0])
	return exitOK, nil
}

func runWebhooksRotate(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var expireOld bool
	var key string
	fs.BoolVar(&expireOld, "expire-old", false, "")
	keyFlag(fs, &key)
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	var q url.Values
	if expireOld {
		q = url.Values{"expireOld": {"now"}}
	}
	var e webhookEndpointWithSecret
	k, err := a.postKeyed(ctx, fs, key, endpointPath(pos[0], "rotate-secret"), q, nil, &e)
	if err != nil {
		return 0, err
	}
	if err := k.showSecret(a, e); err != nil || a.g.json || e.SecretRotatingUntil != nil {
		return exitOK, err
	}
	// endpointPairs names the overlap when there is one; say that there is none.
	fmt.Fprintln(a.stdout, "The previous secret no longer signs: receivers need the new one now.")
	return exitOK, nil
}

func runWebhooksTest(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var key string
	keyFlag(fs, &key)
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	var d delivery
	k, err := a.postKeyed(ctx, fs, key, endpointPath(pos[0], "test"), nil, nil, &d)
	if err != nil {
		return 0, err
	}
	return exitOK, k.showDelivery(a, d)
}

func runWebhooksResend(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var key string
	keyFlag(fs, &key)
	pos, err := a.parseCommand(c, fs, args, 2)
	if err != nil {
		return 0, err
	}
	var d delivery
	k, err := a.postKeyed(ctx, fs, key, endpointPath(pos[0], "deliveries", pathID(pos[1]), "resend"), nil, nil, &d)
	if err != nil {
		return 0, err
	}
	return exitOK, k.showDelivery(a, d)
}

// showDelivery prints a queued delivery and the attempts it has had.
func (k keyed) showDelivery(a *app, d delivery) error {
	pairs := []string{
		"id", d.ID,
		"endpoint", d.EndpointID,
		"event id", d.EventID + " (the webhook-id the receiver sees)",
		"event type", d.EventType,
		"status", d.Status,
		"next attempt", orDash(deref(d.NextAttemptAt)),
		"attempts", strconv.Itoa(len(d.Attempts)),
		"created", d.CreatedAt,
	}
	if err := k.show(a, pairs); err != nil || a.g.json {
		return err
	}
	return writeAttempts(a.stdout, d)
}

func runWebhooksDeliveries(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var status string
	var limit int
	var attempts bool
	fs.StringVar(&status, "status", "", "")
	fs.BoolVar(&attempts, "attempts", false, "")
	w := windowFlags(fs)
	limitFlag(fs, &limit)
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	if status != "" && !deliveryStatuses[status] {
		return 0, usagef("--status must be pending, delivered or failed, not %q", status)
	}
	if err := w.check(); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "status", status)
	w.set(q)
	items, done, err := listAll[delivery](ctx, a, endpointPath(pos[0], "deliveries"), q, limit, "deliveries")
	if err != nil || done {
		return exitOK, err
	}
	tw := newTable(a.stdout)
	row(tw, "CREATED", "ID", "EVENT TYPE", "STATUS", "ATTEMPTS", "LAST ATTEMPT", "NEXT ATTEMPT")
	for _, d := range items {
		last := "-"
		if n := len(d.Attempts); n > 0 {
			last = attemptOutcome(d.Attempts[n-1])
		}
		row(tw, d.CreatedAt, d.ID, d.EventType, d.Status, len(d.Attempts), last, orDash(deref(d.NextAttemptAt)))
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	if attempts {
		for _, d := range items {
			if err := writeAttempts(a.stdout, d); err != nil {
				return 0, err
			}
		}
	}
	return exitOK, nil
}

// attemptOutcome is an attempt in a few words: the status answered, or the error.
func attemptOutcome(at attempt) string {
	s := "no answer"
	if at.StatusCode != nil {
		s = strconv.Itoa(*at.StatusCode)
	}
	s += fmt.Sprintf(", %d ms", at.LatencyMs)
	if at.Error != nil {
		s += ": " + *at.Error
	}
	return s
}

// writeAttempts prints a delivery's attempts, each with the start of the receiver's
// answer as the API keeps it (the server has already masked anything like a card
// number in it), under a heading naming the delivery. A delivery not yet tried prints
// nothing.
func writeAttempts(w io.Writer, d delivery) error {
	if len(d.Attempts) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nAttempts of delivery %s (%s):\n", d.ID, d.EventType)
	tw := newTable(w)
	row(tw, "  AT", "OUTCOME", "RESPONSE BODY")
	for _, at := range d.Attempts {
		row(tw, "  "+at.At, attemptOutcome(at), orDash(at.ResponseBody))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

func runWebhooksRecover(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var since, key string
	fs.StringVar(&since, "since", "", "")
	keyFlag(fs, &key)
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	if since == "" {
		return 0, usagef("--since is required: failed deliveries created since this RFC 3339 time are sent again")
	}
	if err := timeFlag("since", since); err != nil {
		return 0, err
	}
	var res api.RecoverResult
	k, err := a.postKeyed(ctx, fs, key, endpointPath(pos[0], "recover"), nil, api.RecoverRequest{Since: &since}, &res)
	if err != nil {
		return 0, err
	}
	return exitOK, k.show(a, []string{
		"endpoint", pos[0],
		"since", since,
		"requeued", fmt.Sprintf("%d failed deliveries, each sent once more", res.Requeued),
	})
}

// deref is *p, or "" for nil.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
