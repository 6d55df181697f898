package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/cardseg/subaccounts/internal/api"
)

// requestTimeout bounds one HTTP exchange. A batch of 500 enrolments is the slowest
// request the CLI makes, so this is generous.
const requestTimeout = 2 * time.Minute

// maxResponse caps what is read of one response body.
const maxResponse = 32 << 20

// pageSize is the largest page the API serves.
const pageSize = 100

// apiClient calls the API with a token from the client-credentials grant.
type apiClient struct {
	base string
	http *http.Client
	// unauthorizedHint, when set, is the hint of every 401 answer: what is likely wrong
	// with how the token was asked for.
	unauthorizedHint string
}

// client returns the API client, getting a token on first use. Getting the token
// up front (rather than on the first request) gives a clear error that names the token
// endpoint when the credentials are wrong.
func (a *app) client(ctx context.Context) (*apiClient, error) {
	if a.api != nil {
		return a.api, nil
	}
	r, err := a.g.resolve()
	if err != nil {
		return nil, err
	}
	if a.g.clientID == "" || a.g.clientSecret == "" {
		return nil, usagef("no client credentials: set SUBACCOUNTS_CLIENT_ID and SUBACCOUNTS_CLIENT_SECRET (or --client-id and --client-secret)")
	}
	scopes := r.scopes
	if scopes == nil && r.external {
		// The built-in issuer answers a request naming no scope with every scope the
		// client holds; Hydra and node-oidc-provider answer it with a token holding
		// none, so there the default is what this command needs.
		scopes = splitScopes(a.need)
	}
	cc := clientcredentials.Config{
		ClientID:       a.g.clientID,
		ClientSecret:   string(a.g.clientSecret),
		TokenURL:       r.tokenURL,
		Scopes:         scopes,
		EndpointParams: r.params,
		// The built-in issuer takes either style; saying which avoids the library's
		// auto-detection, which retries a failed request with the other style.
		AuthStyle: oauth2.AuthStyleInHeader,
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: requestTimeout})
	ts := cc.TokenSource(ctx)
	if _, err := ts.Token(); err != nil {
		return nil, tokenError(r.tokenURL, err)
	}
	hc := oauth2.NewClient(ctx, ts)
	hc.Timeout = requestTimeout
	a.api = &apiClient{base: r.baseURL, http: hc}
	if r.external && r.params == nil {
		// Hydra answers a request without audience= with a token without aud, and
		// node-oidc-provider one without resource= with an opaque token: either is a
		// token the API refuses, and nothing in its answer says why.
		a.api.unauthorizedHint = "the token came from " + r.tokenURL + " without an audience or resource indicator; " +
			"if that issuer needs one for this API, give --audience (Ory Hydra, Auth0) or --resource (node-oidc-provider)"
	}
	return a.api, nil
}

// tokenError describes a failed token request without the library's raw response dump.
func tokenError(tokenURL string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := "the token endpoint refused the credentials"
		if re.Response != nil {
			msg += " (HTTP " + re.Response.Status + ")"
		}
		if re.ErrorCode != "" {
			msg += ": " + re.ErrorCode
			if re.ErrorDescription != "" {
				msg += ": " + re.ErrorDescription
			}
		}
		switch re.ErrorCode {
		case "invalid_scope":
			msg += " (the client may not have a scope asked for: name the ones it holds with --scopes)"
		case "invalid_target":
			msg += " (the issuer does not know the --resource / SUBACCOUNTS_RESOURCE given, or the client may not use it)"
		}
		return fmt.Errorf("getting an access token from %s: %s", tokenURL, msg)
	}
	return fmt.Errorf("getting an access token from %s: %w", tokenURL, err)
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	// context says what was being done, e.g. "GET /v1/subaccounts/…".
	context string
	status  int
	// problem is the decoded problem document, or nil when the body was not one.
	problem *problem
	// raw is the body as received, for --json callers that want it.
	raw []byte
	// hint, when set, tells the user what to do about this answer; it is printed after
	// the problem.
	hint string
}

func (e *apiError) Error() string {
	if e.problem != nil && e.problem.Title != "" {
		return fmt.Sprintf("%s: %d %s", e.context, e.status, e.problem.Title)
	}
	return fmt.Sprintf("%s: HTTP %d %s", e.context, e.status, http.StatusText(e.status))
}

// problem is an RFC 9457 problem document with the extensions this API uses.
type problem = api.Problem

// fieldError names one failing input by JSON pointer or parameter name.
type fieldError = api.FieldError

// pair is one (country, network) pair.
type pair = api.Pair

// digitRun matches 13 or more consecutive digits: anything that could be a card number.
// UUIDs never have more than 12 consecutive digits, so ids survive it.
var digitRun = regexp.MustCompile(`[0-9]{13,}`)

// redactDigits hides anything that could be a card number. Server messages never
// contain one by design, but a proxy or a future server version might echo a request
// body, and this output goes to terminals and logs.
func redactDigits(s string) string { return digitRun.ReplaceAllString(s, "[redacted]") }

// redactJSON applies redactDigits to every string in a JSON document, leaving numbers
// and structure alone. A document that does not parse is dropped rather than passed on
// unchecked.
func redactJSON(raw []byte) json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as received
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		return nil
	}
	return out
}

func redactValue(v any) any {
	switch x := v.(type) {
	case string:
		return redactDigits(x)
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	case map[string]any:
		for k, e := range x {
			x[k] = redactValue(e)
		}
	}
	return v
}

// renderProblem prints the interesting parts of an API error, one per line, indented.
func renderProblem(w io.Writer, e *apiError) {
	p := e.problem
	if p == nil {
		fmt.Fprintf(w, "  HTTP %d %s (no problem document in the answer)\n", e.status, http.StatusText(e.status))
		if e.hint != "" {
			fmt.Fprintf(w, "  hint: %s\n", redactDigits(e.hint))
		}
		return
	}
	for _, line := range problemLines(e.status, p) {
		fmt.Fprintf(w, "  %s\n", line)
	}
	if e.hint != "" {
		fmt.Fprintf(w, "  hint: %s\n", redactDigits(e.hint))
	}
}

// problemLines is the text of a problem: title with status and type, detail, every
// failing input and the extensions, each scrubbed of anything like a card number.
func problemLines(status int, p *problem) []string {
	if p.Status != 0 {
		status = p.Status
	}
	head := fmt.Sprintf("%d %s", status, p.Title)
	if p.Title == "" {
		head = fmt.Sprintf("%d %s", status, http.StatusText(status))
	}
	if p.Type != "" {
		head += " (" + p.Type + ")"
	}
	lines := []string{head}
	if p.Detail != "" {
		lines = append(lines, p.Detail)
	}
	if p.Reason != "" {
		lines = append(lines, "reason: "+p.Reason)
	}
	for _, fe := range p.Errors {
		switch {
		case fe.Pointer != nil:
			where := *fe.Pointer
			if where == "" {
				where = "(body)"
			}
			lines = append(lines, where+": "+fe.Detail)
		case fe.Parameter != "":
			lines = append(lines, "parameter "+fe.Parameter+": "+fe.Detail)
		default:
			lines = append(lines, fe.Detail)
		}
	}
	if len(p.OutsideContract) > 0 {
		lines = append(lines, "outside the contract: "+joinPairs(p.OutsideContract))
	}
	if p.Pair != nil {
		lines = append(lines, "refused pair: "+p.Pair.String())
	}
	if p.Permitted != nil {
		lines = append(lines, "permitted: "+formatConfigs(*p.Permitted))
	}
	if p.CardID != nil {
		lines = append(lines, "existing card: "+*p.CardID)
	}
	if p.Scope != "" {
		lines = append(lines, "missing scope: "+p.Scope)
	}
	if p.RequestID != "" {
		lines = append(lines, "request id: "+p.RequestID)
	}
	for i := range lines {
		lines[i] = redactDigits(lines[i])
	}
	return lines
}

func joinPairs(ps []pair) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// do sends one request and returns the body of a 2xx answer; any other answer is an
// *apiError. body, when not nil, is sent as JSON; out, when not nil, receives the
// decoded answer.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	raw, _, err := c.exchange(ctx, method, path, query, nil, body, out)
	return raw, err
}

// exchange is do with request headers to add (Idempotency-Key, If-Match) and the
// response headers returned (ETag, Idempotent-Replayed).
func (c *apiClient) exchange(ctx context.Context, method, path string, query url.Values, header http.Header, body, out any) ([]byte, http.Header, error) {
	what := method + " " + path
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: encoding the request: %w", what, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "subaccountctl")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error names the URL, which carries no secret: checkURL refuses userinfo.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: reading the answer: %w", what, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &apiError{context: what, status: resp.StatusCode, raw: raw}
		if resp.StatusCode == http.StatusUnauthorized {
			e.hint = c.unauthorizedHint
		}
		if isJSON(resp.Header.Get("Content-Type")) {
			var p problem
			if json.Unmarshal(raw, &p) == nil && (p.Title != "" || p.Type != "" || p.Detail != "") {
				e.problem = &p
			}
		}
		return nil, nil, e
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, nil, fmt.Errorf("%s: decoding the answer: %w", what, err)
		}
	}
	return raw, resp.Header, nil
}

// isJSON reports whether a Content-Type is JSON (application/json or any +json type).
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// listPage is the list envelope of every list route.
type listPage = api.List[json.RawMessage]

// list follows nextCursor from page to page and returns every item, or the first max
// items when max > 0.
func (c *apiClient) list(ctx context.Context, path string, query url.Values, max int) ([]json.RawMessage, error) {
	var all []json.RawMessage
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	for {
		size := pageSize
		if max > 0 && max-len(all) < size {
			size = max - len(all)
		}
		q.Set("limit", strconv.Itoa(size))
		var page listPage
		if _, err := c.do(ctx, http.MethodGet, path, q, nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Items...)
		if max > 0 && len(all) >= max {
			return all[:max], nil
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all, nil
		}
		if len(page.Items) == 0 {
			// A server that keeps answering empty pages with a cursor would loop forever.
			return nil, fmt.Errorf("GET %s: an empty page with a next cursor", path)
		}
		q.Set("cursor", *page.NextCursor)
	}
}

// decodeItems decodes raw list items into T.
func decodeItems[T any](items []json.RawMessage) ([]T, error) {
	out := make([]T, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &out[i]); err != nil {
			return nil, fmt.Errorf("decoding list item %d: %w", i, err)
		}
	}
	return out, nil
}

// writeJSON writes raw JSON as received, ending with a newline.
func writeJSON(w io.Writer, raw []byte) error {
	raw = bytes.TrimRight(raw, "\n")
	if _, err := w.Write(append(raw, '\n')); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}

// writeJSONList writes list items as one JSON array.
func writeJSONList(w io.Writer, items []json.RawMessage) error {
	if items == nil {
		items = []json.RawMessage{}
	}
	b, err := json.MarshalIndent(items, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding output: %w", err)
	}
	return writeJSON(w, b)
}

// pathID escapes an id for use as a path segment, so that an id typed with a slash
// cannot reach another route.
func pathID(id string) string { return url.PathEscape(id) }

// listAll fetches every page of a list (up to limit items) and, with --json, prints it as
// received; otherwise it decodes the items, printing "No <noun>." when there are none.
// done reports that output was written and the command has nothing left to print.
func listAll[T any](ctx context.Context, a *app, path string, q url.Values, limit int, noun string) (items []T, done bool, err error) {
	api, err := a.client(ctx)
	if err != nil {
		return nil, false, err
	}
	raw, err := api.list(ctx, path, q, limit)
	if err != nil {
		return nil, false, err
	}
	if a.g.json {
		return nil, true, writeJSONList(a.stdout, raw)
	}
	items, err = decodeItems[T](raw)
	if err != nil {
		return nil, false, err
	}
	if len(items) == 0 {
		fmt.Fprintf(a.stdout, "No %s.\n", noun)
		return nil, true, nil
	}
	return items, false, nil
}
