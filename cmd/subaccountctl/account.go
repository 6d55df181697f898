package main

import (
	"context"
	"strconv"
)

func runAccount(ctx context.Context, a *app, c *command, args []string) (int, error) {
	if _, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 0); err != nil {
		return 0, err
	}
	acct, raw, err := a.ownAccount(ctx)
	if err != nil {
		return 0, err
	}
	if a.g.json {
		return exitOK, writeJSON(a.stdout, raw)
	}
	cur := acct.Contract.Currency
	return exitOK, kv(a.stdout,
		"id", acct.ID,
		"name", acct.Name,
		"currency", orDash(cur),
		"balance", formatMoneyFull(acct.Balance, cur),
		"credit limit", formatMoneyFull(acct.CreditLimit, cur),
		"allocated credit", formatMoneyFull(acct.AllocatedCredit, cur),
		"available credit", formatMoneyFull(acct.AvailableCredit, cur),
		"over limit", yesNo(acct.OverLimit),
		"pricing", "card enrolment "+formatMoney(acct.Contract.Pricing.CardEnrolment, cur)+", transaction "+formatMoney(acct.Contract.Pricing.Transaction, cur),
		"contract", formatConfigs(acct.Contract.Configurations),
		"max subaccounts", strconv.Itoa(acct.Contract.MaxSubaccounts),
		"contract version", strconv.FormatInt(acct.Contract.Version, 10),
	)
}
