package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/api"
)

// batchSize is the most cards the batch route takes in one request.
const batchSize = 500

// card is the API's Card resource; it never carries the full number.
type card = api.Card

// expiry is the card's expiry as MM/YYYY.
func expiry(c card) string { return fmt.Sprintf("%02d/%04d", c.ExpMonth, c.ExpYear) }

// refuseNumberFlag stops a card number given as a flag before the flag package can echo
// it in an "invalid flag" message, and says why the CLI does not take it.
func refuseNumberFlag(args []string) error {
	for _, arg := range args {
		if arg == "--" {
			return nil
		}
		name := strings.TrimLeft(arg, "-")
		if name, _, _ = strings.Cut(name, "="); strings.HasPrefix(arg, "-") && (name == "number" || name == "pan") {
			return usagef("the card number is never taken from a flag (other users can see command lines); give --number-stdin and write it to standard input")
		}
	}
	return nil
}

func runCardsEnrol(ctx context.Context, a *app, c *command, args []string) (int, error) {
	if err := refuseNumberFlag(args); err != nil {
		return 0, err
	}
	fs := newFlagSet(c.fullName())
	var sub, country, exp, file string
	var numberStdin, check bool
	meta := metadataFlag{}
	fs.StringVar(&sub, "subaccount", "", "")
	fs.StringVar(&country, "country", "", "")
	fs.StringVar(&exp, "exp", "", "")
	fs.BoolVar(&numberStdin, "number-stdin", false, "")
	fs.StringVar(&file, "file", "", "")
	fs.BoolVar(&check, "check", false, "")
	fs.Var(meta, "metadata", "")
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if file != "" {
		if country != "" || exp != "" || numberStdin || len(meta) > 0 {
			return 0, usagef("--file takes number, expiry and country from each row; drop --country, --exp, --number-stdin and --metadata")
		}
		if sub == "" && !check {
			return 0, usagef("--subaccount is required")
		}
		return a.enrolFile(ctx, sub, file, check)
	}
	if check {
		return 0, usagef("--check only applies to --file")
	}
	if sub == "" || country == "" || exp == "" {
		return 0, usagef("--subaccount, --country and --exp are required (or --file)")
	}
	body := cardEnrolment{TermsOfUse: new(true)}
	if len(meta) > 0 {
		body.Metadata = meta
	}
	cc, ok := cleanCountry(country)
	if !ok {
		return 0, usagef("--country must be an ISO 3166-1 alpha-3 code such as USA")
	}
	month, year, err := parseExpiry(exp)
	if err != nil {
		return 0, usageErr{err}
	}
	body.CountryCode, body.ExpMonth, body.ExpYear = &cc, &month, &year
	if isTerminal(a.stdin) {
		// Without a terminal library the input cannot be hidden; say so rather than
		// pretend otherwise.
		fmt.Fprint(a.stderr, "Card number (visible as you type), then Enter: ")
	}
	number, err := readPAN(a.stdin)
	if err != nil {
		return 0, usageErr{err}
	}
	body.Number = &number
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var cd card
	raw, err := api.do(ctx, http.MethodPost, "/v1/subaccounts/"+pathID(sub)+"/cards", nil, body, &cd)
	if err != nil {
		return 0, err
	}
	return exitOK, a.showCard(raw, cd)
}

// parseExpiry parses --exp, MM/YYYY.
func parseExpiry(s string) (month, year int, err error) {
	m, y, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, errors.New("--exp must be MM/YYYY, e.g. 09/2030")
	}
	if month, err = parseMonth(m); err != nil {
		return 0, 0, fmt.Errorf("--exp month %w", err)
	}
	if year, err = parseYear(y); err != nil {
		return 0, 0, fmt.Errorf("--exp year %w", err)
	}
	return month, year, nil
}

// readPAN reads one card number from r: a single line of 13–19 digits, spaces and
// dashes allowed. Its errors never quote the input.
func readPAN(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 1024))
	if err != nil {
		return "", fmt.Errorf("reading the card number from standard input: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errors.New("no card number on standard input (write it there, e.g. < pan.txt)")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("standard input must hold one card number on one line (use --file for many)")
	}
	pan, ok := cleanPAN(s)
	if !ok {
		return "", errors.New("the card number on standard input must be 13–19 digits")
	}
	return pan, nil
}

// batchRowJSON is one row of the --json output of a file enrolment.
type batchRowJSON struct {
	Row int `json:"row"`
	// Status is the API's status for the row, or 0 when it was not sent.
	Status  int             `json:"status"`
	Card    json.RawMessage `json:"card,omitempty"`
	Problem json.RawMessage `json:"problem,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// batchSummary counts the rows of a file enrolment.
type batchSummary struct {
	Rows     int `json:"rows"`
	Enrolled int `json:"enrolled"`
	Failed   int `json:"failed"`
	Invalid  int `json:"invalid"`
	NotSent  int `json:"notSent"`
}

// enrolFile enrols every valid row of a CSV file through the batch route, 500 rows a
// request, and reports each failed row by its row number.
func (a *app) enrolFile(ctx context.Context, sub, file string, check bool) (int, error) {
	var in io.Reader = a.stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return 0, fmt.Errorf("opening the card file: %w", err)
		}
		defer f.Close()
		in = f
	}
	rows, failures, err := parseCardsCSV(in)
	if err != nil {
		return 0, err
	}
	sum := batchSummary{Rows: len(rows) + len(failures), Invalid: len(failures)}
	if check {
		a.printFailures(failures)
		fmt.Fprintf(a.stdout, "%d rows: %d valid, %d invalid (nothing sent).\n", sum.Rows, len(rows), sum.Invalid)
		if len(failures) > 0 {
			return exitFindings, nil
		}
		return exitOK, nil
	}
	var enrolled []batchRowJSON
	var batchErr error
	if len(rows) > 0 {
		api, err := a.client(ctx)
		if err != nil {
			return 0, err
		}
		prog := newProgress(a.stderr, "enrolling", "cards", len(rows))
		for start := 0; start < len(rows); start += batchSize {
			chunk := rows[start:min(start+batchSize, len(rows))]
			ok, bad, err := sendBatch(ctx, api, sub, chunk)
			if err != nil {
				sum.NotSent = len(rows) - start
				batchErr = err
				break
			}
			enrolled = append(enrolled, ok...)
			failures = append(failures, bad...)
			prog.add(len(chunk))
		}
		prog.finish()
	}
	sum.Enrolled = len(enrolled)
	sum.Failed = len(failures)
	sort.Slice(failures, func(i, j int) bool { return failures[i].row < failures[j].row })

	if a.g.json {
		out := struct {
			Rows    []batchRowJSON `json:"rows"`
			Summary batchSummary   `json:"summary"`
		}{Rows: enrolled, Summary: sum}
		for _, f := range failures {
			r := batchRowJSON{Row: f.row, Status: f.status, Problem: redactJSON(f.problem)}
			if f.status == 0 {
				r.Error = f.detail
			}
			out.Rows = append(out.Rows, r)
		}
		sort.SliceStable(out.Rows, func(i, j int) bool { return out.Rows[i].Row < out.Rows[j].Row })
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return 0, fmt.Errorf("encoding output: %w", err)
		}
		if err := writeJSON(a.stdout, b); err != nil {
			return 0, err
		}
	} else {
		a.printFailures(failures)
		fmt.Fprintf(a.stdout, "Enrolled %d of %d rows; %d failed (%d invalid, not sent)", sum.Enrolled, sum.Rows, sum.Failed, sum.Invalid)
		if sum.NotSent > 0 {
			fmt.Fprintf(a.stdout, "; %d valid rows not sent after the error below", sum.NotSent)
		}
		fmt.Fprintln(a.stdout, ".")
	}
	if batchErr != nil {
		return 0, batchErr
	}
	if sum.Failed > 0 {
		return exitFindings, nil
	}
	return exitOK, nil
}

// sendBatch posts one chunk and sorts its results into enrolled rows and failures.
func sendBatch(ctx context.Context, client *apiClient, sub string, chunk []csvCard) ([]batchRowJSON, []rowFailure, error) {
	body := api.CardBatchRequest{Cards: make([]cardEnrolment, len(chunk))}
	for i, c := range chunk {
		body.Cards[i] = c.card
	}
	path := "/v1/subaccounts/" + pathID(sub) + "/cards/batch"
	var ans api.CardBatch
	if _, err := client.do(ctx, http.MethodPost, path, nil, body, &ans); err != nil {
		return nil, nil, err
	}
	answered := make([]bool, len(chunk))
	var ok []batchRowJSON
	var bad []rowFailure
	for _, r := range ans.Results {
		if r.Index < 0 || r.Index >= len(chunk) || answered[r.Index] {
			return nil, nil, fmt.Errorf("POST %s: the answer names index %d of a batch of %d (or twice)", path, r.Index, len(chunk))
		}
		answered[r.Index] = true
		rowNo := chunk[r.Index].row
		if r.Status == http.StatusCreated {
			ok = append(ok, batchRowJSON{Row: rowNo, Status: r.Status, Card: marshalOrNil(r.Card)})
			continue
		}
		f := rowFailure{row: rowNo, status: r.Status, detail: http.StatusText(r.Status)}
		if r.Problem != nil {
			f.detail, f.problem = rowDetail(r.Problem), marshalOrNil(r.Problem)
		}
		bad = append(bad, f)
	}
	for i, done := range answered {
		if !done {
			bad = append(bad, rowFailure{row: chunk[i].row, detail: "the API's answer has no result for this row"})
		}
	}
	return ok, bad, nil
}

// marshalOrNil is v (a card or a problem of a batch result) encoded again for --json, or
// nil when there is none.
func marshalOrNil[T any](v *T) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// rowDetail is a one-line reason for a failed row: problem type, detail (or title),
// failing fields, and the existing card for a duplicate.
func rowDetail(p *problem) string {
	var parts []string
	head := strings.TrimPrefix(p.Type, "/problems/")
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if head != "" {
		msg = head + ": " + msg
	}
	msg = strings.TrimSuffix(msg, ".") // the parts are joined with "; "
	parts = append(parts, msg)
	for _, fe := range p.Errors {
		where := fe.Parameter
		if fe.Pointer != nil {
			where = *fe.Pointer
		}
		parts = append(parts, strings.TrimSpace(where+" "+fe.Detail))
	}
	if p.Pair != nil {
		parts = append(parts, "refused pair "+p.Pair.String())
	}
	if p.CardID != nil {
		parts = append(parts, "existing card "+*p.CardID)
	}
	return redactDigits(strings.Join(parts, "; "))
}

// printFailures prints one line per failed row: row number, status, reason.
func (a *app) printFailures(failures []rowFailure) {
	for _, f := range failures {
		status := "invalid"
		if f.status != 0 {
			status = strconv.Itoa(f.status)
		}
		fmt.Fprintf(a.stdout, "row %d: %s: %s\n", f.row, status, redactDigits(f.detail))
	}
}

func runCardsList(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var sub, status, policy, network, country string
	var limit int
	fs.StringVar(&sub, "subaccount", "", "")
	fs.StringVar(&status, "status", "", "")
	fs.StringVar(&policy, "policy-status", "", "")
	fs.StringVar(&network, "network", "", "")
	fs.StringVar(&country, "country", "", "")
	limitFlag(fs, &limit)
	if _, err := a.parseCommand(c, fs, args, 0); err != nil {
		return 0, err
	}
	if err := checkLimit(limit); err != nil {
		return 0, err
	}
	q := url.Values{}
	setIf(q, "subaccountId", sub)
	setIf(q, "status", status)
	setIf(q, "policyStatus", policy)
	setIf(q, "network", strings.ToUpper(network))
	setIf(q, "countryCode", strings.ToUpper(country))
	cards, done, err := listAll[card](ctx, a, "/v1/cards", q, limit, "cards")
	if err != nil || done {
		return exitOK, err
	}
	tw := newTable(a.stdout)
	row(tw, "ID", "SUBACCOUNT", "NETWORK", "COUNTRY", "NUMBER", "EXPIRES", "STATUS", "POLICY")
	for _, cd := range cards {
		row(tw, cd.ID, cd.SubaccountID, cd.Network, cd.CountryCode, maskedNumber(cd.FirstNumbers, cd.LastNumbers), expiry(cd), cd.Status, cd.PolicyStatus)
	}
	if err := tw.Flush(); err != nil {
		return 0, fmt.Errorf("writing output: %w", err)
	}
	return exitOK, nil
}

func runCardsGet(ctx context.Context, a *app, c *command, args []string) (int, error) {
	pos, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 1)
	if err != nil {
		return 0, err
	}
	return a.cardCall(ctx, http.MethodGet, "/v1/cards/"+pathID(pos[0]), nil)
}

func runCardsRemove(ctx context.Context, a *app, c *command, args []string) (int, error) {
	pos, err := a.parseCommand(c, newFlagSet(c.fullName()), args, 1)
	if err != nil {
		return 0, err
	}
	return a.cardCall(ctx, http.MethodDelete, "/v1/cards/"+pathID(pos[0]), nil)
}

func runCardsMove(ctx context.Context, a *app, c *command, args []string) (int, error) {
	fs := newFlagSet(c.fullName())
	var to string
	fs.StringVar(&to, "to", "", "")
	pos, err := a.parseCommand(c, fs, args, 1)
	if err != nil {
		return 0, err
	}
	if to == "" {
		return 0, usagef("--to SUBACCOUNT_ID is required")
	}
	body := api.CardMove{SubaccountID: &to}
	return a.cardCall(ctx, http.MethodPost, "/v1/cards/"+pathID(pos[0])+"/move", body)
}

// cardCall makes one request answered by a Card and shows it.
func (a *app) cardCall(ctx context.Context, method, path string, body any) (int, error) {
	api, err := a.client(ctx)
	if err != nil {
		return 0, err
	}
	var cd card
	raw, err := api.do(ctx, method, path, nil, body, &cd)
	if err != nil {
		return 0, err
	}
	return exitOK, a.showCard(raw, cd)
}

// showCard prints one card, as received with --json.
func (a *app) showCard(raw []byte, c card) error {
	if a.g.json {
		return writeJSON(a.stdout, raw)
	}
	return kv(a.stdout,
		"id", c.ID,
		"subaccount", c.SubaccountID,
		"network", c.Network,
		"country", c.CountryCode,
		"number", maskedNumber(c.FirstNumbers, c.LastNumbers),
		"expires", expiry(c),
		"status", c.Status,
		"policy status", c.PolicyStatus,
		"metadata", formatMetadata(c.Metadata),
		"created", c.CreatedAt,
		"updated", c.UpdatedAt,
	)
}
