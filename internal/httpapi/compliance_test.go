package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/policy"
)

// The compliance tests read everything back through the API and recompute the report by
// brute force, so they check the report's aggregations against an independent oracle
// rather than against themselves.

// complReport is a ComplianceReport as the API returns it.
type complReport struct {
	AccountID string `json:"accountId"`
	Compliant bool   `json:"compliant"`
	CheckedAt string `json:"checkedAt"`
	Window    struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"window"`
	Summary struct {
		Subaccounts                int `json:"subaccounts"`
		ActiveCards                int `json:"activeCards"`
		SubaccountsOutsideContract int `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration  int `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy    int `json:"transactionsOutOfPolicy"`
	} `json:"summary"`
	Violations struct {
		SubaccountsOutsideContract []struct {
			SubaccountID    string      `json:"subaccountId"`
			Name            string      `json:"name"`
			OutsideContract []complPair `json:"outsideContract"`
		} `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration []struct {
			SubaccountID string   `json:"subaccountId"`
			Country      string   `json:"country"`
			Network      string   `json:"network"`
			Cards        int      `json:"cards"`
			CardIDs      []string `json:"cardIds"`
			List         string   `json:"list"`
		} `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy []struct {
			SubaccountID string `json:"subaccountId"`
			Country      string `json:"country"`
			Network      string `json:"network"`
			Transactions int    `json:"transactions"`
		} `json:"transactionsOutOfPolicy"`
	} `json:"violations"`
}

type complPair struct {
	Country string `json:"country"`
	Network string `json:"network"`
}

func (p complPair) String() string { return p.Country + "/" + p.Network }

// complGroup is one (subaccount, country, network) group of the report.
type complGroup struct {
	Sub string
	complPair
}

func (g complGroup) String() string { return g.Sub + " " + g.complPair.String() }

type complConfig struct {
	Countries []string `json:"countries"`
	Networks  []string `json:"networks"`
}

type complSub struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Configurations []complConfig     `json:"configurations"`
	ConfigVersion  int               `json:"configVersion"`
	Metadata       map[string]string `json:"metadata"`
}

type complCard struct {
	ID           string `json:"id"`
	SubaccountID string `json:"subaccountId"`
	Network      string `json:"network"`
	CountryCode  string `json:"countryCode"`
	Status       string `json:"status"`
	PolicyStatus string `json:"policyStatus"`
}

func (c complCard) pair() complPair { return complPair{c.CountryCode, c.Network} }

type complTx struct {
	ID           string `json:"id"`
	SubaccountID string `json:"subaccountId"`
	CardID       string `json:"cardId"`
	Datetime     string `json:"datetime"`
	PolicyStatus string `json:"policyStatus"`
}

// complPairs is the set of pairs a configuration list permits, computed naively.
func complPairs(cfgs []complConfig) map[complPair]bool {
	out := map[complPair]bool{}
	for _, c := range cfgs {
		for _, country := range c.Countries {
			for _, n := range c.Networks {
				out[complPair{country, n}] = true
			}
		}
	}
	return out
}

func complSortedPairs(set map[complPair]bool) []complPair {
	out := make([]complPair, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b complPair) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// complListAll follows a list's cursors to the end (path may carry a query already).
func complListAll[T any](e *env, token, path string) []T {
	e.t.Helper()
	var all []T
	cursor := ""
	for range 1000 {
		p := path
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		p += sep + "limit=100"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		var page struct {
			Items      []T     `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		e.expect(e.do("GET", p, token, nil), 200).decode(e.t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		cursor = *page.NextCursor
	}
	e.t.Fatalf("%s: the cursor never ended", path)
	return nil
}

func complMillis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// complTxAt ingests one message for a card id at datetime, expecting status want, and
// returns the answer.
func (e *env) complTxAt(token, card string, at time.Time, want int) map[string]any {
	e.t.Helper()
	m := message(card, []string{"auth", "clearing", "refund", "reversal"}[msgSeq.Load()%4])
	m["datetime"] = complMillis(at)
	return e.expect(e.do("POST", "/v1/transactions", token, m), want).json(e.t)
}

// complConfigs expresses a pair set as configurations, grouped by network or by country
// so the service sees both shapes.
func complConfigs(pairs map[complPair]bool, byNetwork bool) []any {
	groups := map[string][]string{}
	for _, p := range complSortedPairs(pairs) {
		if byNetwork {
			groups[p.Network] = append(groups[p.Network], p.Country)
		} else {
			groups[p.Country] = append(groups[p.Country], p.Network)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := []any{}
	for _, k := range keys {
		if byNetwork {
			out = append(out, cfg(groups[k], k))
		} else {
			out = append(out, cfg([]string{k}, groups[k]...))
		}
	}
	return out
}

// complRandomSubset returns a random subset of pairs of at least least elements (when
// there are that many).
func complRandomSubset(rng *rand.Rand, pairs map[complPair]bool, least int) map[complPair]bool {
	list := complSortedPairs(pairs)
	rng.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
	n := least
	if len(list) > least {
		n += rng.IntN(len(list) - least + 1)
	}
	n = min(n, len(list))
	out := map[complPair]bool{}
	for _, p := range list[:n] {
		out[p] = true
	}
	return out
}

// complPAN is a PAN of network carrying seq, with a prefix chosen at random among the
// network's ranges.
func complPAN(rng *rand.Rand, network string, seq int) string {
	if network == "VISA" {
		return luhnPAN("4", seq, 16)
	}
	return luhnPAN([]string{"51", "2221"}[rng.IntN(2)], seq, 16)
}

var (
	complCountries = []string{"USA", "CAN", "GBR", "FRA", "DEU"}
	complNetworks  = []string{"VISA", "MASTERCARD"}
)

// TestComplianceOracle builds random hierarchies, breaks them in every way the system
// allows (and, through the store, in the one way it does not: a subaccount wider than its
// contract), and checks GET /v1/compliance and its operator twin against a brute-force
// recomputation from what the API lists. Set COMPLIANCE_SEED to replay a run.
func TestComplianceOracle(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("COMPLIANCE_SEED"); s != "" {
		seed = must(strconv.ParseUint(s, 10, 64))
	}
	const rounds = 5
	forEachDB(t, func(t *testing.T, e *env) {
		t.Logf("seed %d (COMPLIANCE_SEED=%d replays it), %d rounds", seed, seed, rounds)
		rng := rand.New(rand.NewPCG(seed, 0x636f6d706c79))
		for round := range rounds {
			t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
				complOracleRound(t, e.at(t), rng, round)
			})
		}
	})
}

func complOracleRound(t *testing.T, e *env, rng *rand.Rand, round int) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)

	// The contract: a random set of pairs over a few countries and both networks.
	all := map[complPair]bool{}
	for _, c := range complCountries {
		for _, n := range complNetworks {
			all[complPair{c, n}] = true
		}
	}
	contract := complRandomSubset(rng, all, 2)
	acct := e.newAccount(fmt.Sprintf("Oracle %d", round), map[string]any{
		"configurations": complConfigs(contract, rng.IntN(2) == 0), "maxSubaccounts": 10,
	})
	tok := e.tenantToken(acct)

	// Subaccounts, each with a random configuration inside the contract.
	var subs []string
	permitted := map[string]map[complPair]bool{}
	for i := range 3 + rng.IntN(4) {
		pairs := complRandomSubset(rng, contract, 1)
		id := e.newSubaccount(tok, fmt.Sprintf("Sub %d", i), complConfigs(pairs, rng.IntN(2) == 0))
		subs = append(subs, id)
		permitted[id] = pairs
	}

	// Cards spread over the subaccounts with pairs their subaccount permits.
	type card struct {
		id, sub string
		pair    complPair
	}
	var cards []card
	for i := range 20 + rng.IntN(41) {
		sub := subs[rng.IntN(len(subs))]
		ps := complSortedPairs(permitted[sub])
		p := ps[rng.IntN(len(ps))]
		id := e.enrol(tok, sub, complPAN(rng, p.Network, round*1000+i), p.Country)
		cards = append(cards, card{id, sub, p})
	}
	removed := map[string]bool{}
	for _, c := range cards {
		if rng.IntN(7) == 0 {
			e.expect(e.do("DELETE", "/v1/cards/"+c.id, tok, nil), 200)
			removed[c.id] = true
		}
	}
	// ingest sends a message for c and records the policy status it must be routed with,
	// decided here from the configuration this test gave the card's subaccount.
	wantPolicy := map[string]string{}
	ingest := func(c card, at time.Time) {
		t.Helper()
		if removed[c.id] {
			e.complTxAt(tok, c.id, at, 202) // unrouted: the card was removed
			return
		}
		id := e.complTxAt(tok, c.id, at, 201)["id"].(string)
		wantPolicy[id] = map[bool]string{true: "in-policy", false: "out-of-policy"}[permitted[c.sub][c.pair]]
	}
	for range 10 + rng.IntN(20) {
		ingest(cards[rng.IntN(len(cards))], now.Add(-time.Duration(rng.IntN(3600_000))*time.Millisecond))
	}

	// Violations the API allows: a contract narrowed with cascade, subaccounts narrowed
	// with PATCH (their cards go out of policy but stay active), and messages for those
	// cards, recorded out of policy, some inside the window and some outside it.
	if rng.IntN(2) == 0 && len(contract) > 2 {
		narrower := complRandomSubset(rng, contract, len(contract)-2)
		e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract?mode=cascade", e.opToken, map[string]any{
			"configurations": complConfigs(narrower, rng.IntN(2) == 0), "maxSubaccounts": 10,
		}), 200)
		contract = narrower
		// A cascade leaves each subaccount with what it had inside the new contract.
		for _, sub := range subs {
			for p := range permitted[sub] {
				if !contract[p] {
					delete(permitted[sub], p)
				}
			}
			if got := complCurrentPairs(e, tok, sub); !reflect.DeepEqual(got, permitted[sub]) {
				t.Errorf("after the cascade subaccount %s permits %v, want %v", sub, complSortedPairs(got), complSortedPairs(permitted[sub]))
			}
		}
	}
	narrowed := map[string]bool{}
	forced := rng.IntN(len(subs)) // at least one of each kind of violation per round
	for i, sub := range subs {
		if i != forced && rng.IntN(2) == 0 {
			continue
		}
		permitted[sub] = complRandomSubset(rng, permitted[sub], 0)
		e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{
			"configurations": complConfigs(permitted[sub], rng.IntN(2) == 0),
		}), 200)
		narrowed[sub] = true
	}
	from, to := now.Add(-2*time.Hour), now.Add(time.Minute)
	for _, c := range cards {
		if !narrowed[c.sub] || rng.IntN(2) == 0 {
			continue
		}
		for range 1 + rng.IntN(3) {
			at := now.Add(-time.Duration(rng.IntN(3600_000)) * time.Millisecond)
			switch rng.IntN(5) {
			case 0:
				at = from.Add(-time.Duration(1+rng.IntN(3600_000)) * time.Millisecond) // before the window
			case 1:
				at = to.Add(time.Duration(rng.IntN(3600_000)) * time.Millisecond) // at or after its end
			}
			ingest(c, at)
		}
	}

	// The violation the API never allows: a subaccount permitting pairs outside the
	// contract, written straight through the store.
	outside := []complPair{{"JPN", "VISA"}}
	for _, p := range complSortedPairs(all) {
		if !contract[p] {
			outside = append(outside, p)
		}
	}
	drifted := map[string]bool{}
	forced = rng.IntN(len(subs))
	for i, sub := range subs {
		if i != forced && rng.IntN(3) != 0 {
			continue
		}
		s, err := e.db.GetSubaccount(ctx, uuid.MustParse(acct), uuid.MustParse(sub))
		if err != nil {
			t.Fatal(err)
		}
		extra := outside[rng.IntN(len(outside))]
		s.Configurations = append(s.Configurations, policy.Configuration{Countries: []string{extra.Country}, Networks: []string{extra.Network}})
		set := policy.MustCompile(s.Configurations)
		s.Configurations = set.Normalize()
		s.ConfigVersion++
		if err := e.db.UpdateSubaccount(ctx, s, set.Pairs()); err != nil {
			t.Fatal(err)
		}
		drifted[sub] = true
	}
	t.Logf("contract %v; %d subaccounts (%d narrowed, %d drifted), %d cards (%d removed)",
		complSortedPairs(contract), len(subs), len(narrowed), len(drifted), len(cards), len(removed))

	// The oracle, from what the API lists.
	var acctView struct {
		Contract struct {
			Configurations []complConfig `json:"configurations"`
		} `json:"contract"`
	}
	e.expect(e.do("GET", "/v1/accounts/"+acct, e.opToken, nil), 200).decode(t, &acctView)
	contractNow := complPairs(acctView.Contract.Configurations)
	subList := complListAll[complSub](e, tok, "/v1/subaccounts")
	cardList := complListAll[complCard](e, tok, "/v1/cards")
	txList := complListAll[complTx](e, tok, "/v1/transactions")
	if len(subList) != len(subs) || len(cardList) != len(cards) {
		t.Fatalf("listed %d subaccounts and %d cards, created %d and %d", len(subList), len(cardList), len(subs), len(cards))
	}

	subPairs := map[string]map[complPair]bool{}
	subName := map[string]string{}
	wantOutside := map[string][]complPair{}
	for _, s := range subList {
		subPairs[s.ID] = complPairs(s.Configurations)
		subName[s.ID] = s.Name
		out := map[complPair]bool{}
		for p := range subPairs[s.ID] {
			if !contractNow[p] {
				out[p] = true
			}
		}
		if len(out) > 0 {
			wantOutside[s.ID] = complSortedPairs(out)
		}
	}
	cardByID := map[string]complCard{}
	wantCards := map[complGroup][]string{}
	active := 0
	for _, c := range cardList {
		cardByID[c.ID] = c
		if c.Status != "active" {
			continue
		}
		active++
		inside := subPairs[c.SubaccountID][c.pair()]
		if !inside {
			g := complGroup{c.SubaccountID, c.pair()}
			wantCards[g] = append(wantCards[g], c.ID)
		}
		// Where no one wrote around the service, a card's policy status follows its
		// subaccount's configuration.
		if !drifted[c.SubaccountID] {
			if want := map[bool]string{true: "in-policy", false: "out-of-policy"}[inside]; c.PolicyStatus != want {
				t.Errorf("card %s %s in %s: policyStatus %s, want %s", c.ID, c.pair(), c.SubaccountID, c.PolicyStatus, want)
			}
		}
	}
	if len(txList) != len(wantPolicy) {
		t.Errorf("listed %d routed transactions, ingested %d", len(txList), len(wantPolicy))
	}
	wantTx := map[complGroup]int{}
	for _, tx := range txList {
		if want, ok := wantPolicy[tx.ID]; !ok || tx.PolicyStatus != want {
			t.Errorf("transaction %s of card %s routed %s, want %q", tx.ID, tx.CardID, tx.PolicyStatus, want)
		}
		at, err := time.Parse(time.RFC3339Nano, tx.Datetime)
		if err != nil {
			t.Fatalf("transaction %s datetime %q: %v", tx.ID, tx.Datetime, err)
		}
		if tx.PolicyStatus != "out-of-policy" || at.Before(from) || !at.Before(to) {
			continue
		}
		c, ok := cardByID[tx.CardID]
		if !ok {
			t.Fatalf("transaction %s names card %s, which is not listed", tx.ID, tx.CardID)
		}
		wantTx[complGroup{tx.SubaccountID, c.pair()}]++
	}

	// The report, with a random sample size (sometimes the default).
	sample, q := 10, "?from="+url.QueryEscape(complMillis(from))+"&to="+url.QueryEscape(complMillis(to))
	if rng.IntN(4) != 0 {
		sample = []int{0, 1, 2, 3, 5, 100}[rng.IntN(6)]
		q += "&sample=" + strconv.Itoa(sample)
	}
	var got complReport
	e.expect(e.do("GET", "/v1/compliance"+q, tok, nil), 200).decode(t, &got)
	t.Logf("sample %d: report summary %+v", sample, got.Summary)

	if got.AccountID != acct {
		t.Errorf("accountId %s, want %s", got.AccountID, acct)
	}
	if got.Window.From != complMillis(from) || got.Window.To != complMillis(to) {
		t.Errorf("window %+v, want [%s, %s)", got.Window, complMillis(from), complMillis(to))
	}
	wantCardCount, wantTxCount := 0, 0
	for _, ids := range wantCards {
		wantCardCount += len(ids)
	}
	for _, n := range wantTx {
		wantTxCount += n
	}
	type summary = struct {
		Subaccounts                int `json:"subaccounts"`
		ActiveCards                int `json:"activeCards"`
		SubaccountsOutsideContract int `json:"subaccountsOutsideContract"`
		CardsOutsideConfiguration  int `json:"cardsOutsideConfiguration"`
		TransactionsOutOfPolicy    int `json:"transactionsOutOfPolicy"`
	}
	if want := (summary{len(subList), active, len(wantOutside), wantCardCount, wantTxCount}); got.Summary != want {
		t.Errorf("summary %+v, want %+v", got.Summary, want)
	}
	if want := len(wantOutside) == 0 && len(wantCards) == 0 && len(wantTx) == 0; got.Compliant != want {
		t.Errorf("compliant %v, want %v", got.Compliant, want)
	}

	// Subaccounts outside the contract, with exactly their outside pairs.
	gotOutside := map[string][]complPair{}
	for _, v := range got.Violations.SubaccountsOutsideContract {
		if _, dup := gotOutside[v.SubaccountID]; dup {
			t.Errorf("subaccount %s reported outside the contract twice", v.SubaccountID)
		}
		ps := slices.Clone(v.OutsideContract)
		slices.SortFunc(ps, func(a, b complPair) int { return strings.Compare(a.String(), b.String()) })
		gotOutside[v.SubaccountID] = ps
		if v.Name != subName[v.SubaccountID] {
			t.Errorf("subaccount %s named %q, want %q", v.SubaccountID, v.Name, subName[v.SubaccountID])
		}
	}
	if !reflect.DeepEqual(gotOutside, wantOutside) {
		t.Errorf("subaccounts outside the contract:\n got %v\nwant %v", gotOutside, wantOutside)
	}

	// Cards outside their configuration: counts, samples and list links.
	seen := map[complGroup]bool{}
	for _, v := range got.Violations.CardsOutsideConfiguration {
		g := complGroup{v.SubaccountID, complPair{v.Country, v.Network}}
		if seen[g] {
			t.Errorf("group %v reported twice", g)
		}
		seen[g] = true
		want, ok := wantCards[g]
		if !ok {
			t.Errorf("group %v (%d cards) reported, but the oracle finds none", g, v.Cards)
			continue
		}
		if v.Cards != len(want) {
			t.Errorf("group %v: %d cards, want %d", g, v.Cards, len(want))
		}
		if len(v.CardIDs) != min(sample, len(want)) {
			t.Errorf("group %v: %d card ids with sample %d and %d cards", g, len(v.CardIDs), sample, len(want))
		}
		ids := slices.Clone(v.CardIDs)
		slices.Sort(ids)
		if len(slices.Compact(ids)) != len(v.CardIDs) {
			t.Errorf("group %v: repeated card ids %v", g, v.CardIDs)
		}
		for _, id := range v.CardIDs {
			if !slices.Contains(want, id) {
				t.Errorf("group %v: sampled card %s is not one of the group's", g, id)
			}
		}
		var listed []string
		for _, c := range complListAll[complCard](e, tok, v.List) {
			listed = append(listed, c.ID)
		}
		slices.Sort(listed)
		wantSorted := slices.Sorted(slices.Values(want))
		if !slices.Equal(listed, wantSorted) {
			t.Errorf("group %v: list %s gives %v, want %v", g, v.List, listed, wantSorted)
		}
	}
	for g, ids := range wantCards {
		if !seen[g] {
			t.Errorf("group %v (%d cards) is missing from the report", g, len(ids))
		}
	}

	// Out-of-policy transactions of the window.
	gotTx := map[complGroup]int{}
	for _, v := range got.Violations.TransactionsOutOfPolicy {
		g := complGroup{v.SubaccountID, complPair{v.Country, v.Network}}
		if _, dup := gotTx[g]; dup {
			t.Errorf("transaction group %v reported twice", g)
		}
		gotTx[g] = v.Transactions
	}
	if !reflect.DeepEqual(gotTx, wantTx) {
		t.Errorf("out-of-policy transactions:\n got %v\nwant %v", gotTx, wantTx)
	}

	// The operator sees the same report.
	var op complReport
	e.expect(e.do("GET", "/v1/accounts/"+acct+"/compliance"+q, e.opToken, nil), 200).decode(t, &op)
	got.CheckedAt, op.CheckedAt = "", ""
	if !reflect.DeepEqual(got, op) {
		t.Errorf("operator report differs:\ntenant   %+v\noperator %+v", got, op)
	}
}

// complCurrentPairs reads a subaccount's permitted pairs through the API.
func complCurrentPairs(e *env, token, sub string) map[complPair]bool {
	e.t.Helper()
	var s complSub
	e.expect(e.do("GET", "/v1/subaccounts/"+sub, token, nil), 200).decode(e.t, &s)
	return complPairs(s.Configurations)
}

// TestComplianceBasics covers the report's edges: an empty account, the sample size, bad
// parameters, who may ask, and the window's bounds.
func TestComplianceBasics(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Basics", usaCanContract(10))
		tok := e.tenantToken(acct)

		t.Run("a fresh account is compliant", func(t *testing.T) {
			e := e.at(t)
			r := complGet(e, tok, "/v1/compliance")
			if !r.Compliant || r.AccountID != acct {
				t.Errorf("fresh account: %+v", r)
			}
			if r.Summary.Subaccounts+r.Summary.ActiveCards+r.Summary.SubaccountsOutsideContract+
				r.Summary.CardsOutsideConfiguration+r.Summary.TransactionsOutOfPolicy != 0 {
				t.Errorf("summary %+v, want zeros", r.Summary)
			}
			v := r.Violations
			if v.SubaccountsOutsideContract == nil || v.CardsOutsideConfiguration == nil || v.TransactionsOutOfPolicy == nil ||
				len(v.SubaccountsOutsideContract)+len(v.CardsOutsideConfiguration)+len(v.TransactionsOutOfPolicy) != 0 {
				t.Errorf("violations %+v, want three empty arrays", v)
			}
			from, err1 := time.Parse(time.RFC3339, r.Window.From)
			to, err2 := time.Parse(time.RFC3339, r.Window.To)
			if err1 != nil || err2 != nil || to.Sub(from) != 24*time.Hour {
				t.Errorf("default window %+v, want the last 24 hours", r.Window)
			}
			if op := complGet(e, e.opToken, "/v1/accounts/"+acct+"/compliance"); !op.Compliant || op.Summary != r.Summary {
				t.Errorf("operator view of a fresh account: %+v", op)
			}
		})

		// One card outside its configuration, and a window of out-of-policy messages.
		sub := e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")})
		mc := e.enrol(tok, sub, mcPAN, "USA")
		e.enrol(tok, sub, visaPAN, "USA")
		e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{"configurations": []any{cfg([]string{"USA"}, "VISA")}}), 200)

		t.Run("sample", func(t *testing.T) {
			e := e.at(t)
			for _, tt := range []struct {
				query string
				ids   []string
			}{{"?sample=0", []string{}}, {"", []string{mc}}, {"?sample=1", []string{mc}}, {"?sample=100", []string{mc}}} {
				r := complGet(e, tok, "/v1/compliance"+tt.query)
				if len(r.Violations.CardsOutsideConfiguration) != 1 {
					t.Fatalf("%q: groups %+v, want one", tt.query, r.Violations.CardsOutsideConfiguration)
				}
				g := r.Violations.CardsOutsideConfiguration[0]
				if g.Cards != 1 || g.SubaccountID != sub || g.Country != "USA" || g.Network != "MASTERCARD" ||
					g.CardIDs == nil || !slices.Equal(g.CardIDs, tt.ids) {
					t.Errorf("%q: group %+v, want 1 card with ids %v", tt.query, g, tt.ids)
				}
				if r.Compliant || r.Summary.CardsOutsideConfiguration != 1 || r.Summary.ActiveCards != 2 {
					t.Errorf("%q: %+v", tt.query, r.Summary)
				}
			}
		})

		t.Run("bad parameters", func(t *testing.T) {
			e := e.at(t)
			future := complMillis(time.Now().Add(time.Hour))
			for _, tt := range []struct{ query, param string }{
				{"sample=abc", "sample"},
				{"sample=-1", "sample"},
				{"sample=101", "sample"},
				{"sample=1.5", "sample"},
				{"from=yesterday", "from"},
				{"from=2026-13-01T00:00:00Z", "from"},
				{"to=2026-01-01", "to"},
				{"from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"},
				{"from=2026-01-02T00:00:00Z&to=2026-01-02T00:00:00Z", "to"},
				{"from=" + url.QueryEscape(future), "from"},
			} {
				for _, path := range []string{"/v1/compliance", "/v1/accounts/" + acct + "/compliance"} {
					token := tok
					if strings.HasPrefix(path, "/v1/accounts/") {
						token = e.opToken
					}
					p := e.expect(e.do("GET", path+"?"+tt.query, token, nil), 400).problem(t)
					if p.Type != "/problems/validation" || !slices.Contains(p.pointers(), "?"+tt.param) {
						t.Errorf("%s?%s: %+v, want a validation problem naming %s", path, tt.query, p, tt.param)
					}
				}
			}
		})

		t.Run("who may ask", func(t *testing.T) {
			e := e.at(t)
			id, secret := e.newClient(acct, allTenantScopes, sub)
			confined := e.token(id, secret, "")
			if p := e.expect(e.do("GET", "/v1/compliance", confined, nil), 403).problem(t); p.Type != "/problems/forbidden" {
				t.Errorf("confined client: %+v", p)
			}
			noScope := e.tenantToken(acct, "subaccounts:read", "cards:read", "transactions:read")
			if p := e.expect(e.do("GET", "/v1/compliance", noScope, nil), 403).problem(t); p.Type != "/problems/insufficient-scope" || p.Scope != "compliance:read" {
				t.Errorf("without compliance:read: %+v", p)
			}
			if p := e.expect(e.do("GET", "/v1/accounts/"+uuid.NewString()+"/compliance", e.opToken, nil), 404).problem(t); p.Type != "/problems/not-found" {
				t.Errorf("unknown account: %+v", p)
			}
			e.expect(e.do("GET", "/v1/accounts/not-a-uuid/compliance", e.opToken, nil), 400)
			// Only compliance:read is needed.
			only := e.tenantToken(acct, "compliance:read")
			if r := complGet(e, only, "/v1/compliance"); r.AccountID != acct {
				t.Errorf("compliance:read alone: %+v", r)
			}
		})

		t.Run("window bounds", func(t *testing.T) {
			e := e.at(t)
			from := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
			to := from.Add(30 * time.Minute)
			inside := []time.Time{from, from.Add(time.Millisecond), from.Add(15 * time.Minute), to.Add(-time.Millisecond)}
			outside := []time.Time{from.Add(-time.Millisecond), to, to.Add(time.Millisecond), from.Add(-23 * time.Hour)}
			for _, at := range slices.Concat(inside, outside) {
				e.complTxAt(tok, mc, at, 201)
			}
			// Another offset names an instant inside the window too.
			m := message(mc, "auth")
			m["datetime"] = from.Add(20 * time.Minute).In(time.FixedZone("", 2*3600)).Format("2006-01-02T15:04:05.000-07:00")
			e.expect(e.do("POST", "/v1/transactions", tok, m), 201)
			// An in-policy message inside the window is no violation.
			visa := e.expect(e.do("GET", "/v1/cards?network=VISA", tok, nil), 200).json(t)["items"].([]any)[0].(map[string]any)["id"].(string)
			e.complTxAt(tok, visa, from.Add(time.Minute), 201)

			q := "?from=" + url.QueryEscape(complMillis(from)) + "&to=" + url.QueryEscape(complMillis(to))
			r := complGet(e, tok, "/v1/compliance"+q)
			want := len(inside) + 1
			if r.Summary.TransactionsOutOfPolicy != want || len(r.Violations.TransactionsOutOfPolicy) != 1 ||
				r.Violations.TransactionsOutOfPolicy[0].Transactions != want {
				t.Errorf("window [%s, %s): %+v %+v, want %d out-of-policy messages", complMillis(from), complMillis(to),
					r.Summary, r.Violations.TransactionsOutOfPolicy, want)
			}
			if g := r.Violations.TransactionsOutOfPolicy; len(g) == 1 && (g[0].SubaccountID != sub || g[0].Country != "USA" || g[0].Network != "MASTERCARD") {
				t.Errorf("group %+v", g[0])
			}
			// The default window, the last 24 hours, holds every message but the oldest
			// (from-23h lies before now-24h).
			if r, want := complGet(e, tok, "/v1/compliance"), len(inside)+len(outside)-1+1; r.Summary.TransactionsOutOfPolicy != want {
				t.Errorf("default window counts %d, want %d", r.Summary.TransactionsOutOfPolicy, want)
			}
			// to alone: the 24 hours before it, which reach from-1ms and from-23h but not
			// to or later.
			q = "?to=" + url.QueryEscape(complMillis(to))
			if r, want := complGet(e, tok, "/v1/compliance"+q), len(inside)+1+2; r.Summary.TransactionsOutOfPolicy != want {
				t.Errorf("to alone counts %d, want %d", r.Summary.TransactionsOutOfPolicy, want)
			}
		})
	})
}

// complPairCounts reads cardsByPair as a map.
func complPairCounts(t testing.TB, v any) map[complPair]int {
	t.Helper()
	out := map[complPair]int{}
	for _, it := range v.([]any) {
		m := it.(map[string]any)
		p := complPair{m["country"].(string), m["network"].(string)}
		if _, dup := out[p]; dup {
			t.Errorf("pair %v counted twice in %v", p, v)
		}
		out[p] = int(m["cards"].(float64))
	}
	return out
}

// TestNarrowingReportsCards: narrowing a subaccount or a contract reports, exactly, the
// active cards it puts out of policy, in a dry run and for real, and marks them.
func TestNarrowingReportsCards(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Narrow", usaCanContract(10))
		tok := e.tenantToken(acct)
		full := []any{cfg([]string{"USA", "CAN"}, "VISA", "MASTERCARD"), cfg([]string{"GBR"}, "VISA")}
		a := e.newSubaccount(tok, "A", full)
		b := e.newSubaccount(tok, "B", []any{cfg([]string{"USA"}, "VISA")})

		seq := 0
		enrol := func(sub, country, network string, n int) []string {
			var ids []string
			for range n {
				seq++
				prefix := "4"
				if network == "MASTERCARD" {
					prefix = "51"
				}
				ids = append(ids, e.enrol(tok, sub, luhnPAN(prefix, 9100+seq, 16), country))
			}
			return ids
		}
		enrol(a, "USA", "VISA", 3) // in policy throughout: expectPolicy checks every active card
		usaM := enrol(a, "USA", "MASTERCARD", 1)
		canV, canM := enrol(a, "CAN", "VISA", 2), enrol(a, "CAN", "MASTERCARD", 2)
		gbrV := enrol(a, "GBR", "VISA", 1)
		gone := enrol(a, "CAN", "MASTERCARD", 1)[0]
		e.expect(e.do("DELETE", "/v1/cards/"+gone, tok, nil), 200) // removed: never counted
		// B is never narrowed: its card stays in policy throughout.
		enrol(b, "USA", "VISA", 1)

		policyOf := func(e *env) map[string]string {
			out := map[string]string{}
			for _, c := range complListAll[complCard](e, tok, "/v1/cards?status=active") {
				out[c.ID] = c.PolicyStatus
			}
			return out
		}
		expectPolicy := func(e *env, out ...[]string) {
			e.t.Helper()
			isOut := map[string]bool{}
			for _, ids := range out {
				for _, id := range ids {
					isOut[id] = true
				}
			}
			for id, got := range policyOf(e) {
				want := map[bool]string{true: "out-of-policy", false: "in-policy"}[isOut[id]]
				if got != want {
					e.t.Errorf("card %s is %s, want %s", id, got, want)
				}
			}
		}
		getSub := func(e *env, id string) map[string]any {
			e.t.Helper()
			return e.expect(e.do("GET", "/v1/subaccounts/"+id, tok, nil), 200).json(e.t)
		}
		patch := func(e *env, id string, dry bool, configs []any) map[string]any {
			e.t.Helper()
			path := "/v1/subaccounts/" + id
			if dry {
				path += "?dryRun=true"
			}
			return e.expect(e.do("PATCH", path, tok, map[string]any{"configurations": configs}), 200).json(e.t)
		}
		checkDryRun := func(e *env, r map[string]any, wantTotal int, want map[complPair]int) {
			e.t.Helper()
			if r["dryRun"] != true {
				e.t.Errorf("dryRun = %v", r["dryRun"])
			}
			if int(r["cardsPutOutOfPolicy"].(float64)) != wantTotal {
				e.t.Errorf("cardsPutOutOfPolicy %v, want %d", r["cardsPutOutOfPolicy"], wantTotal)
			}
			if got := complPairCounts(e.t, r["cardsByPair"]); !reflect.DeepEqual(got, want) {
				e.t.Errorf("cardsByPair %v, want %v", got, want)
			}
		}

		usaOnly := []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")}
		t.Run("subaccount dry run changes nothing", func(t *testing.T) {
			e := e.at(t)
			before := getSub(e, a)
			r := patch(e, a, true, usaOnly)
			checkDryRun(e, r, 5, map[complPair]int{{"CAN", "VISA"}: 2, {"CAN", "MASTERCARD"}: 2, {"GBR", "VISA"}: 1})
			would := r["subaccount"].(map[string]any)
			var wouldCfg []complConfig
			if err := json.Unmarshal(must(json.Marshal(would["configurations"])), &wouldCfg); err != nil {
				t.Fatal(err)
			}
			wantPairs := map[complPair]bool{{"USA", "VISA"}: true, {"USA", "MASTERCARD"}: true}
			if would["id"] != a || would["configVersion"].(float64) != before["configVersion"].(float64)+1 ||
				!reflect.DeepEqual(complPairs(wouldCfg), wantPairs) {
				t.Errorf("subaccount as it would be: %v", would)
			}
			after := getSub(e, a)
			if fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("dry run changed the subaccount:\nbefore %v\nafter  %v", before, after)
			}
			expectPolicy(e)
		})

		t.Run("applied narrowing marks the cards outside", func(t *testing.T) {
			e := e.at(t)
			dry := patch(e, a, true, usaOnly)["subaccount"].(map[string]any)
			r := patch(e, a, false, usaOnly)
			if _, ok := r["dryRun"]; ok {
				t.Errorf("applied PATCH answered a dry run: %v", r)
			}
			if r["configVersion"] != dry["configVersion"] || fmt.Sprint(r["configurations"]) != fmt.Sprint(dry["configurations"]) {
				t.Errorf("applied %v, dry run promised %v", r, dry)
			}
			expectPolicy(e, canV, canM, gbrV)
			// A second narrowing counts only the cards it newly puts out of policy.
			visaOnly := []any{cfg([]string{"USA"}, "VISA")}
			checkDryRun(e, patch(e, a, true, visaOnly), 1, map[complPair]int{{"USA", "MASTERCARD"}: 1})
			patch(e, a, false, visaOnly)
			expectPolicy(e, canV, canM, gbrV, usaM)
			// The same configuration again changes nothing and counts nothing.
			v := getSub(e, a)["configVersion"]
			checkDryRun(e, patch(e, a, true, visaOnly), 0, map[complPair]int{})
			if patch(e, a, false, visaOnly)["configVersion"] != v {
				t.Errorf("an unchanged configuration bumped configVersion")
			}
			// Widening brings every card back in policy, and puts none out.
			checkDryRun(e, patch(e, a, true, full), 0, map[complPair]int{})
			patch(e, a, false, full)
			expectPolicy(e)
			if r := complGet(e, tok, "/v1/compliance"); !r.Compliant {
				t.Errorf("after widening back: %+v", r)
			}
		})

		// The same through the contract: C permits only CAN on MASTERCARD.
		c := e.newSubaccount(tok, "C", []any{cfg([]string{"CAN"}, "MASTERCARD")})
		cCards := enrol(c, "CAN", "MASTERCARD", 2)
		narrow := map[string]any{"configurations": []any{cfg([]string{"USA"}, "VISA", "MASTERCARD")}, "maxSubaccounts": 10}
		type affected struct {
			ID                  string           `json:"id"`
			OutsideContract     []complPair      `json:"outsideContract"`
			Configurations      []complConfig    `json:"configurations"`
			CardsPutOutOfPolicy int              `json:"cardsPutOutOfPolicy"`
			CardsByPair         []map[string]any `json:"cardsByPair"`
		}
		checkAffected := func(t *testing.T, got []affected, want map[string]map[complPair]int) {
			t.Helper()
			if len(got) != len(want) {
				t.Errorf("%d affected subaccounts, want %d: %+v", len(got), len(want), got)
			}
			for _, g := range got {
				w, ok := want[g.ID]
				if !ok {
					t.Errorf("subaccount %s reported affected", g.ID)
					continue
				}
				total := 0
				for _, n := range w {
					total += n
				}
				byPair := make([]any, len(g.CardsByPair))
				for i, m := range g.CardsByPair {
					byPair[i] = m
				}
				if g.CardsPutOutOfPolicy != total || !reflect.DeepEqual(complPairCounts(t, byPair), w) {
					t.Errorf("subaccount %s: %d cards %v, want %d %v", g.ID, g.CardsPutOutOfPolicy, g.CardsByPair, total, w)
				}
			}
		}
		wantAffected := map[string]map[complPair]int{
			a: {{"CAN", "VISA"}: 2, {"CAN", "MASTERCARD"}: 2, {"GBR", "VISA"}: 1},
			c: {{"CAN", "MASTERCARD"}: 2},
		}
		contractVersion := func(e *env) float64 {
			acc := e.expect(e.do("GET", "/v1/accounts/"+acct, e.opToken, nil), 200).json(e.t)
			return acc["contract"].(map[string]any)["version"].(float64)
		}

		t.Run("contract dry run and refusal report the cards", func(t *testing.T) {
			e := e.at(t)
			v := contractVersion(e)
			for _, q := range []string{"?dryRun=true&mode=cascade", "?dryRun=true&mode=reject", "?dryRun=true"} {
				var r struct {
					DryRun              bool       `json:"dryRun"`
					Mode                string     `json:"mode"`
					AffectedSubaccounts []affected `json:"affectedSubaccounts"`
				}
				e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract"+q, e.opToken, narrow), 200).decode(t, &r)
				if !r.DryRun {
					t.Errorf("%s: dryRun false", q)
				}
				checkAffected(t, r.AffectedSubaccounts, wantAffected)
			}
			var p struct {
				Type                string     `json:"type"`
				AffectedSubaccounts []affected `json:"affectedSubaccounts"`
			}
			e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract", e.opToken, narrow), 409).decode(t, &p)
			if p.Type != "/problems/conflict" {
				t.Errorf("refused narrowing: type %s", p.Type)
			}
			checkAffected(t, p.AffectedSubaccounts, wantAffected)
			e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract?mode=reject", e.opToken, narrow), 409)
			if contractVersion(e) != v {
				t.Errorf("a dry run or a refusal changed the contract")
			}
			expectPolicy(e)
		})

		t.Run("cascade marks the cards", func(t *testing.T) {
			e := e.at(t)
			va, vc := getSub(e, a)["configVersion"].(float64), getSub(e, c)["configVersion"].(float64)
			var r struct {
				DryRun              bool       `json:"dryRun"`
				Mode                string     `json:"mode"`
				AffectedSubaccounts []affected `json:"affectedSubaccounts"`
			}
			e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract?mode=cascade", e.opToken, narrow), 200).decode(t, &r)
			if r.DryRun || r.Mode != "cascade" {
				t.Errorf("cascade: dryRun %v mode %s", r.DryRun, r.Mode)
			}
			checkAffected(t, r.AffectedSubaccounts, wantAffected)
			expectPolicy(e, canV, canM, gbrV, cCards)
			if getSub(e, a)["configVersion"].(float64) != va+1 || getSub(e, c)["configVersion"].(float64) != vc+1 {
				t.Errorf("cascade did not bump the narrowed subaccounts' configVersion")
			}
			if bv := getSub(e, b)["configVersion"].(float64); bv != 1 {
				t.Errorf("B, inside the new contract, has configVersion %v", bv)
			}
			// A further narrowing counts only A's USA MASTERCARD card; the cards already out
			// of policy are not counted again, and C (now permitting nothing) is unaffected.
			narrower := map[string]any{"configurations": []any{cfg([]string{"USA"}, "VISA")}, "maxSubaccounts": 10}
			e.expect(e.do("PUT", "/v1/accounts/"+acct+"/contract?dryRun=true&mode=cascade", e.opToken, narrower), 200).decode(t, &r)
			checkAffected(t, r.AffectedSubaccounts, map[string]map[complPair]int{a: {{"USA", "MASTERCARD"}: 1}})
			// The report agrees: every card put out of policy is a violation.
			rep := complGet(e, tok, "/v1/compliance")
			if rep.Summary.CardsOutsideConfiguration != len(canV)+len(canM)+len(gbrV)+len(cCards) || rep.Summary.SubaccountsOutsideContract != 0 {
				t.Errorf("report after cascade: %+v", rep.Summary)
			}
		})
	})
}

// complGet reads a compliance report.
func complGet(e *env, token, path string) complReport {
	e.t.Helper()
	var r complReport
	e.expect(e.do("GET", path, token, nil), 200).decode(e.t, &r)
	return r
}
