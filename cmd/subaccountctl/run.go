package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Exit codes. A check that ran and found something (violations, failed rows) is 1, so a
// script can tell "the answer is no" from "there is no answer" (2).
const (
	exitOK       = 0
	exitFindings = 1
	exitError    = 2
)

const defaultURL = "http://127.0.0.1:8080"

// app is one invocation: the resolved global options and where input and output go.
type app struct {
	g      globals
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// api is created on first use so that help and usage errors never need credentials
	// or the network.
	api *apiClient
	// acct is the caller's account (GET /v1/account), read at most once.
	acct    *account
	acctRaw []byte
	// need is the running command's scopes (command.scopes, or what its flags make
	// it need instead), the default scope request of an external issuer's token.
	need string
}

// command is one leaf of the command tree, e.g. "cards enrol", or a command of one word
// ("usage", "account"), whose name is empty.
type command struct {
	group, name string
	// usage is the synopsis after "subaccountctl ", shown with usage errors and in help.
	usage string
	// summary is one line for help.
	summary string
	// scopes are what the command's requests need (and the account read that only
	// decorates output, where there is one): the scopes asked for by default when the
	// token comes from an external issuer, which grants nothing unasked.
	scopes string
	// run parses the command's own arguments and does the work. It returns exitOK or
	// exitFindings, or an error for everything that is exitError.
	run func(ctx context.Context, a *app, c *command, args []string) (int, error)
}

func (c *command) fullName() string {
	if c.name == "" {
		return c.group
	}
	return c.group + " " + c.name
}

// words is the number of command-line words that name c.
func (c *command) words() int {
	if c.name == "" {
		return 1
	}
	return 2
}

// commands lists every command in the order help shows them.
var commands = []*command{
	{group: "subaccounts", name: "list", usage: "subaccounts list [--name PREFIX] [--country CCC] [--network N] [--limit N]",
		summary: "List subaccounts (every page, or the first N)", scopes: "subaccounts:read", run: runSubaccountsList},
	{group: "subaccounts", name: "get", usage: "subaccounts get SUBACCOUNT_ID",
		summary: "Show one subaccount", scopes: "subaccounts:read", run: runSubaccountsGet},
	{group: "subaccounts", name: "create", usage: "subaccounts create --name NAME --config 'USA,CAN:VISA,MASTERCARD' [--config 'GBR:VISA' ...] [--metadata KEY=VALUE ...]",
		summary: "Create a subaccount; each --config is COUNTRIES:NETWORKS", scopes: "subaccounts:write", run: runSubaccountsCreate},
	{group: "subaccounts", name: "suspend", usage: "subaccounts suspend SUBACCOUNT_ID",
		summary: "Suspend a subaccount (If-Match: fails if it changed meanwhile)", scopes: "subaccounts:read subaccounts:write", run: runSubaccountsSuspension(true)},
	{group: "subaccounts", name: "reactivate", usage: "subaccounts reactivate SUBACCOUNT_ID",
		summary: "Lift a subaccount's suspension (If-Match)", scopes: "subaccounts:read subaccounts:write", run: runSubaccountsSuspension(false)},
	{group: "subaccounts", name: "set", usage: "subaccounts set SUBACCOUNT_ID [--own-balance|--shared-balance] [--auto-top-up THRESHOLD:AMOUNT|off] [--max-cards N]",
		summary: "Change a subaccount's balance mode, auto top-up or card quota (If-Match)", scopes: "subaccounts:read subaccounts:write", run: runSubaccountsSet},
	{group: "cards", name: "enrol", usage: "cards enrol --subaccount ID (--country CCC --exp MM/YYYY [--number-stdin] < pan.txt | --file cards.csv [--check])",
		summary: "Enrol one card (PAN on standard input) or many from a CSV file", scopes: "cards:write", run: runCardsEnrol},
	{group: "cards", name: "list", usage: "cards list [--subaccount ID] [--status active|removed] [--policy-status in-policy|out-of-policy] [--network N] [--country CCC] [--limit N]",
		summary: "List cards (every page, or the first N)", scopes: "cards:read", run: runCardsList},
	{group: "cards", name: "get", usage: "cards get CARD_ID",
		summary: "Show one card", scopes: "cards:read", run: runCardsGet},
	{group: "cards", name: "move", usage: "cards move CARD_ID --to SUBACCOUNT_ID",
		summary: "Move a card to another subaccount", scopes: "cards:write", run: runCardsMove},
	{group: "cards", name: "remove", usage: "cards remove CARD_ID",
		summary: "Remove a card (it stays listed with status removed)", scopes: "cards:write", run: runCardsRemove},
	{group: "transactions", name: "list", usage: "transactions list [--subaccount ID] [--card ID] [--type T] [--from RFC3339] [--to RFC3339] [--limit N]",
		summary: "List routed transactions (every page, or the first N)", scopes: "transactions:read", run: runTransactionsList},
	{group: "webhooks", name: "create", usage: "webhooks create --endpoint-url URL --event-types TYPE,TYPE|'*' [--description TEXT] [--subaccount ID] [--idempotency-key KEY]",
		summary: "Add a webhook endpoint; prints its signing secret, shown only then", scopes: "webhooks:write", run: runWebhooksCreate},
	{group: "webhooks", name: "list", usage: "webhooks list [--subaccount ID] [--limit N]",
		summary: "List webhook endpoints (every page, or the first N)", scopes: "webhooks:read", run: runWebhooksList},
	{group: "webhooks", name: "get", usage: "webhooks get ENDPOINT_ID",
		summary: "Show one webhook endpoint", scopes: "webhooks:read", run: runWebhooksGet},
	{group: "webhooks", name: "update", usage: "webhooks update ENDPOINT_ID [--endpoint-url URL] [--description TEXT] [--event-types TYPE,TYPE|'*'] [--disable|--enable]",
		summary: "Change a webhook endpoint, or disable or re-enable it", scopes: "webhooks:write", run: runWebhooksUpdate},
	{group: "webhooks", name: "delete", usage: "webhooks delete ENDPOINT_ID",
		summary: "Delete a webhook endpoint", scopes: "webhooks:write", run: runWebhooksDelete},
	{group: "webhooks", name: "rotate", usage: "webhooks rotate ENDPOINT_ID [--expire-old] [--idempotency-key KEY]",
		summary: "Give an endpoint a new signing secret (the old one signs 24 h more unless --expire-old)", scopes: "webhooks:write", run: runWebhooksRotate},
	{group: "webhooks", name: "test", usage: "webhooks test ENDPOINT_ID [--idempotency-key KEY]",
		summary: "Queue a webhook.test event to one endpoint", scopes: "webhooks:write", run: runWebhooksTest},
	{group: "webhooks", name: "deliveries", usage: "webhooks deliveries ENDPOINT_ID [--status pending|delivered|failed] [--from RFC3339] [--to RFC3339] [--limit N] [--attempts]",
		summary: "List an endpoint's deliveries, newest first (every page, or the first N)", scopes: "webhooks:read", run: runWebhooksDeliveries},
	{group: "webhooks", name: "resend", usage: "webhooks resend ENDPOINT_ID DELIVERY_ID [--idempotency-key KEY]",
		summary: "Send one delivery again, with the same webhook-id", scopes: "webhooks:write", run: runWebhooksResend},
	{group: "webhooks", name: "recover", usage: "webhooks recover ENDPOINT_ID --since RFC3339 [--idempotency-key KEY]",
		summary: "Send again every failed delivery created since a time", scopes: "webhooks:write", run: runWebhooksRecover},
	{group: "account", usage: "account",
		summary: "Show the account: primary balance, credit limit, allocated and available credit", scopes: "subaccounts:read", run: runAccount},
	{group: "transfers", name: "create", usage: "transfers create --kind credit|balance --from ID|primary --to ID|primary --amount MINOR_UNITS --reference TEXT [--idempotency-key KEY]",
		summary: "Move credit or balance between the primary and a subaccount (at most once per key)", scopes: "ledger:write subaccounts:read", run: runTransfersCreate},
	{group: "transfers", name: "list", usage: "transfers list --kind credit|balance [--subaccount ID] [--from RFC3339] [--to RFC3339] [--limit N]",
		summary: "List credit or balance transfers (every page, or the first N)", scopes: "ledger:read subaccounts:read", run: runTransfersList},
	{group: "usage", usage: "usage [--subaccount ID] [--from RFC3339] [--to RFC3339] [--limit N]",
		summary: "Show what subaccounts used and were charged (default: this month)", scopes: "ledger:read", run: runUsage},
	{group: "compliance", name: "check", usage: "compliance check [--account ACCOUNT_ID] [--from RFC3339] [--to RFC3339] [--sample N]",
		summary: "Check compliance: exit 0 compliant, 1 violations, 2 error", scopes: "compliance:read", run: runComplianceCheck},
	{group: "audit", name: "list", usage: "audit list [--action A] [--resource-type T [--resource-id ID]] [--actor SUB_OR_CLIENT_ID] [--from RFC3339] [--to RFC3339] [--limit N]",
		summary: "List audit events in append order (every page, or the first N)", scopes: "audit:read", run: runAuditList},
	{group: "audit", name: "verify", usage: "audit verify",
		summary: "Verify the audit hash chain: exit 0 intact, 1 broken, 2 error", scopes: "audit:read", run: runAuditVerify},
}

// run is the whole program behind main, with its environment passed in so tests can
// drive it: args[0] is the program name. It returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{g: envGlobals(getenv), stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) > 0 {
		args = args[1:]
	}
	top := newFlagSet("subaccountctl")
	a.g.register(top)
	rest, err := parseInterspersed(top, args, true)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout)
		return exitOK
	}
	if err != nil {
		return a.usageError(nil, err)
	}
	if len(rest) == 0 {
		return a.usageError(nil, errors.New("no command given"))
	}
	if rest[0] == "help" {
		writeHelp(stdout)
		return exitOK
	}
	c, err := findCommand(rest)
	if err != nil {
		return a.usageError(nil, err)
	}
	a.need = c.scopes
	code, err := c.run(ctx, a, c, rest[c.words():])
	if errors.Is(err, errCommandHelp) {
		fmt.Fprintf(stdout, "usage: subaccountctl %s\n", c.usage)
		return exitOK
	}
	if err != nil {
		return a.fail(c, err)
	}
	return code
}

// findCommand picks the command named by the first two words of args.
func findCommand(args []string) (*command, error) {
	var groupKnown bool
	for _, c := range commands {
		if c.group != args[0] {
			continue
		}
		groupKnown = true
		if c.name == "" || (len(args) > 1 && c.name == args[1]) {
			return c, nil
		}
	}
	if !groupKnown {
		return nil, fmt.Errorf("unknown command %q", args[0])
	}
	var names []string
	for _, c := range commands {
		if c.group == args[0] {
			names = append(names, c.name)
		}
	}
	if len(args) == 1 {
		return nil, fmt.Errorf("%s needs a subcommand: %s", args[0], strings.Join(names, ", "))
	}
	return nil, fmt.Errorf("unknown command %q; %s has: %s", args[0]+" "+args[1], args[0], strings.Join(names, ", "))
}

// usageErr marks an error as the caller's mistake in the command line, answered with the
// command's synopsis.
type usageErr struct{ err error }

func (e usageErr) Error() string { return e.err.Error() }
func (e usageErr) Unwrap() error { return e.err }

// errCommandHelp is returned when a command's flags ask for help (-h, --help).
var errCommandHelp = errors.New("help requested")

func usagef(format string, args ...any) error { return usageErr{fmt.Errorf(format, args...)} }

// usageError prints a short usage message for c (or the whole program) and returns 2.
func (a *app) usageError(c *command, err error) int {
	fmt.Fprintf(a.stderr, "subaccountctl: %v\n", err)
	if c != nil {
		fmt.Fprintf(a.stderr, "usage: subaccountctl %s\n", c.usage)
	} else {
		fmt.Fprintln(a.stderr, "usage: subaccountctl [global flags] COMMAND [SUBCOMMAND] [flags] [args]")
	}
	fmt.Fprintln(a.stderr, "Run 'subaccountctl help' for the commands and flags.")
	return exitError
}

// fail reports err from command c on stderr and returns 2.
func (a *app) fail(c *command, err error) int {
	var ue usageErr
	if errors.As(err, &ue) {
		return a.usageError(c, ue.err)
	}
	var pe *apiError
	if errors.As(err, &pe) {
		fmt.Fprintf(a.stderr, "subaccountctl %s: %s failed:\n", c.fullName(), pe.context)
		renderProblem(a.stderr, pe)
		return exitError
	}
	fmt.Fprintf(a.stderr, "subaccountctl %s: %s\n", c.fullName(), redactDigits(err.Error()))
	return exitError
}

// globals are the options every command shares. Their defaults come from the
// environment, so the precedence is: flag, then environment variable, then built-in
// default.
type globals struct {
	url          string
	tokenURL     string
	clientID     string
	clientSecret secretValue
	scopes       string
	// audience and resource are extra parameters of the token request: audience= as
	// Ory Hydra and Auth0 want it, resource= (RFC 8707) as node-oidc-provider does.
	audience string
	resource string
	json     bool
}

// envGlobals reads the environment fallbacks of the global flags.
func envGlobals(getenv func(string) string) globals {
	g := globals{
		url:          getenv("SUBACCOUNTS_URL"),
		tokenURL:     getenv("SUBACCOUNTS_TOKEN_URL"),
		clientID:     getenv("SUBACCOUNTS_CLIENT_ID"),
		clientSecret: secretValue(getenv("SUBACCOUNTS_CLIENT_SECRET")),
		scopes:       getenv("SUBACCOUNTS_SCOPES"),
		audience:     getenv("SUBACCOUNTS_AUDIENCE"),
		resource:     getenv("SUBACCOUNTS_RESOURCE"),
	}
	if g.scopes == "" {
		// The singular is the token request's own parameter name; accept it too.
		g.scopes = getenv("SUBACCOUNTS_SCOPE")
	}
	if g.url == "" {
		g.url = defaultURL
	}
	return g
}

// register adds the global flags to fs. Both the top-level flag set and every
// command's flag set carry them, which is what lets them go before or after the command.
func (g *globals) register(fs *flag.FlagSet) {
	fs.StringVar(&g.url, "url", g.url, "")
	fs.StringVar(&g.tokenURL, "token-url", g.tokenURL, "")
	fs.StringVar(&g.clientID, "client-id", g.clientID, "")
	fs.Var(&g.clientSecret, "client-secret", "")
	fs.StringVar(&g.scopes, "scopes", g.scopes, "")
	fs.StringVar(&g.scopes, "scope", g.scopes, "")
	fs.StringVar(&g.audience, "audience", g.audience, "")
	fs.StringVar(&g.resource, "resource", g.resource, "")
	fs.BoolVar(&g.json, "json", g.json, "")
}

// resolved are the global options checked and with derived defaults filled in.
type resolved struct {
	baseURL  string
	tokenURL string
	// external is set when the token URL is not the built-in issuer's (<url>/oauth2/token).
	external bool
	scopes   []string
	// params are the extra form parameters of the token request (audience, resource).
	params url.Values
}

// resolve checks the URLs and derives the token URL from the API URL when neither the
// flag nor the environment set it.
func (g *globals) resolve() (resolved, error) {
	var r resolved
	base, err := checkURL(g.url)
	if err != nil {
		return r, usagef("--url / SUBACCOUNTS_URL: %v", err)
	}
	r.baseURL = base
	r.tokenURL = base + "/oauth2/token"
	if g.tokenURL != "" {
		if r.tokenURL, err = checkURL(g.tokenURL); err != nil {
			return r, usagef("--token-url / SUBACCOUNTS_TOKEN_URL: %v", err)
		}
	}
	r.external = r.tokenURL != base+"/oauth2/token"
	r.scopes = splitScopes(g.scopes)
	if aud := strings.TrimSpace(g.audience); aud != "" {
		r.params = url.Values{"audience": {aud}}
	}
	if res := strings.TrimSpace(g.resource); res != "" {
		if err := checkResource(res); err != nil {
			return r, usagef("--resource / SUBACCOUNTS_RESOURCE: %v", err)
		}
		if r.params == nil {
			r.params = url.Values{}
		}
		r.params.Set("resource", res)
	}
	return r, nil
}

// checkResource accepts what RFC 8707 §2 allows as a resource indicator: an absolute URI
// without a fragment. Issuers refuse anything else with invalid_target, which is less
// clear than saying so before the request.
func checkResource(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URI: %w", err)
	}
	if !u.IsAbs() {
		return fmt.Errorf("%q is not an absolute URI (e.g. https://api.example.com/ or urn:subaccounts-api)", s)
	}
	if strings.Contains(s, "#") {
		return fmt.Errorf("%q has a fragment, which a resource indicator must not have", s)
	}
	return nil
}

// checkURL accepts an absolute http(s) URL and returns it without a trailing slash.
func checkURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("not a URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute http or https URL", s)
	}
	if u.User != nil {
		// Credentials in a URL end up in error messages and process listings.
		return "", errors.New("the URL must not carry credentials; use --client-id and SUBACCOUNTS_CLIENT_SECRET")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// splitScopes splits a scope list written with spaces, commas or both; none is nil,
// which asks the issuer for every scope the client holds.
func splitScopes(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// secretValue is a flag.Value that never shows its value, so no usage or flag error
// message can print the client secret.
type secretValue string

func (s *secretValue) String() string {
	if s == nil || *s == "" {
		return ""
	}
	return "(set)"
}

func (s *secretValue) Set(v string) error { *s = secretValue(v); return nil }

// newFlagSet returns a flag set that reports errors to its caller instead of printing
// them, so that usage messages have one format.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseInterspersed parses args with fs, collecting positional arguments wherever they
// stand, so that `cards move ID --to X` and `cards move --to X ID` both work. When
// stopAtFirst is set it stops at the first positional argument instead (the top level
// stops at the command name) and returns it with everything after it. "--" ends the
// flags: everything after it is positional.
func parseInterspersed(fs *flag.FlagSet, args []string, stopAtFirst bool) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := args[:len(args)-len(rest)]
		if len(rest) == 0 {
			return pos, nil
		}
		if stopAtFirst || (len(consumed) > 0 && consumed[len(consumed)-1] == "--") {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseCommand parses a command's arguments (its own flags plus the global ones) and
// checks the number of positional arguments.
func (a *app) parseCommand(c *command, fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	a.g.register(fs)
	pos, err := parseInterspersed(fs, args, false)
	if errors.Is(err, flag.ErrHelp) {
		return nil, errCommandHelp
	}
	if err != nil {
		return nil, usageErr{err}
	}
	for _, p := range pos {
		if strings.TrimSpace(p) == "" {
			// An empty id would turn /v1/cards/{id} into another route.
			return nil, usagef("empty argument")
		}
	}
	if len(pos) != positional {
		switch {
		case positional == 0:
			return nil, usagef("unexpected argument %q", pos[0])
		case len(pos) < positional:
			return nil, usagef("missing argument")
		default:
			return nil, usagef("too many arguments")
		}
	}
	return pos, nil
}

// writeHelp prints the full help text.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, `subaccountctl — command-line client of the subaccounts API.

Usage:
  subaccountctl [global flags] COMMAND [SUBCOMMAND] [flags] [args]

Global flags may stand before the command or among the subcommand's own flags; a flag
beats its environment variable, which beats the default.

  --url URL            API base URL            SUBACCOUNTS_URL (default `+defaultURL+`)
  --token-url URL      OAuth2 token endpoint   SUBACCOUNTS_TOKEN_URL (default <url>/oauth2/token)
  --client-id ID       OAuth2 client id        SUBACCOUNTS_CLIENT_ID
  --client-secret S    OAuth2 client secret    SUBACCOUNTS_CLIENT_SECRET
  --scopes LIST        scopes to ask for, space- or comma-separated; --scope is the same
                       SUBACCOUNTS_SCOPES (or SUBACCOUNTS_SCOPE). Default: none named,
                       which the built-in issuer answers with every scope the client
                       holds; with a --token-url of an external issuer, the scopes the
                       command needs (see Scopes below)
  --audience AUD       audience= parameter of the token request (Ory Hydra, Auth0)
                                               SUBACCOUNTS_AUDIENCE
  --resource URI       resource= parameter (RFC 8707 resource indicator, node-oidc-
                       provider): an absolute URI   SUBACCOUNTS_RESOURCE
  --json               machine output: the API's JSON (lists: one array of every item)

The client-credentials grant gets a token from the token endpoint with the client id and
secret (HTTP Basic). Prefer SUBACCOUNTS_CLIENT_SECRET to --client-secret: a command line
is visible to other users of the machine. No secret or token is ever printed.

Commands:
`)
	tw := newTable(w)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.fullName(), c.summary)
	}
	fmt.Fprintln(tw, "  help\tThis text")
	tw.Flush()
	fmt.Fprint(w, `
Scopes:
  An external issuer grants only the scopes asked for, so with a --token-url other than
  <url>/oauth2/token each command asks for the scopes it uses, unless --scopes names
  others (the client must be allowed every scope asked for):
`)
	tw = newTable(w)
	for _, c := range commands {
		s := c.scopes
		if c.group == "compliance" {
			s += " (with --account: accounts:admin)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.fullName(), s)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nSynopses:")
	for _, c := range commands {
		fmt.Fprintf(w, "  subaccountctl %s\n", c.usage)
	}
	fmt.Fprint(w, `
Cards:
  A card number (PAN) is never taken from a flag, because command lines are visible to
  other users (ps, /proc); 'cards enrol' reads it from standard input (one line, spaces
  and dashes allowed; --number-stdin only says so explicitly), e.g.
    subaccountctl cards enrol --subaccount ID --country USA --exp 12/2030 --number-stdin < pan.txt
  No output ever shows a full number: cards are shown as 411111******1111.
  With --file (a path, or - for standard input) the CSV columns are
  number,expMonth,expYear,countryCode; a header row naming them (in any order) is
  optional. Rows are checked first (--check stops there), then sent 500 at a time to the
  batch route; each failed row is reported by its row number (its line in the file),
  status and reason; with --json the output is {"rows": [...], "summary": {...}}.
  Enrolling asserts that the cardholders accepted the terms of use (termsOfUse: true).

Compliance:
  'compliance check' reads GET /v1/compliance (tenant credentials with compliance:read)
  or, with --account, GET /v1/accounts/ACCOUNT_ID/compliance (operator credentials).
  --from/--to bound the window for out-of-policy transactions (default: the last 24 h).

Audit:
  'audit list' and 'audit verify' read the account's audit log (tenant credentials with
  audit:read). 'audit verify' recomputes the whole hash chain on the server and prints the
  first broken link, if any.

Money:
  Amounts are integers of minor units, as the API has them: --amount 1250 is 12.50 EUR,
  1250 JPY. A decimal point is refused, never guessed at. Output shows the decimal form in
  the account's currency (from GET /v1/account) beside the exact minor units.
  'transfers create' moves credit (the right to go below zero) or balance between the
  primary, named 'primary' or by the account id, and one subaccount with its own balance
  ('subaccounts set ID --own-balance'). Each call sends an Idempotency-Key, a new UUID
  unless --idempotency-key is given, and prints it on stderr before sending: if the
  command fails or its answer is lost, repeat it with --idempotency-key KEY and the API
  answers with the transfer already made instead of moving money twice (keys are kept at
  least 24 hours; reusing one for a different transfer is refused).
  'subaccounts suspend', 'reactivate' and 'set' read the subaccount and send the change
  with If-Match naming the version read: if someone changed it in between, nothing is
  changed and the command fails (412) instead of overwriting their change.
  --auto-top-up THRESHOLD:AMOUNT moves AMOUNT from the primary whenever the balance falls
  below THRESHOLD (minor units; the threshold may be negative); 'off' or an AMOUNT of 0
  turns it off. --max-cards 0 means no quota.
  Credentials: transfers and usage need ledger:write / ledger:read; 'account', and the
  currency shown by the others, need subaccounts:read.

Webhooks:
  'webhooks create' and 'webhooks rotate' print the endpoint's signing secret (whsec_…):
  the API shows it only in that answer, so store it then (with --json it is the
  document's "secret"). --endpoint-url is where events are posted (--url stays the
  API's). --event-types is a comma list of catalogue types
  (card.enrolled,transaction.routed) or '*' for every type; an endpoint with
  --subaccount gets that subaccount's events only. After 'rotate' the previous secret
  keeps signing for 24 hours beside the new one, unless --expire-old ends it at once.
  'webhooks deliveries' lists what was sent, newest first, with each delivery's last
  attempt; --attempts prints every attempt with the start of the receiver's answer.
  'resend' sends one delivery again and 'recover --since' every failed one since then,
  each with the webhook-id it had. create, rotate, test, resend and recover send an
  Idempotency-Key as transfers do (a new UUID on stderr unless --idempotency-key is
  given): repeated with the same key, a lost answer comes again, the same secret too.
  Credentials: webhooks:read for list, get and deliveries; webhooks:write for the rest.

Exit codes:
  0  success; compliance check: compliant; audit verify: the chain is intact
  1  compliance check: violations found; cards enrol --file: some rows failed;
     audit verify: the chain is broken
  2  error: bad command line, network failure, or an error answer from the API (a
     refused transfer, a subaccount that changed since it was read)
`)
}
