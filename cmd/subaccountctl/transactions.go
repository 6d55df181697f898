package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/cardseg/subaccounts/internal/api"
)

// transaction is the API's Transaction resource (the fields the table shows).
type transaction = api.Transaction

// timeFlag checks an RFC 3339 timestamp flag; the value is sent as written.
func timeFlag(name, v string) error {
	if v == "" {
		return nil
	}
	if _, err := time.Parse(time.RFC3339, v); err != nil {
		return usagef("--%s must be an RFC 3339 time such as 2026-11-22T10:00:00Z", name)
	}
	return nil
}

// window is the --from/--to pair of the list commands: RFC 3339 times, sent as written.
type window struct{ from, to string }

func windowFlags(fs *flag.FlagSet) *window {
	w := &window{}
	fs.StringVar(&w.from, "from", "", "")
	fs.StringVar(&w.to, "to", "", "")
	return w
}

// check refuses a bound that is not an RFC 3339 time before anything is sent.
func (w *window) check() error {
	if err := timeFlag("from", w.from); err != nil {
		return err
	}
	return timeFlag("to", w.to)
}

// set adds the bounds given to q.
func (w *window) set(q url.Values) {
	setIf(q, "from", w.from)
	setIf(q, "to", w.to)
}

func runTransactionsList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var sub, cardID, typ string
	var limit int
	fs.StringVar(&sub, "subaccount", "", "")
	fs.StringVar(&cardID, "card", "", "")
	fs.StringVar(&typ, "type", "", "")
	w := windowFlags(fs)
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
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
	setIf(q, "cardId", cardID)
	setIf(q, "type", typ)
	w.set(q)
	txs, done, err := listAll[transaction](ctx, a, "/v1/transactions", q, limit, "transactions")
	if err != nil || done {
		return exitOK, err
	}
	tw := newTable(a.stdout)
	// Amounts are in minor units as the API gives them: the CLI does not guess each
	// currency's exponent.
	row(tw, "ID", "DATETIME", "TYPE", "AMOUNT(MINOR)", "CURRENCY", "MERCHANT", "MCC", "COUNTRY", "SUBACCOUNT", "CARD", "POLICY", "NETWORK TX ID")
	for _, t := range txs {
		row(tw, t.ID, t.Datetime, t.Type, t.Amount, t.Currency, orDash(t.Merchant.Name), orDash(t.Merchant.MCC), orDash(t.Merchant.CountryCode),
			t.SubaccountID, t.CardID, t.PolicyStatus, t.NetworkTransactionID)
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}
