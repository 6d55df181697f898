package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// usage is the API's SubaccountUsage: what one subaccount used in a window.
type usage = api.Usage

// volumes lists the routed volume per transaction currency, each in its own currency,
// with the number of transactions in brackets.
func volumes(u *usage) string {
	if len(u.Transactions.ByCurrency) == 0 {
		return "-"
	}
	s := make([]string, len(u.Transactions.ByCurrency))
	for i, v := range u.Transactions.ByCurrency {
		s[i] = fmt.Sprintf("%s (%d)", formatMoney(v.Volume, v.Currency), v.Count)
	}
	return strings.Join(s, "; ")
}

func paidBy(u *usage) string {
	if u.PaidByPrimary {
		return "primary balance"
	}
	return "own balance"
}

func runUsage(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var sub string
	var limit int
	fs.StringVar(&sub, "subaccount", "", "")
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
	w.set(q)
	if sub != "" {
		if limit != 0 {
			return 0, usagef("--limit applies to the list of every subaccount, not to --subaccount")
		}
		return exitOK, a.showUsage(ctx, sub, q)
	}
	items, done, err := listAll[usage](ctx, a, "/v1/usage", q, limit, "subaccounts")
	if err != nil || done {
		return exitOK, err
	}
	// Every item has the same window: the one asked for, or the server's default.
	fmt.Fprintf(a.stdout, "Usage from %s to %s\n", items[0].From, items[0].To)
	tw := newTable(a.stdout)
	row(tw, "SUBACCOUNT", "NAME", "ENROLMENTS", "ACTIVE CARDS", "TRANSACTIONS", "VOLUME", "ENROLMENT CHARGES", "TRANSACTION CHARGES", "TOTAL", "PAID FROM")
	for _, u := range items {
		row(tw, u.SubaccountID, u.Name, u.Enrolments, u.ActiveCards, u.Transactions.Count, volumes(&u),
			formatMoney(u.Charges.CardEnrolments, u.Currency), formatMoney(u.Charges.Transactions, u.Currency),
			formatMoney(u.TotalUsage, u.Currency), paidBy(&u))
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}

// showUsage prints one subaccount's usage.
func (a *app) showUsage(ctx context.Context, sub string, q url.Values) error {
	api, err := a.client(ctx)
	if err != nil {
		return err
	}
	var u usage
	raw, err := api.do(ctx, http.MethodGet, "/v1/subaccounts/"+pathID(sub)+"/usage", q, nil, &u)
	if err != nil {
		return err
	}
	if a.g.json {
		return writeJSON(a.stdout, raw)
	}
	return kv(a.stdout,
		"subaccount", u.SubaccountID,
		"name", u.Name,
		"from", u.From,
		"to", u.To,
		"card enrolments", strconv.FormatInt(u.Enrolments, 10),
		"active cards", strconv.FormatInt(u.ActiveCards, 10),
		"transactions", strconv.FormatInt(u.Transactions.Count, 10),
		"volume", volumes(&u),
		"enrolment charges", formatMoneyFull(u.Charges.CardEnrolments, u.Currency),
		"transaction charges", formatMoneyFull(u.Charges.Transactions, u.Currency),
		"total usage", formatMoneyFull(u.TotalUsage, u.Currency),
		"paid from", paidBy(&u),
	)
}
