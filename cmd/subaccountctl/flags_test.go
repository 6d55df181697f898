package main

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// TestGlobalPrecedence checks flag over environment over default for every global
// option, and the token URL derived from whichever API URL won.
func TestGlobalPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want resolved
		id   string
		json bool
	}{
		{
			name: "defaults",
			want: resolved{baseURL: defaultURL, tokenURL: defaultURL + "/oauth2/token"},
		},
		{
			name: "environment",
			env: map[string]string{"SUBACCOUNTS_URL": "https://api.example/", "SUBACCOUNTS_CLIENT_ID": "env-id",
				"SUBACCOUNTS_SCOPES": "subaccounts:read,cards:read"},
			want: resolved{baseURL: "https://api.example", tokenURL: "https://api.example/oauth2/token", scopes: []string{"subaccounts:read", "cards:read"}},
			id:   "env-id",
		},
		{
			name: "flags beat the environment",
			env: map[string]string{"SUBACCOUNTS_URL": "https://env.example", "SUBACCOUNTS_TOKEN_URL": "https://idp.env/token",
				"SUBACCOUNTS_CLIENT_ID": "env-id", "SUBACCOUNTS_SCOPES": "a"},
			args: []string{"--url", "http://flag.example:9", "--token-url=https://idp.flag/token", "--client-id", "flag-id", "--scopes", "b c,d", "--json"},
			want: resolved{baseURL: "http://flag.example:9", tokenURL: "https://idp.flag/token", external: true, scopes: []string{"b", "c", "d"}},
			id:   "flag-id",
			json: true,
		},
		{
			name: "token URL from the environment beats the one derived from the --url flag",
			env:  map[string]string{"SUBACCOUNTS_TOKEN_URL": "https://idp.env/token"},
			args: []string{"--url", "http://flag.example"},
			want: resolved{baseURL: "http://flag.example", tokenURL: "https://idp.env/token", external: true},
		},
		{
			name: "audience and resource",
			env:  map[string]string{"SUBACCOUNTS_AUDIENCE": " subaccounts-api ", "SUBACCOUNTS_RESOURCE": "urn:x"},
			args: []string{"--resource", "https://api.example.com/"},
			want: resolved{baseURL: defaultURL, tokenURL: defaultURL + "/oauth2/token",
				params: url.Values{"audience": {"subaccounts-api"}, "resource": {"https://api.example.com/"}}},
		},
		{
			name: "token URL derived from the --url flag over SUBACCOUNTS_URL",
			env:  map[string]string{"SUBACCOUNTS_URL": "http://env.example"},
			args: []string{"--url", "http://flag.example/"},
			want: resolved{baseURL: "http://flag.example", tokenURL: "http://flag.example/oauth2/token"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := envGlobals(func(k string) string { return tt.env[k] })
			fs := newFlagSet("test")
			g.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := g.resolve()
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("resolved = %+v, want %+v", got, tt.want)
			}
			if g.clientID != tt.id || g.json != tt.json {
				t.Errorf("client id %q json %v, want %q %v", g.clientID, g.json, tt.id, tt.json)
			}
		})
	}
}

// TestGlobalURLChecks refuses URLs that are not absolute http(s) or that carry
// credentials, with exit 2 and without a request.
func TestGlobalURLChecks(t *testing.T) {
	for _, u := range []string{"127.0.0.1:8080", "ftp://x.example", "http://user:pw@x.example"} {
		r := runCLI(t, map[string]string{"SUBACCOUNTS_CLIENT_ID": "a", "SUBACCOUNTS_CLIENT_SECRET": "b"}, "", "--url", u, "subaccounts", "list")
		if r.code != exitError || !strings.Contains(r.stderr, "--url") {
			t.Errorf("--url %s: exit %d, stderr %q", u, r.code, r.stderr)
		}
		if strings.Contains(r.all(), "pw@") {
			t.Errorf("--url %s: the URL's password was printed: %q", u, r.all())
		}
	}
}

// TestGlobalFlagsEitherSide runs real commands with the global flags before the command
// and among the subcommand's flags, and checks what reached the token endpoint.
func TestGlobalFlagsEitherSide(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /v1/subaccounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSONDoc(w, 200, `{"items":[],"nextCursor":null}`)
	})
	env := f.env()
	env["SUBACCOUNTS_CLIENT_ID"] = "env-id-that-the-fake-does-not-know"
	env["SUBACCOUNTS_SCOPES"] = "never-sent"

	before := runCLI(t, env, "", "--client-id", fakeClientID, "--scopes", "subaccounts:read,cards:read", "subaccounts", "list")
	after := runCLI(t, env, "", "subaccounts", "list", "--client-id="+fakeClientID, "--scopes", "subaccounts:read cards:read", "--name", "x")
	for _, r := range []result{before, after} {
		if r.code != exitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	calls := f.tokenRequests()
	if len(calls) != 2 {
		t.Fatalf("token requests: %+v", calls)
	}
	for _, c := range calls {
		if c.clientID != fakeClientID || c.scope != "subaccounts:read cards:read" {
			t.Errorf("token request %+v: want the flag's client id and scopes", c)
		}
	}
	// The environment's client id is used when no flag names one; the fake refuses it.
	r := runCLI(t, env, "", "subaccounts", "list")
	if r.code != exitError || !strings.Contains(r.stderr, "invalid_client") {
		t.Errorf("env client id: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestParseConfig checks the COUNTRIES:NETWORKS syntax of --config.
func TestParseConfig(t *testing.T) {
	good := map[string]configuration{
		"USA,CAN:VISA,MASTERCARD":       {Countries: []string{"USA", "CAN"}, Networks: []string{"VISA", "MASTERCARD"}},
		"GBR:VISA":                      {Countries: []string{"GBR"}, Networks: []string{"VISA"}},
		" usa , deu : visa ,mastercard": {Countries: []string{"USA", "DEU"}, Networks: []string{"VISA", "MASTERCARD"}},
	}
	for in, want := range good {
		got, err := parseConfig(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseConfig(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"USA":               "COUNTRIES:NETWORKS",
		"USA:VISA:X":        "COUNTRIES:NETWORKS",
		":VISA":             "empty country",
		"USA,,CAN:VISA":     "empty country",
		"US:VISA":           `"US" is not an ISO 3166-1 alpha-3`,
		"USA:":              "empty network",
		"USA:VISA,AMEX":     `"AMEX" is not VISA or MASTERCARD`,
		"USA1:VISA":         "alpha-3",
		"USA:VISA,,":        "empty network",
		"USA,CAN;GBR:VISA":  "alpha-3",
		"USA:MASTERCARD VS": "is not VISA or MASTERCARD",
	}
	for in, want := range bad {
		_, err := parseConfig(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseConfig(%q) error = %v, want one containing %q", in, err, want)
		}
	}
	// Repeated flags accumulate in order.
	var cf configFlag
	for _, s := range []string{"USA:VISA", "CAN:MASTERCARD"} {
		if err := cf.Set(s); err != nil {
			t.Fatal(err)
		}
	}
	if got := cf.String(); got != "USA:VISA; CAN:MASTERCARD" {
		t.Errorf("two --config flags = %q", got)
	}
}

// TestParseInterspersed accepts positional arguments among flags and honours "--".
func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("t")
	to := fs.String("to", "", "")
	pos, err := parseInterspersed(fs, []string{"card-1", "--to", "sub-2", "extra"}, false)
	if err != nil || *to != "sub-2" || !reflect.DeepEqual(pos, []string{"card-1", "extra"}) {
		t.Errorf("got %v %q %v", pos, *to, err)
	}
	fs = newFlagSet("t")
	to = fs.String("to", "", "")
	pos, err = parseInterspersed(fs, []string{"--to", "x", "--", "--to", "y"}, false)
	if err != nil || *to != "x" || !reflect.DeepEqual(pos, []string{"--to", "y"}) {
		t.Errorf("after --: got %v %q %v", pos, *to, err)
	}
}

// TestUsageErrors checks exit 2 and a short usage message for every kind of command-line
// mistake, and exit 0 for help; none of them needs credentials or the network.
func TestUsageErrors(t *testing.T) {
	env := map[string]string{"SUBACCOUNTS_URL": "http://127.0.0.1:1"}
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"cards"}, "cards needs a subcommand: enrol, list, get, move, remove"},
		{[]string{"cards", "shuffle"}, `unknown command "cards shuffle"`},
		{[]string{"--bogus", "cards", "list"}, "flag provided but not defined: -bogus"},
		{[]string{"cards", "list", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"cards", "move", "card-1"}, "--to SUBACCOUNT_ID is required"},
		{[]string{"cards", "move", "--to", "s"}, "missing argument"},
		{[]string{"subaccounts", "get", "a", "b"}, "too many arguments"},
		{[]string{"subaccounts", "list", "stray"}, `unexpected argument "stray"`},
		{[]string{"subaccounts", "create", "--config", "USA:VISA"}, "--name is required"},
		{[]string{"subaccounts", "create", "--name", "n", "--config", "USA"}, "COUNTRIES:NETWORKS"},
		{[]string{"transactions", "list", "--from", "yesterday"}, "--from must be an RFC 3339 time"},
		{[]string{"transactions", "list", "--limit", "-1"}, "--limit must be"},
		{[]string{"compliance", "check", "--to", "2026-01-01"}, "--to must be an RFC 3339 time"},
		{[]string{"compliance", "check", "--sample", "101"}, "--sample must be 0–100"},
		{[]string{"cards", "enrol", "--subaccount", "s", "--country", "USA"}, "--exp are required"},
		{[]string{"cards", "enrol", "--subaccount", "s", "--country", "USA", "--exp", "13/2030"}, "--exp month must be"},
		{[]string{"cards", "enrol", "--subaccount", "s", "--country", "US", "--exp", "12/2030"}, "--country must be"},
		{[]string{"cards", "enrol", "--subaccount", "s", "--file", "x.csv", "--exp", "12/2030"}, "--file takes"},
		{[]string{"subaccounts", "list"}, "no client credentials"},
	}
	for _, c := range cases {
		r := runCLI(t, env, "", c.args...)
		if r.code != exitError || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "usage: subaccountctl") {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q with a usage line", c.args, r.code, r.stderr, c.want)
		}
		if r.stdout != "" {
			t.Errorf("%v: stdout %q, want nothing", c.args, r.stdout)
		}
	}

	r := runCLI(t, env, "", "help")
	if r.code != exitOK || !strings.Contains(r.stdout, "Global flags may stand before the command or among the subcommand's own flags") ||
		!strings.Contains(r.stdout, "compliance check") || !strings.Contains(r.stdout, "never taken from a flag") {
		t.Errorf("help: exit %d, stdout %q", r.code, r.stdout)
	}
	r = runCLI(t, env, "", "cards", "move", "-h")
	if r.code != exitOK || !strings.Contains(r.stdout, "usage: subaccountctl cards move CARD_ID --to SUBACCOUNT_ID") {
		t.Errorf("cards move -h: exit %d, stdout %q", r.code, r.stdout)
	}
}

// TestSecretNeverShown checks that the client secret given by flag or environment
// appears in no output, whether the token request fails or the flags are wrong.
func TestSecretNeverShown(t *testing.T) {
	f := newFakeAPI(t)
	const wrong = "wrong-secret-5e4d3c2b1a"
	env := f.env()
	env["SUBACCOUNTS_CLIENT_SECRET"] = wrong
	runs := []result{
		runCLI(t, env, "", "subaccounts", "list"),
		runCLI(t, f.env(), "", "--client-secret", wrong, "subaccounts", "list"),
		runCLI(t, env, "", "subaccounts", "list", "--bogus"),
	}
	for i, r := range runs {
		if r.code != exitError {
			t.Errorf("run %d: exit %d, want 2", i, r.code)
		}
		if strings.Contains(r.all(), wrong) {
			t.Errorf("run %d printed the secret: %q", i, r.all())
		}
	}
	if !strings.Contains(runs[0].stderr, "401") || !strings.Contains(runs[0].stderr, "invalid_client") || !strings.Contains(runs[0].stderr, f.URL+"/oauth2/token") {
		t.Errorf("token failure message: %q", runs[0].stderr)
	}
	var s secretValue = "x"
	if s.String() == "x" {
		t.Error("secretValue.String shows the secret")
	}
}

// TestTokenRequestParameters checks the form parameters of the token request: the scopes
// asked for by default (none for the built-in issuer, the command's own for an external
// one), --scopes replacing them, and audience= and resource= from flags or environment.
func TestTokenRequestParameters(t *testing.T) {
	f := newFakeAPI(t)
	f.handle("GET /v1/subaccounts", func(w http.ResponseWriter, r *http.Request) {
		writeJSONDoc(w, 200, `{"items":[],"nextCursor":null}`)
	})
	external := f.URL + "/idp/token"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want tokenCall
	}{
		{
			name: "built-in issuer: no scope named, so every scope the client holds",
			args: []string{"subaccounts", "list"},
			want: tokenCall{},
		},
		{
			name: "a token URL equal to the built-in one is the built-in issuer",
			env:  map[string]string{"SUBACCOUNTS_TOKEN_URL": f.URL + "/oauth2/token/"},
			args: []string{"subaccounts", "list"},
			want: tokenCall{},
		},
		{
			name: "external issuer: the command's scopes",
			env:  map[string]string{"SUBACCOUNTS_TOKEN_URL": external},
			args: []string{"subaccounts", "list"},
			want: tokenCall{scope: "subaccounts:read"},
		},
		{
			name: "external issuer: two scopes for a read-then-write command",
			args: []string{"--token-url", external, "subaccounts", "suspend", "0190a0b0-0000-7000-8000-000000000001"},
			want: tokenCall{scope: "subaccounts:read subaccounts:write"},
		},
		{
			name: "external issuer: tenant compliance",
			args: []string{"--token-url", external, "compliance", "check"},
			want: tokenCall{scope: "compliance:read"},
		},
		{
			name: "external issuer: an operator's compliance check of an account",
			args: []string{"--token-url", external, "compliance", "check", "--account", "0190a0b0-0000-7000-8000-000000000002"},
			want: tokenCall{scope: "accounts:admin"},
		},
		{
			name: "--scopes replaces the default",
			args: []string{"--token-url", external, "--scopes", "cards:read,subaccounts:read", "subaccounts", "list"},
			want: tokenCall{scope: "cards:read subaccounts:read"},
		},
		{
			name: "--scope is --scopes",
			args: []string{"subaccounts", "list", "--scope", "subaccounts:read"},
			want: tokenCall{scope: "subaccounts:read"},
		},
		{
			name: "SUBACCOUNTS_SCOPE when SUBACCOUNTS_SCOPES is unset",
			env:  map[string]string{"SUBACCOUNTS_SCOPE": "audit:read"},
			args: []string{"subaccounts", "list"},
			want: tokenCall{scope: "audit:read"},
		},
		{
			name: "audience and resource from the environment",
			env: map[string]string{"SUBACCOUNTS_TOKEN_URL": external, "SUBACCOUNTS_AUDIENCE": "subaccounts-api",
				"SUBACCOUNTS_RESOURCE": "urn:subaccounts-api"},
			args: []string{"subaccounts", "list"},
			want: tokenCall{scope: "subaccounts:read", audience: "subaccounts-api", resource: "urn:subaccounts-api"},
		},
		{
			name: "flags beat the environment",
			env:  map[string]string{"SUBACCOUNTS_AUDIENCE": "env-aud", "SUBACCOUNTS_RESOURCE": "https://env.example/"},
			args: []string{"subaccounts", "list", "--audience", "subaccounts-api", "--resource", "https://api.example.com/"},
			want: tokenCall{audience: "subaccounts-api", resource: "https://api.example.com/"},
		},
	}
	seen := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := f.env()
			for k, v := range tt.env {
				env[k] = v
			}
			r := runCLI(t, env, "", tt.args...)
			calls := f.tokenRequests()
			if len(calls) != seen+1 {
				t.Fatalf("%d token requests, want 1 more than %d; exit %d: %s", len(calls), seen, r.code, r.all())
			}
			seen = len(calls)
			got := calls[len(calls)-1]
			tt.want.clientID = fakeClientID
			if got != tt.want {
				t.Errorf("token request %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestTokenRequestRefused checks what a refused or impossible token request prints: a
// resource that is not an absolute URI is refused before any request, and invalid_scope
// says how to ask for other scopes.
func TestTokenRequestRefused(t *testing.T) {
	f := newFakeAPI(t)
	for _, res := range []string{"subaccounts-api", "/v1", "https://api.example.com/#frag"} {
		r := runCLI(t, f.env(), "", "--resource", res, "subaccounts", "list")
		if r.code != exitError || !strings.Contains(r.stderr, "--resource / SUBACCOUNTS_RESOURCE") {
			t.Errorf("--resource %q: exit %d, stderr %q", res, r.code, r.stderr)
		}
	}
	if n := len(f.tokenRequests()); n != 0 {
		t.Errorf("%d token requests for bad resource indicators, want none", n)
	}
	r := runCLI(t, f.env(), "", "--scopes", "not-granted", "subaccounts", "list")
	if r.code != exitError || !strings.Contains(r.stderr, "invalid_scope") || !strings.Contains(r.stderr, "--scopes") {
		t.Errorf("invalid_scope: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCommandScopes checks that every command names the scopes it needs, and only scopes
// the service knows, so the default request of an external issuer's token is never empty
// or refused for a misspelling.
func TestCommandScopes(t *testing.T) {
	known := append(slices.Clone(subaccounts.TenantScopes), subaccounts.ScopeAccountsAdmin)
	for _, c := range commands {
		s := splitScopes(c.scopes)
		if len(s) == 0 {
			t.Errorf("%s names no scopes", c.fullName())
		}
		for _, sc := range s {
			if !slices.Contains(known, sc) {
				t.Errorf("%s names %q, which the service does not know", c.fullName(), sc)
			}
		}
	}
}

// TestUnauthorizedHint checks that a 401 after a token from an external issuer, asked
// for without audience or resource, says that those may be missing, and only then.
func TestUnauthorizedHint(t *testing.T) {
	f := newFakeAPI(t)
	f.mux.HandleFunc("GET /v1/subaccounts", func(w http.ResponseWriter, r *http.Request) {
		writeProblemDoc(w, http.StatusUnauthorized, `{"type":"/problems/unauthorized","title":"A valid access token is required","status":401,"detail":"invalid token: token could not be verified"}`)
	})
	tests := []struct {
		name string
		args []string
		hint bool
	}{
		{name: "built-in issuer", args: []string{"subaccounts", "list"}},
		{name: "external issuer, nothing asked", args: []string{"--token-url", f.URL + "/idp/token", "subaccounts", "list"}, hint: true},
		{name: "external issuer with an audience", args: []string{"--token-url", f.URL + "/idp/token", "--audience", "x", "subaccounts", "list"}},
		{name: "external issuer with a resource", args: []string{"--token-url", f.URL + "/idp/token", "--resource", "urn:x", "subaccounts", "list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, f.env(), "", tt.args...)
			if r.code != exitError || !strings.Contains(r.stderr, "401") {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if got := strings.Contains(r.stderr, "give --audience (Ory Hydra, Auth0) or --resource"); got != tt.hint {
				t.Errorf("hint shown %v, want %v: %s", got, tt.hint, r.stderr)
			}
		})
	}
}
