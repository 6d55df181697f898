package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// transfer is the API's CreditTransfer or BalanceTransfer.
type transfer = api.Transfer

// transferRequest is the API's TransferRequest, the body of either kind.
type transferRequest = api.TransferRequest

// transferRoutes maps --kind to its collection.
var transferRoutes = map[string]string{"credit": "/v1/credit-transfers", "balance": "/v1/balance-transfers"}

// transferPath checks --kind and returns its collection path.
func transferPath(kind string) (string, error) {
	if kind == "" {
		return "", usagef("--kind is required: credit or balance")
	}
	p, ok := transferRoutes[kind]
	if !ok {
		return "", usagef("--kind must be credit or balance, not %q", kind)
	}
	return p, nil
}

// primaryWord names the primary account in --from and --to.
const primaryWord = "primary"

func isPrimary(s string) bool { return strings.EqualFold(strings.TrimSpace(s), primaryWord) }

func runTransfersCreate(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var kind, from, to, amountText, reference, key string
	fs.StringVar(&kind, "kind", "", "")
	fs.StringVar(&from, "from", "", "")
	fs.StringVar(&to, "to", "", "")
	fs.StringVar(&amountText, "amount", "", "")
	fs.StringVar(&reference, "reference", "", "")
	fs.StringVar(&key, "idempotency-key", "", "")
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	path, err := transferPath(kind)
	if err != nil {
		return 0, err
	}
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if from == "" || to == "" {
		return 0, usagef("--from and --to are required: the word primary or a subaccount id")
	}
	if isPrimary(from) && isPrimary(to) {
		return 0, usagef("--from and --to are both the primary: one side must be a subaccount")
	}
	amount, err := parseAmount("amount", amountText)
	if err != nil {
		return 0, err
	}
	if strings.TrimSpace(reference) == "" {
		return 0, usagef("--reference is required: every money movement carries one")
	}
	key, generated, err := writeKey(fs, key)
	if err != nil {
		return 0, err
	}

	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var acct *account
	switch {
	case isPrimary(from) || isPrimary(to):
		if acct, _, err = a.ownAccount(ctx); err != nil {
			var ae *apiError
			if errors.As(err, &ae) {
				ae.hint = `"primary" is resolved to the account id with GET /v1/account (scope subaccounts:read); nothing was moved. Give the account id instead, or use a client that may read the account`
				return 0, err
			}
			return 0, fmt.Errorf("resolving %q to the account id: %w", primaryWord, err)
		}
		if isPrimary(from) {
			from = acct.ID
		}
		if isPrimary(to) {
			to = acct.ID
		}
	case !a.g.json:
		acct = a.accountForDisplay(ctx)
	}

	if generated {
		a.announceKey(key, "the transfer is made at most once")
	}
	body := transferRequest{From: &from, To: &to, Amount: &amount, Reference: &reference}
	var t transfer
	raw, hdr, err := api.exchange(ctx, http.MethodPost, path, nil, idempotencyHeaders(key), body, &t)
	if err != nil {
		return 0, retryHint(err, key)
	}
	replayed := hdr.Get("Idempotent-Replayed") == "true"
	if a.g.json {
		if replayed {
			fmt.Fprintf(a.stderr, "subaccountctl: idempotency key %s was used before: this is the earlier transfer; nothing moved again\n", key)
		}
		return exitOK, writeJSON(a.stdout, raw)
	}
	cur := currencyOf(acct)
	pairs := []string{
		"id", t.ID,
		"kind", kind + " transfer",
		"from", partyLong(t.From, acct),
		"to", partyLong(t.To, acct),
		"amount", formatMoneyFull(t.Amount, cur),
		"reference", t.Reference,
		"created", t.CreatedAt,
		"idempotency key", key,
	}
	if replayed {
		pairs = append(pairs, "replayed", "yes: this key was used before; this is the earlier transfer and nothing moved again")
	}
	return exitOK, kv(a.stdout, pairs...)
}

// retryHint adds to the error of an unanswered or failed transfer how to retry it
// safely (see keyedRetryHint).
func retryHint(err error, key string) error {
	return keyedRetryHint(err, key, fmt.Sprintf("the transfer may or may not have been made; repeat the command with --idempotency-key %s: if it was made, the API answers with that transfer instead of making another", key))
}

// partyLong names a transfer party for key-value output: the primary is marked.
func partyLong(id string, acct *account) string {
	if acct != nil && id == acct.ID {
		return primaryWord + " (" + id + ")"
	}
	return id
}

// partyShort names a transfer party in a table: "primary" or the subaccount id.
func partyShort(id string, acct *account) string {
	if acct != nil && id == acct.ID {
		return primaryWord
	}
	return id
}

func runTransfersList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var kind, sub string
	var limit int
	fs.StringVar(&kind, "kind", "", "")
	fs.StringVar(&sub, "subaccount", "", "")
	w := windowFlags(fs)
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	path, err := transferPath(kind)
	if err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	if err := w.check(); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "subaccountId", sub)
	w.set(q)
	items, done, err := listAll[transfer](ctx, a, path, q, limit, kind+" transfers")
	if err != nil || done {
		return exitOK, err
	}
	acct := a.accountForDisplay(ctx)
	tw := newTable(a.stdout)
	row(tw, "CREATED", "ID", "FROM", "TO", "AMOUNT", "MINOR UNITS", "REFERENCE")
	for _, t := range items {
		cur := currencyOf(acct)
		row(tw, t.CreatedAt, t.ID, partyShort(t.From, acct), partyShort(t.To, acct), formatMoney(t.Amount, cur), t.Amount, orDash(t.Reference))
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}
