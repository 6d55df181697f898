package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// complianceReport is the API's ComplianceReport.
type complianceReport = api.ComplianceReport

func runComplianceCheck(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var account string
	sample := -1
	fs.StringVar(&account, "account", "", "")
	w := windowFlags(fs)
	fs.IntVar(&sample, "sample", -1, "")
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if err := w.check(); err != nil {
		return 0, err
	}
	q := url.Values{}
	w.set(q)
	if sample != -1 {
		if sample < 0 || sample > 100 {
			return 0, usagef("--sample must be 0–100")
		}
		q.Set("sample", strconv.Itoa(sample))
	}
	path := "/v1/compliance"
	if account != "" {
		path = "/v1/accounts/" + pathID(account) + "/compliance"
		a.need = "accounts:admin"
	}
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var rep complianceReport
	raw, err := api.do(ctx, http.MethodGet, path, q, nil, &rep)
	if err != nil {
		return 0, err
	}
	if rep.Compliant == nil {
		return 0, errors.New("the compliance report has no \"compliant\" field")
	}
	if a.g.json {
		if err := writeJSON(a.stdout, raw); err != nil {
			return 0, err
		}
	} else if err := writeReport(a.stdout, &rep); err != nil {
		return 0, err
	}
	if *rep.Compliant {
		return exitOK, nil
	}
	return exitFindings, nil
}

// writeReport prints a compliance report: a verdict, the summary counts, and one table
// per non-empty violation list.
func writeReport(w io.Writer, r *complianceReport) error {
	verdict := "COMPLIANT"
	if !*r.Compliant {
		verdict = "NOT COMPLIANT"
	}
	fmt.Fprintf(w, "Account %s: %s\n", r.AccountID, verdict)
	s := r.Summary
	if err := kv(w,
		"checked at", r.CheckedAt,
		"transaction window", r.Window.From+" to "+r.Window.To,
		"subaccounts", strconv.Itoa(s.Subaccounts),
		"active cards", strconv.FormatInt(s.ActiveCards, 10),
		"subaccounts outside contract", strconv.Itoa(s.SubaccountsOutsideContract),
		"cards outside configuration", strconv.FormatInt(s.CardsOutsideConfiguration, 10),
		"transactions out of policy", strconv.FormatInt(s.TransactionsOutOfPolicy, 10),
	); err != nil {
		return err
	}
	v := r.Violations
	if len(v.SubaccountsOutsideContract) > 0 {
		fmt.Fprintf(w, "\nSubaccounts outside the account contract (%s):\n", plural(len(v.SubaccountsOutsideContract), "subaccount"))
		tw := newTable(w)
		row(tw, "SUBACCOUNT", "NAME", "PAIRS OUTSIDE CONTRACT")
		for _, x := range v.SubaccountsOutsideContract {
			row(tw, x.SubaccountID, x.Name, joinPairs(x.OutsideContract))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	if len(v.CardsOutsideConfiguration) > 0 {
		fmt.Fprintf(w, "\nActive cards outside their subaccount's configuration (%s):\n", plural(len(v.CardsOutsideConfiguration), "group"))
		tw := newTable(w)
		row(tw, "SUBACCOUNT", "COUNTRY", "NETWORK", "CARDS", "SAMPLE CARD IDS")
		for _, x := range v.CardsOutsideConfiguration {
			row(tw, x.SubaccountID, x.Country, x.Network, x.Cards, orDash(strings.Join(x.CardIDs, ",")))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	if len(v.TransactionsOutOfPolicy) > 0 {
		fmt.Fprintf(w, "\nTransactions out of policy in the window (%s):\n", plural(len(v.TransactionsOutOfPolicy), "group"))
		tw := newTable(w)
		row(tw, "SUBACCOUNT", "COUNTRY", "NETWORK", "TRANSACTIONS")
		for _, x := range v.TransactionsOutOfPolicy {
			row(tw, x.SubaccountID, x.Country, x.Network, x.Transactions)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("writing output: %w", err)
		}
	}
	return nil
}

// plural writes a count with its noun, adding "s" unless the count is one.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
