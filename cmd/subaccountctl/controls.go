package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// subaccountPatch is the body of PATCH /v1/subaccounts/{id}; this CLI sends the cost
// controls and suspension. Absent members are left as they are.
type subaccountPatch = api.PatchSubaccountRequest

// patchSubaccount reads subaccount id, has decide build the change from what it read,
// and sends it with If-Match naming the version read: a change someone else makes in
// between then fails with 412 instead of being overwritten. decide returns nil when
// there is nothing to change, with a note saying why.
func (a *app) patchSubaccount(ctx context.Context, id string, decide func(subaccount) (*subaccountPatch, string)) error {
	api, err := a.client(ctx)
	if err != nil {
		return err
	}
	path := "/v1/subaccounts/" + pathID(id)
	var cur subaccount
	raw, hdr, err := api.exchange(ctx, http.MethodGet, path, nil, nil, nil, &cur)
	if err != nil {
		return err
	}
	etag := hdr.Get("ETag")
	if etag == "" {
		return fmt.Errorf("GET %s: the answer carries no ETag, so a change could overwrite someone else's; nothing was changed", path)
	}
	patch, note := decide(cur)
	if patch == nil {
		fmt.Fprintf(a.stderr, "subaccountctl: %s; nothing was changed\n", note)
		return a.showSubaccount(ctx, raw, cur)
	}
	h := http.Header{}
	h.Set("If-Match", etag)
	var s subaccount
	raw, _, err = api.exchange(ctx, http.MethodPatch, path, nil, h, patch, &s)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusPreconditionFailed {
		ae.hint = fmt.Sprintf("subaccount %s was changed by someone else after this command read it, so nothing was changed; "+
			"look at it with 'subaccountctl subaccounts get %s' and run the command again if it still applies", id, id)
	}
	if err != nil {
		return err
	}
	return a.showSubaccount(ctx, raw, s)
}

// runSubaccountsSuspension serves "subaccounts suspend" (suspend true) and
// "subaccounts reactivate".
func runSubaccountsSuspension(suspend bool) func(context.Context, *app, *command, []string) (int, error) {
	return func(ctx context.Context, a *app, c *command, args []string) (int, error) {
		pos, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 1)
		if err != nil {
			return 0, err
		}
		return exitOK, a.patchSubaccount(ctx, pos[0], func(cur subaccount) (*subaccountPatch, string) {
			if cur.Suspended == suspend {
				if suspend {
					return nil, "subaccount " + cur.ID + " is already suspended"
				}
				return nil, "subaccount " + cur.ID + " is not suspended"
			}
			return &subaccountPatch{Suspended: &suspend}, ""
		})
	}
}

// parseAutoTopUp reads --auto-top-up: THRESHOLD:AMOUNT in minor units (the threshold may
// be negative, to top up only once credit is being used), or "off".
func parseAutoTopUp(s string) (autoTopUp, error) {
	if strings.EqualFold(strings.TrimSpace(s), "off") {
		return autoTopUp{}, nil
	}
	th, am, ok := strings.Cut(s, ":")
	if !ok {
		return autoTopUp{}, usagef("--auto-top-up must be THRESHOLD:AMOUNT in minor units (e.g. 1000:5000) or off")
	}
	threshold, err := parseSignedAmount(th)
	if err != nil {
		return autoTopUp{}, usagef("--auto-top-up threshold: %v", err)
	}
	am = strings.TrimSpace(am)
	if !digitsOnly.MatchString(am) {
		return autoTopUp{}, usagef("--auto-top-up amount must be an integer of minor units, 0 or more; got %q", am)
	}
	amount, err := strconv.ParseInt(am, 10, 64)
	if err != nil {
		return autoTopUp{}, usagef("--auto-top-up amount %q is out of range", am)
	}
	return autoTopUp{Threshold: threshold, Amount: amount}, nil
}

func runSubaccountsSet(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var own, shared bool
	var topUpText string
	var maxCards int
	fs.BoolVar(&own, "own-balance", false, "")
	fs.BoolVar(&shared, "shared-balance", false, "")
	fs.StringVar(&topUpText, "auto-top-up", "", "")
	fs.IntVar(&maxCards, "max-cards", 0, "")
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	var patch subaccountPatch
	switch {
	case own && shared:
		return 0, usagef("--own-balance and --shared-balance exclude each other")
	case own || shared:
		v := shared
		patch.UsePrimaryAccountBalance = &v
	}
	if flagGiven(fs, "auto-top-up") {
		t, err := parseAutoTopUp(topUpText)
		if err != nil {
			return 0, err
		}
		if shared && t.Amount > 0 {
			return 0, usagef("--auto-top-up needs a balance of its own: it cannot go with --shared-balance")
		}
		patch.AutoTopUp = &api.AutoTopUpRequest{Threshold: &t.Threshold, Amount: &t.Amount}
	}
	if flagGiven(fs, "max-cards") {
		if maxCards < 0 {
			return 0, usagef("--max-cards must be 0 (no quota) or more")
		}
		patch.MaxCards = &maxCards
	}
	if patch == (subaccountPatch{}) {
		return 0, usagef("nothing to set: give --own-balance, --shared-balance, --auto-top-up or --max-cards")
	}
	return exitOK, a.patchSubaccount(ctx, pos[0], func(subaccount) (*subaccountPatch, string) { return &patch, "" })
}
