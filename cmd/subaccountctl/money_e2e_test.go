package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cardseg/subaccounts/internal/store/storetest"
)

// postgresServerURL starts a server of its own on a fresh PostgreSQL database, stopped
// when the test ends (before the database is dropped: cleanups run last-in first-out).
func postgresServerURL(t *testing.T) string {
	t.Helper()
	bin, err := buildServer()
	if err != nil {
		t.Fatal(err)
	}
	dbURL := storetest.PostgresURL(t)
	p, err := launch(bin, t.TempDir(), "DATABASE_URL="+dbURL, "MASTER_KEY="+strings.Repeat("5e", 32))
	if err != nil {
		t.Fatalf("starting subaccountd on PostgreSQL: %v", err)
	}
	t.Cleanup(p.stop)
	return p.url
}

// TestE2EMoney walks the money commands against the real server on each database: the
// operator gives the account credit and a top-up over plain HTTP; the CLI gives a
// subaccount its own balance, moves credit and balance to it (a retried transfer moving
// money once), lists the transfers, shows usage after charges, and suspends and
// reactivates the subaccount.
func TestE2EMoney(t *testing.T) {
	for _, dialect := range storetest.Dialects(t) {
		t.Run(dialect, func(t *testing.T) {
			base := ""
			if dialect == "postgres" {
				base = postgresServerURL(t)
			} else {
				base = serverURL(t)
			}
			testMoneyFlow(t, base)
		})
	}
}

func testMoneyFlow(t *testing.T, base string) {
	tn := newTenantAt(t, base, map[string]any{"currency": "EUR", "pricing": map[string]any{"cardEnrolment": 150, "transaction": 5}},
		[]string{"subaccounts:read", "subaccounts:write", "cards:read", "cards:write", "transactions:read", "transactions:write", "ledger:read", "ledger:write"})

	// The operator side, which the CLI does not have: a credit limit and a top-up.
	op := token(t, base, e2eOperatorID, e2eOperatorSecret)
	if code, body := call(t, http.MethodPatch, base+"/v1/accounts/"+tn.accountID, op, map[string]any{"creditLimit": 100000}); code != http.StatusOK {
		t.Fatalf("set the credit limit: %d %v", code, body)
	}
	if code, body := call(t, http.MethodPost, base+"/v1/accounts/"+tn.accountID+"/top-ups", op, map[string]any{"amount": 50000, "reference": "wire 1"}); code != http.StatusCreated {
		t.Fatalf("top up: %d %v", code, body)
	}

	r := runCLI(t, tn.env, "", "account")
	mustExit(t, r, exitOK, "account")
	wantLines(t, "account", r.stdout, "id:                "+tn.accountID, "currency:          EUR",
		"balance:           500.00 EUR (50000 minor units)", "credit limit:      1000.00 EUR (100000 minor units)",
		"allocated credit:  0.00 EUR (0 minor units)", "available credit:  1000.00 EUR (100000 minor units)")

	sub := createSub(t, tn, "Fleet")
	// A new subaccount spends from the primary balance: money cannot go to it yet.
	r = runCLI(t, tn.env, "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", sub, "--amount", "20000", "--reference", "too early")
	mustExit(t, r, exitError, "credit to a subaccount on the shared balance")
	wantLines(t, "refused transfer", r.stderr, "422", "/problems/invalid-transfers", "reason: subaccount-uses-primary-balance")

	r = runCLI(t, tn.env, "", "subaccounts", "set", sub, "--own-balance", "--max-cards", "5")
	mustExit(t, r, exitOK, "subaccounts set --own-balance")
	wantLines(t, "set", r.stdout, "balance:         0.00 EUR (0 minor units)", "credit limit:    0.00 EUR (0 minor units)",
		"auto top-up:     off", "max cards:       5")

	// Credit, with a key of the CLI's making, announced on stderr.
	r = runCLI(t, tn.env, "", "transfers", "create", "--kind", "credit", "--from", "primary", "--to", sub, "--amount", "20000", "--reference", "credit line")
	mustExit(t, r, exitOK, "credit transfer")
	wantLines(t, "credit transfer", r.stdout, "credit transfer", "primary ("+tn.accountID+")", sub, "200.00 EUR (20000 minor units)", "credit line")
	if !regexp.MustCompile(`idempotency key [0-9a-f-]{36} `).MatchString(r.stderr) {
		t.Errorf("credit transfer: no key on stderr:\n%s", r.stderr)
	}

	// Balance, sent twice with one key as a retry would: it moves once.
	balance := []string{"transfers", "create", "--kind", "balance", "--from", "primary", "--to", sub, "--amount", "1250",
		"--reference", "float", "--idempotency-key", "e2e-float-" + tn.accountID}
	first := runCLI(t, tn.env, "", balance...)
	mustExit(t, first, exitOK, "balance transfer")
	second := runCLI(t, tn.env, "", balance...)
	mustExit(t, second, exitOK, "balance transfer retried")
	if id := uuidLineOf(first.stdout); id == "" || id != uuidLineOf(second.stdout) {
		t.Errorf("the retry shows another transfer:\n%s\n%s", first.stdout, second.stdout)
	}
	if strings.Contains(first.stdout, "replayed") || !strings.Contains(second.stdout, "replayed:") {
		t.Errorf("replay marks:\n%s\n%s", first.stdout, second.stdout)
	}
	// The same key for another transfer is refused.
	r = runCLI(t, tn.env, "", "transfers", "create", "--kind", "balance", "--from", "primary", "--to", sub, "--amount", "1251",
		"--reference", "float", "--idempotency-key", "e2e-float-"+tn.accountID)
	mustExit(t, r, exitError, "a key reused for another transfer")
	wantLines(t, "reused key", r.stderr, "/problems/idempotency-key-reused")
	// More than the subaccount has and may borrow.
	r = runCLI(t, tn.env, "", "transfers", "create", "--kind", "balance", "--from", sub, "--to", "primary", "--amount", "99999999", "--reference", "too much")
	mustExit(t, r, exitError, "balance transfer beyond the subaccount's means")
	wantLines(t, "insufficient balance", r.stderr, "422", "reason: insufficient-balance")

	r = runCLI(t, tn.env, "", "subaccounts", "get", sub)
	mustExit(t, r, exitOK, "subaccounts get")
	wantLines(t, "get after transfers", r.stdout, "balance:         12.50 EUR (1250 minor units)", "credit limit:    200.00 EUR (20000 minor units)", "over limit:      no")
	r = runCLI(t, tn.env, "", "account")
	mustExit(t, r, exitOK, "account after transfers")
	wantLines(t, "account after transfers", r.stdout, "balance:           487.50 EUR (48750 minor units)",
		"allocated credit:  200.00 EUR (20000 minor units)", "available credit:  800.00 EUR (80000 minor units)")

	r = runCLI(t, tn.env, "", "transfers", "list", "--kind", "credit")
	mustExit(t, r, exitOK, "transfers list credit")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "primary") ||
		!strings.Contains(lines[1], sub) || !strings.Contains(lines[1], "200.00 EUR") || !strings.Contains(lines[1], "credit line") {
		t.Errorf("credit transfers:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "--json", "transfers", "list", "--kind", "balance", "--subaccount", sub)
	mustExit(t, r, exitOK, "transfers list balance --json")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 1 || arr[0].(map[string]any)["amount"] != float64(1250) {
		t.Errorf("balance transfers (the retry must not add one): %s", r.stdout)
	}
	r = runCLI(t, tn.env, "", "transfers", "list", "--kind", "balance", "--from", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	mustExit(t, r, exitOK, "transfers list in the future")
	if strings.TrimSpace(r.stdout) != "No balance transfers." {
		t.Errorf("future window:\n%s", r.stdout)
	}

	// Charges: a card enrolment (1.50) and one routed transaction (0.05), from the
	// subaccount's own balance.
	cardID := enrolOne(t, tn, sub, visaPAN, "USA")
	tok := token(t, base, tn.clientID, tn.secret)
	if code, body := call(t, http.MethodPost, base+"/v1/transactions", tok, map[string]any{
		"networkTransactionId": "ntid-money-" + tn.accountID, "type": "auth", "cardId": cardID, "amount": 4200, "currency": "USD",
		"datetime": time.Now().UTC().Add(-time.Minute).Format(time.RFC3339),
		"merchant": map[string]any{"name": "Fuel Stop", "mcc": "5542", "countryCode": "USA"},
	}); code != http.StatusCreated {
		t.Fatalf("transaction: %d %v", code, body)
	}
	// An explicit window: the default, this calendar month, would miss the charges if
	// the test ran across midnight at the end of a month.
	window := []string{"--from", time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "--to", time.Now().UTC().Add(time.Hour).Format(time.RFC3339)}
	r = runCLI(t, tn.env, "", append([]string{"usage", "--subaccount", sub}, window...)...)
	mustExit(t, r, exitOK, "usage --subaccount")
	wantLines(t, "usage", r.stdout, "subaccount:           "+sub, "name:                 Fleet", "card enrolments:      1", "active cards:         1",
		"transactions:         1", "volume:               42.00 USD (1)", "enrolment charges:    1.50 EUR (150 minor units)",
		"transaction charges:  0.05 EUR (5 minor units)", "total usage:          1.55 EUR (155 minor units)", "paid from:            own balance")
	r = runCLI(t, tn.env, "", append([]string{"usage"}, window...)...)
	mustExit(t, r, exitOK, "usage")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "Usage from ") ||
		!strings.Contains(lines[2], sub) || !strings.Contains(lines[2], "1.55 EUR") || !strings.Contains(lines[2], "own balance") {
		t.Errorf("usage table:\n%s", r.stdout)
	}
	r = runCLI(t, tn.env, "", append([]string{"--json", "usage"}, window...)...)
	mustExit(t, r, exitOK, "usage --json")
	if arr, _ := mustJSON(t, r.stdout).([]any); len(arr) != 1 || arr[0].(map[string]any)["totalUsage"] != float64(155) {
		t.Errorf("usage --json: %s", r.stdout)
	}

	r = runCLI(t, tn.env, "", "subaccounts", "suspend", sub)
	mustExit(t, r, exitOK, "suspend")
	wantLines(t, "suspend", r.stdout, "suspended:       yes", "balance:         10.95 EUR (1095 minor units)")
	r = runCLI(t, tn.env, "", "subaccounts", "suspend", sub)
	mustExit(t, r, exitOK, "suspend again")
	wantLines(t, "suspend again", r.stderr, "is already suspended; nothing was changed")
	r = runCLI(t, tn.env, "", "subaccounts", "reactivate", sub)
	mustExit(t, r, exitOK, "reactivate")
	wantLines(t, "reactivate", r.stdout, "suspended:       no")
	r = runCLI(t, tn.env, "", "subaccounts", "reactivate", "0190a0b0-0000-7000-8000-000000000000")
	mustExit(t, r, exitError, "reactivate an unknown subaccount")
	wantLines(t, "unknown subaccount", r.stderr, "404")

	// A token without the ledger scopes is refused with the scope named.
	narrow := map[string]string{"SUBACCOUNTS_SCOPES": "subaccounts:read"}
	for k, v := range tn.env {
		narrow[k] = v
	}
	r = runCLI(t, narrow, "", "usage")
	mustExit(t, r, exitError, "usage without ledger:read")
	wantLines(t, "usage without ledger:read", r.stderr, "403", "missing scope: ledger:read")
}

// wantLines fails the test for each of want that out lacks.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, out)
		}
	}
}
