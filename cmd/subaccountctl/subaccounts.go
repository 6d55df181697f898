package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// configuration is one element of a configuration list: every listed country on every
// listed network.
type configuration = api.Configuration

// subaccount is the API's Subaccount resource.
type subaccount = api.Subaccount

// autoTopUp moves Amount from the primary into a subaccount whenever its balance falls
// below Threshold; an Amount of 0 is off.
type autoTopUp = api.AutoTopUp

var countryCode = regexp.MustCompile(`^[A-Z]{3}$`)

// networks are the card networks the API knows. Checking them here turns a typo into a
// usage error before any request is made.
var networks = map[string]bool{"VISA": true, "MASTERCARD": true}

// parseConfig parses one --config value, "COUNTRIES:NETWORKS" with comma-separated
// lists, e.g. "USA,CAN:VISA,MASTERCARD". Codes are upper-cased and spaces ignored.
func parseConfig(s string) (configuration, error) {
	var c configuration
	left, right, ok := strings.Cut(s, ":")
	if !ok || strings.Contains(right, ":") {
		return c, errors.New("want COUNTRIES:NETWORKS, e.g. USA,CAN:VISA,MASTERCARD")
	}
	for _, f := range strings.Split(left, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		if !countryCode.MatchString(f) {
			if f == "" {
				return c, errors.New("empty country in the list")
			}
			return c, fmt.Errorf("country %q is not an ISO 3166-1 alpha-3 code", f)
		}
		c.Countries = append(c.Countries, f)
	}
	for _, f := range strings.Split(right, ",") {
		f = strings.ToUpper(strings.TrimSpace(f))
		if !networks[f] {
			if f == "" {
				return c, errors.New("empty network in the list")
			}
			return c, fmt.Errorf("network %q is not VISA or MASTERCARD", f)
		}
		c.Networks = append(c.Networks, f)
	}
	return c, nil
}

// configFlag collects repeated --config flags.
type configFlag []configuration

func (f *configFlag) String() string {
	if f == nil {
		return ""
	}
	return formatConfigs(*f)
}

func (f *configFlag) Set(s string) error {
	c, err := parseConfig(s)
	if err != nil {
		return err
	}
	*f = append(*f, c)
	return nil
}

// metadataFlag collects repeated --metadata KEY=VALUE flags.
type metadataFlag map[string]string

func (m metadataFlag) String() string { return formatMetadata(m) }

func (m metadataFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	if _, dup := m[k]; dup {
		return fmt.Errorf("key %q given twice", k)
	}
	m[k] = v
	return nil
}

// limitFlag registers --limit, the total number of items a list command shows.
func limitFlag(fs *flag.FlagSet, p *int) {
	fs.IntVar(p, "limit", 0, "")
}

func checkLimit(n int) error {
	if n < 0 {
		return usagef("--limit must be a positive number (0 or absent: every item)")
	}
	return nil
}

func runSubaccountsList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var name, country, network string
	var limit int
	fs.StringVar(&name, "name", "", "")
	fs.StringVar(&country, "country", "", "")
	fs.StringVar(&network, "network", "", "")
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "name", name)
	setIf(q, "country", strings.ToUpper(country))
	setIf(q, "network", strings.ToUpper(network))
	subs, done, err := listAll[subaccount](ctx, a, "/v1/subaccounts", q, limit, "subaccounts")
	if err != nil || done {
		return exitOK, err
	}
	tw := newTable(a.stdout)
	row(tw, "ID", "NAME", "CONFIGURATIONS", "VERSION", "SUSPENDED")
	for _, s := range subs {
		row(tw, s.ID, s.Name, formatConfigs(s.Configurations), s.ConfigVersion, yesNo(s.Suspended))
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}

func runSubaccountsGet(ctx context.Context, a *app, c *command, args []string) (int, error) {
	pos, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 1)
	if err != nil {
		return 0, err
	}
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var s subaccount
	raw, err := api.do(ctx, http.MethodGet, "/v1/subaccounts/"+pathID(pos[0]), nil, nil, &s)
	if err != nil {
		return 0, err
	}
	return exitOK, a.showSubaccount(ctx, raw, s)
}

func runSubaccountsCreate(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var name string
	var configs configFlag
	meta := metadataFlag{}
	fs.StringVar(&name, "name", "", "")
	fs.Var(&configs, "config", "")
	fs.Var(meta, "metadata", "")
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if strings.TrimSpace(name) == "" {
		return 0, usagef("--name is required")
	}
	// No --config leaves the member out, which the API reads as an empty list.
	body := api.CreateSubaccountRequest{Name: &name, Configurations: configs, Metadata: meta}
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var s subaccount
	raw, err := api.do(ctx, http.MethodPost, "/v1/subaccounts", nil, body, &s)
	if err != nil {
		return 0, err
	}
	return exitOK, a.showSubaccount(ctx, raw, s)
}

// showSubaccount prints one subaccount, as received with --json. Amounts are shown in
// the account's currency, which takes a second request.
func (a *app) showSubaccount(ctx context.Context, raw []byte, s subaccount) error {
	if a.g.json {
		return writeJSON(a.stdout, raw)
	}
	pairs := []string{
		"id", s.ID,
		"name", s.Name,
		"account", s.AccountID,
		"configurations", formatConfigs(s.Configurations),
		"config version", strconv.FormatInt(s.ConfigVersion, 10),
		"suspended", yesNo(s.Suspended),
	}
	if s.UsePrimaryAccountBalance || s.Balance == nil {
		pairs = append(pairs, "balance", "shared: spends from the primary balance")
	} else {
		cur := currencyOf(a.accountForDisplay(ctx))
		var credit int64
		if s.CreditLimit != nil {
			credit = *s.CreditLimit
		}
		pairs = append(pairs,
			"balance", formatMoneyFull(*s.Balance, cur),
			"credit limit", formatMoneyFull(credit, cur),
			"over limit", yesNo(s.OverLimit),
			"auto top-up", formatAutoTopUp(s.AutoTopUp, cur),
		)
	}
	maxCards := "no quota"
	if s.MaxCards > 0 {
		maxCards = strconv.Itoa(s.MaxCards)
	}
	pairs = append(pairs,
		"max cards", maxCards,
		"metadata", formatMetadata(s.Metadata),
		"created", s.CreatedAt,
		"updated", s.UpdatedAt,
	)
	return kv(a.stdout, pairs...)
}

// formatAutoTopUp describes an auto top-up setting.
func formatAutoTopUp(t *autoTopUp, cur string) string {
	if t == nil || t.Amount == 0 {
		return "off"
	}
	return fmt.Sprintf("%s from the primary whenever the balance is below %s", formatMoney(t.Amount, cur), formatMoney(t.Threshold, cur))
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
