package main

import (
	"context"
	"fmt"
	"net/url"
	"time"
)

// transaction is the API's Transaction resource (the fields the table shows).
type transaction struct {
	ID                   string `json:"id"`
	SubaccountID         string `json:"subaccountId"`
	CardID               string `json:"cardId"`
	NetworkTransactionID string `json:"networkTransactionId"`
	Type                 string `json:"type"`
	Amount               int64  `json:"amount"`
	Currency             string `json:"currency"`
	Datetime             string `json:"datetime"`
	Merchant             struct {
		Name        string `json:"name"`
		MCC         string `json:"mcc"`
		CountryCode string `json:"countryCode"`
		City        string `json:"city"`
	} `json:"merchant"`
	PolicyStatus  string `json:"policyStatus"`
	ConfigVersion int64  `json:"configVersion"`
}

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

func runTransactionsList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var sub, cardID, typ, from, to string
	var limit int
	fs.StringVar(&sub, "subaccount", "", "")
	fs.StringVar(&cardID, "card", "", "")
	fs.StringVar(&typ, "type", "", "")
	fs.StringVar(&from, "from", "", "")
	fs.StringVar(&to, "to", "", "")
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	if err := timeFlag("from", from); err != nil {
		return 0, err
	}
	if err := timeFlag("to", to); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "subaccountId", sub)
	setIf(q, "cardId", cardID)
	setIf(q, "type", typ)
	setIf(q, "from", from)
	setIf(q, "to", to)
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
