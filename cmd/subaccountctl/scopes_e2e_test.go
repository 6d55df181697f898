package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestE2ECommandScopes runs every command against the real server with a token holding
// only the scopes the command names (what it asks an external issuer for by default),
// and expects it to do its work: no 403, and no warning that the account could not be
// read for its currency. The built-in issuer narrows a token to the scopes requested,
// so --scopes stands in for an external issuer here.
func TestE2ECommandScopes(t *testing.T) {
	base := serverURL(t)
	tn := newTenantAt(t, base, map[string]any{"currency": "EUR"}, subaccounts.TenantScopes)
	op := token(t, base, e2eOperatorID, e2eOperatorSecret)
	if code, body := call(t, http.MethodPatch, base+"/v1/accounts/"+tn.accountID, op, map[string]any{"creditLimit": 100000}); code != http.StatusOK {
		t.Fatalf("set the credit limit: %d %v", code, body)
	}
	sub, other := createSub(t, tn, "Scoped"), createSub(t, tn, "Other")
	mustExit(t, runCLI(t, tn.env, "", "subaccounts", "set", sub, "--own-balance"), exitOK, "own balance")
	card := enrolOne(t, tn, sub, visaPAN, "USA")
	// A disabled endpoint is never posted to, so its test delivery stays pending and
	// can be resent at any time (resending one a worker is sending is a conflict).
	hookURL := "https://hooks.example.invalid/in"
	hook := createdID(t, runCLI(t, tn.env, "", "--json", "webhooks", "create", "--endpoint-url", hookURL, "--event-types", "webhook.test"))
	mustExit(t, runCLI(t, tn.env, "", "webhooks", "update", hook, "--disable"), exitOK, "disable")
	hookDelivery := createdID(t, runCLI(t, tn.env, "", "--json", "webhooks", "test", hook))
	doomed := createdID(t, runCLI(t, tn.env, "", "--json", "webhooks", "create", "--endpoint-url", hookURL, "--event-types", "*"))

	// In an order in which each succeeds; stdin is the card number for cards enrol.
	runs := []struct {
		name  string
		env   map[string]string
		stdin string
		args  []string
	}{
		{name: "subaccounts list", args: []string{"subaccounts", "list"}},
		{name: "subaccounts get", args: []string{"subaccounts", "get", sub}},
		{name: "subaccounts create", args: []string{"subaccounts", "create", "--name", "More", "--config", "USA:VISA"}},
		{name: "subaccounts suspend", args: []string{"subaccounts", "suspend", other}},
		{name: "subaccounts reactivate", args: []string{"subaccounts", "reactivate", other}},
		{name: "subaccounts set", args: []string{"subaccounts", "set", sub, "--max-cards", "9"}},
		{name: "cards enrol", stdin: mcPAN + "\n", args: []string{"cards", "enrol", "--subaccount", sub, "--country", "CAN", "--exp", "12/2030", "--number-stdin"}},
		{name: "cards list", args: []string{"cards", "list"}},
		{name: "cards get", args: []string{"cards", "get", card}},
		{name: "cards move", args: []string{"cards", "move", card, "--to", other}},
		{name: "cards remove", args: []string{"cards", "remove", card}},
		{name: "transactions list", args: []string{"transactions", "list"}},
		{name: "account", args: []string{"account"}},
		{name: "transfers create", args: []string{"transfers", "create", "--kind", "credit", "--from", "primary", "--to", sub, "--amount", "100", "--reference", "scoped"}},
		{name: "transfers list", args: []string{"transfers", "list", "--kind", "credit"}},
		{name: "usage", args: []string{"usage"}},
		{name: "compliance check", args: []string{"compliance", "check"}},
		{name: "compliance check", env: operatorEnv(base), args: []string{"compliance", "check", "--account", tn.accountID}},
		{name: "audit list", args: []string{"audit", "list"}},
		{name: "audit verify", args: []string{"audit", "verify"}},
		{name: "webhooks create", args: []string{"webhooks", "create", "--endpoint-url", hookURL, "--event-types", "card.removed"}},
		{name: "webhooks list", args: []string{"webhooks", "list"}},
		{name: "webhooks get", args: []string{"webhooks", "get", hook}},
		{name: "webhooks update", args: []string{"webhooks", "update", hook, "--description", "scoped"}},
		{name: "webhooks rotate", args: []string{"webhooks", "rotate", hook}},
		{name: "webhooks test", args: []string{"webhooks", "test", hook}},
		{name: "webhooks deliveries", args: []string{"webhooks", "deliveries", hook}},
		{name: "webhooks resend", args: []string{"webhooks", "resend", hook, hookDelivery}},
		{name: "webhooks recover", args: []string{"webhooks", "recover", hook, "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}},
		{name: "webhooks delete", args: []string{"webhooks", "delete", doomed}},
	}
	covered := map[string]bool{}
	for _, r := range runs {
		covered[r.name] = true
	}
	for _, c := range commands {
		if !covered[c.fullName()] {
			t.Errorf("command %s is not run here", c.fullName())
		}
	}
	for _, run := range runs {
		t.Run(strings.Join(run.args, " "), func(t *testing.T) {
			c, err := findCommand(run.args)
			if err != nil {
				t.Fatal(err)
			}
			scopes := c.scopes
			if strings.Contains(strings.Join(run.args, " "), "--account") {
				scopes = subaccounts.ScopeAccountsAdmin
			}
			env := map[string]string{"SUBACCOUNTS_SCOPES": scopes}
			src := tn.env
			if run.env != nil {
				src = run.env
			}
			for k, v := range src {
				env[k] = v
			}
			// Every scope named is needed: without any one of them the command fails or
			// warns. (Only where one remains, since no scope at all asks for every
			// scope; and first, so that a run that should fail meets the state the
			// real run does.)
			if list := splitScopes(scopes); len(list) > 1 {
				for i := range list {
					fewer := map[string]string{"SUBACCOUNTS_SCOPES": strings.Join(slices.Delete(slices.Clone(list), i, i+1), " ")}
					for k, v := range src {
						fewer[k] = v
					}
					r := runCLI(t, fewer, run.stdin, run.args...)
					if r.code == exitOK && !strings.Contains(r.stderr, "warning") {
						t.Errorf("%s works without %s: the scope need not be asked for", run.name, list[i])
					}
				}
			}
			r := runCLI(t, env, run.stdin, run.args...)
			mustExit(t, r, exitOK, run.name+" with "+scopes)
			if strings.Contains(r.stderr, "warning") {
				t.Errorf("%s with %s warned: %s", run.name, scopes, r.stderr)
			}
		})
	}
}
