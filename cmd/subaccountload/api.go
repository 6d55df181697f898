package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// api calls the server. One client serves the whole run: keep-alive, enough idle
// connections per host for every worker of the largest run.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string) *api {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        4 * ingestWorkers,
		MaxIdleConnsPerHost: 2 * ingestWorkers,
		IdleConnTimeout:     2 * time.Minute,
		DisableCompression:  true,
	}
	return &api{base: base, hc: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// statusError is an answer other than the expected one.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.method, e.path, e.status, e.body)
}

// call sends body as JSON (when not nil) with the bearer token, expects one of want and
// decodes the answer into out (when not nil).
func (a *api) call(ctx context.Context, method, path, token string, body, out any, want ...int) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return a.do(req, out, want...)
}

func (a *api) do(req *http.Request, out any, want ...int) error {
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read the answer: %w", req.Method, req.URL.Path, err)
	}
	if !slices.Contains(want, resp.StatusCode) {
		return &statusError{method: req.Method, path: req.URL.Path, status: resp.StatusCode, body: shorten(redactDigits(string(data)), 600)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// token runs the client-credentials grant with client_secret_basic.
func (a *api) token(ctx context.Context, clientID, secret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/oauth2/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.do(req, &out, http.StatusOK); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("POST /oauth2/token: no access_token in the answer")
	}
	return out.AccessToken, nil
}

type configuration struct {
	Countries []string `json:"countries"`
	Networks  []string `json:"networks"`
}

var (
	bothNetworks = []string{"VISA", "MASTERCARD"}
	// The contract of both bench accounts.
	benchContract = []configuration{{Countries: []string{"USA", "CAN", "GBR"}, Networks: bothNetworks}}
	// The compliance account's subaccounts leave GBR out, so its GBR cards are violations.
	complianceSubaccountConfig = []configuration{{Countries: []string{"USA", "CAN"}, Networks: bothNetworks}}
)

// tenantScopes are every scope a tenant client may hold.
var tenantScopes = []string{
	"subaccounts:read", "subaccounts:write", "cards:read", "cards:write",
	"transactions:read", "transactions:write", "compliance:read", "webhooks:read", "webhooks:write",
}

// tenant is an account created for the run, with a token of its own client.
type tenant struct {
	accountID   string
	token       string
	subaccounts []string
}

// newTenant creates an account with the bench contract, a client holding every tenant
// scope, its token, and n subaccounts with the given configurations.
func (a *api) newTenant(ctx context.Context, opToken, name string, n int, config []configuration) (*tenant, error) {
	var acct struct {
		ID string `json:"id"`
	}
	err := a.call(ctx, http.MethodPost, "/v1/accounts", opToken, map[string]any{
		"name":     name,
		"contract": map[string]any{"maxSubaccounts": 200, "configurations": benchContract},
	}, &acct, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	var client struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	err = a.call(ctx, http.MethodPost, "/v1/accounts/"+acct.ID+"/clients", opToken, map[string]any{
		"name": name + " load generator", "scopes": tenantScopes,
	}, &client, http.StatusCreated)
	if err != nil {
		return nil, err
	}
	tok, err := a.token(ctx, client.ClientID, client.ClientSecret)
	if err != nil {
		return nil, err
	}
	t := &tenant{accountID: acct.ID, token: tok}
	for i := range n {
		var sub struct {
			ID string `json:"id"`
		}
		err := a.call(ctx, http.MethodPost, "/v1/subaccounts", tok, map[string]any{
			"name": fmt.Sprintf("business client %03d", i+1), "configurations": config,
		}, &sub, http.StatusCreated)
		if err != nil {
			return nil, err
		}
		t.subaccounts = append(t.subaccounts, sub.ID)
	}
	return t, nil
}

// cardBody is one enrolment. Number is a generated PAN: it exists only in memory and
// in the request sent to the server.
type cardBody struct {
	Number      string `json:"number"`
	ExpMonth    int    `json:"expMonth"`
	ExpYear     int    `json:"expYear"`
	CountryCode string `json:"countryCode"`
	TermsOfUse  bool   `json:"termsOfUse"`
}

func newCard(pans *panSource) cardBody {
	return cardBody{Number: pans.next(), ExpMonth: 12, ExpYear: time.Now().Year() + 3, CountryCode: "USA", TermsOfUse: true}
}

// enrolBatch enrols n cards into one subaccount with the batch route and returns their ids.
func (a *api) enrolBatch(ctx context.Context, t *tenant, subaccountID string, n int, pans *panSource) ([]string, error) {
	cards := make([]cardBody, n)
	for i := range cards {
		cards[i] = newCard(pans)
	}
	var out struct {
		Results []struct {
			Status int `json:"status"`
			Card   *struct {
				ID string `json:"id"`
			} `json:"card"`
			Problem json.RawMessage `json:"problem"`
		} `json:"results"`
	}
	path := "/v1/subaccounts/" + subaccountID + "/cards/batch"
	if err := a.call(ctx, http.MethodPost, path, t.token, map[string]any{"cards": cards}, &out, http.StatusOK); err != nil {
		return nil, err
	}
	ids := make([]string, 0, n)
	for _, r := range out.Results {
		if r.Status != http.StatusCreated || r.Card == nil {
			return nil, fmt.Errorf("POST %s: an item answered %d: %s", path, r.Status, shorten(redactDigits(string(r.Problem)), 400))
		}
		ids = append(ids, r.Card.ID)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("POST %s: %d results for %d cards", path, len(ids), n)
	}
	return ids, nil
}

// complianceSummary is the part of the report the run checks.
type complianceSummary struct {
	Summary struct {
		Subaccounts               int   `json:"subaccounts"`
		ActiveCards               int64 `json:"activeCards"`
		CardsOutsideConfiguration int64 `json:"cardsOutsideConfiguration"`
	} `json:"summary"`
	Violations struct {
		CardsOutsideConfiguration []json.RawMessage `json:"cardsOutsideConfiguration"`
	} `json:"violations"`
}
