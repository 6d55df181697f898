package httpapi_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// usageCurrencies are the currencies the oracle's messages are in.
var usageCurrencies = []string{"EUR", "USD", "GBP"}

// usageMsg is a routed message as the oracle remembers it.
type usageMsg struct {
	sub      string
	currency string
	amount   int64
	datetime time.Time
}

// usageOracle is what the test itself did to one account, from which it computes usage.
type usageOracle struct {
	enrolPrice, txPrice int64
	subs                []string
	own                 map[string]bool
	suspended           map[string]bool
	// cards: where each was first enrolled, where it is now, when, and whether active.
	enrolledIn, in map[string]string
	enrolledAt     map[string]time.Time
	active         map[string]bool
	cards          []string
	routed         []usageMsg
	// charges per subaccount: enrolments, transactions; the time range they fell in.
	enrolCharges, txCharges map[string]int64
	balance                 map[string]int64 // own subaccounts' balances and the primary's ("")
	sent                    []map[string]any
}

// expect computes one subaccount's usage in [from, to), where the whole run lies either
// inside the window or outside it (inRun).
func (o *usageOracle) expect(sub string, from, to time.Time, inRun bool) string {
	var enrolments, active int64
	for _, c := range o.cards {
		t := o.enrolledAt[c]
		if o.enrolledIn[c] == sub && !t.Before(from) && t.Before(to) {
			enrolments++
		}
		if o.in[c] == sub && o.active[c] {
			active++
		}
	}
	type cv struct{ count, volume int64 }
	by := map[string]*cv{}
	var count int64
	for _, m := range o.routed {
		if m.sub != sub || m.datetime.Before(from) || !m.datetime.Before(to) {
			continue
		}
		if by[m.currency] == nil {
			by[m.currency] = &cv{}
		}
		by[m.currency].count++
		by[m.currency].volume += m.amount
		count++
	}
	var rows []string
	for _, cur := range slices.Sorted(maps.Keys(by)) {
		rows = append(rows, fmt.Sprintf("%s:%d/%d", cur, by[cur].count, by[cur].volume))
	}
	var ec, tc int64
	if inRun {
		ec, tc = o.enrolCharges[sub], o.txCharges[sub]
	}
	return fmt.Sprintf("enrolments %d, active %d, messages %d [%s], charges %d+%d=%d, paid by primary %v",
		enrolments, active, count, strings.Join(rows, " "), ec, tc, ec+tc, !o.own[sub])
}

func (u usageDoc) summary() string {
	var rows []string
	for _, r := range u.Transactions.ByCurrency {
		rows = append(rows, fmt.Sprintf("%s:%d/%d", r.Currency, r.Count, r.Volume))
	}
	return fmt.Sprintf("enrolments %d, active %d, messages %d [%s], charges %d+%d=%d, paid by primary %v",
		u.Enrolments, u.ActiveCards, u.Transactions.Count, strings.Join(rows, " "),
		u.Charges.CardEnrolments, u.Charges.Transactions, u.TotalUsage, u.PaidByPrimary)
}

// charge records a charge to sub's payer.
func (o *usageOracle) charge(sub string, amount int64, enrolment bool) {
	if enrolment {
		o.enrolCharges[sub] += amount
	} else {
		o.txCharges[sub] += amount
	}
	if o.own[sub] {
		o.balance[sub] -= amount
	} else {
		o.balance[""] -= amount
	}
}

// TestLedgerUsageOracle enrols, moves and removes cards and sends messages in several
// currencies at random datetimes inside and outside the window, then checks both usage
// routes, and every balance, against what the test computes from what it sent. Set
// USAGE_SEED to replay a run.
func TestLedgerUsageOracle(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("USAGE_SEED"); s != "" {
		seed = must(strconv.ParseUint(s, 10, 64))
	}
	const rounds = 2
	forEachDB(t, func(t *testing.T, e *env) {
		t.Logf("seed %d (USAGE_SEED=%d replays it), %d rounds", seed, seed, rounds)
		rng := rand.New(rand.NewPCG(seed, 0x7573616765))
		for round := range rounds {
			t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
				usageOracleRound(t, e.at(t), rng, round)
			})
		}
	})
}

func usageOracleRound(t *testing.T, e *env, rng *rand.Rand, round int) {
	runStart := time.Now().UTC().Truncate(time.Millisecond)
	monthStart := time.Date(runStart.Year(), runStart.Month(), 1, 0, 0, 0, 0, time.UTC)
	prevMonth := monthStart.AddDate(0, -1, 0)

	o := &usageOracle{
		enrolPrice: int64(rng.IntN(3)) * int64(rng.IntN(200)), txPrice: int64(rng.IntN(3)) * int64(rng.IntN(50)),
		own: map[string]bool{}, suspended: map[string]bool{},
		enrolledIn: map[string]string{}, in: map[string]string{}, enrolledAt: map[string]time.Time{}, active: map[string]bool{},
		enrolCharges: map[string]int64{}, txCharges: map[string]int64{}, balance: map[string]int64{},
	}
	t.Logf("prices: enrolment %d, transaction %d", o.enrolPrice, o.txPrice)
	acct := e.newAccount(fmt.Sprintf("Usage %d", round), pricedContract("EUR", o.enrolPrice, o.txPrice))
	tok := e.tenantToken(acct)
	e.topUp(acct, 10_000_000)
	o.balance[""] = 10_000_000
	for i := range 3 + rng.IntN(3) {
		var id string
		if rng.IntN(2) == 0 {
			id = e.ownSubaccount(tok, fmt.Sprintf("Own %d", i), nil)
			e.moveMoney(tok, "balance", acct, id, 1_000_000)
			o.own[id] = true
			o.balance[id] = 1_000_000
			o.balance[""] -= 1_000_000
		} else {
			id = e.newSubaccount(tok, fmt.Sprintf("Shared %d", i), everywhere)
		}
		o.subs = append(o.subs, id)
	}
	pick := func(xs []string) string { return xs[rng.IntN(len(xs))] }
	activeCards := func() []string {
		var out []string
		for _, c := range o.cards {
			if o.active[c] {
				out = append(out, c)
			}
		}
		return out
	}
	// datetime draws inside the month so far, in the month before, or after now.
	datetime := func() time.Time {
		switch rng.IntN(4) {
		case 0:
			return prevMonth.Add(time.Duration(rng.Int64N(int64(monthStart.Sub(prevMonth)))))
		case 1:
			return time.Now().Add(time.Hour + time.Duration(rng.Int64N(int64(30*24*time.Hour))))
		default:
			return monthStart.Add(time.Duration(rng.Int64N(max(int64(runStart.Sub(monthStart)), 1))))
		}
	}
	newMessage := func(card string) map[string]any {
		m := message(card, []string{"auth", "clearing", "refund", "reversal"}[rng.IntN(4)])
		m["amount"] = rng.Int64N(100_000)
		m["currency"] = pick(usageCurrencies)
		m["datetime"] = datetime().UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		return m
	}
	// outcome is what a message should get: 201 routed (to the card's subaccount), 200 a
	// duplicate, 202 unrouted.
	seen := map[string]int{}
	outcome := func(m map[string]any) (int, string) {
		key := m["networkTransactionId"].(string) + "/" + m["type"].(string)
		if s, ok := seen[key]; ok {
			if s == 202 {
				return 202, ""
			}
			return 200, ""
		}
		card, _ := m["cardId"].(string)
		if !o.active[card] {
			seen[key] = 202
			return 202, ""
		}
		seen[key] = 201
		return 201, o.in[card]
	}
	record := func(m map[string]any, sub string) {
		dt := must(time.Parse(time.RFC3339Nano, m["datetime"].(string)))
		o.routed = append(o.routed, usageMsg{sub: sub, currency: m["currency"].(string), amount: m["amount"].(int64), datetime: dt})
		o.charge(sub, o.txPrice, false)
	}

	for range 120 {
		switch op := rng.IntN(20); {
		case op < 5: // enrol
			sub := pick(o.subs)
			body := cardBody(nextPAN([]string{"VISA", "MASTERCARD"}[rng.IntN(2)]), []string{"USA", "CAN"}[rng.IntN(2)])
			if o.suspended[sub] {
				e.expectProblem(e.do("POST", "/v1/subaccounts/"+sub+"/cards", tok, body), 409, "subaccount-suspended", "")
				continue
			}
			c := e.expect(e.do("POST", "/v1/subaccounts/"+sub+"/cards", tok, body), 201).json(t)
			id := c["id"].(string)
			o.cards = append(o.cards, id)
			o.enrolledIn[id], o.in[id], o.active[id] = sub, sub, true
			o.enrolledAt[id] = must(time.Parse(time.RFC3339Nano, c["createdAt"].(string)))
			o.charge(sub, o.enrolPrice, true)
		case op < 7: // move
			cards := activeCards()
			if len(cards) == 0 {
				continue
			}
			card, to := pick(cards), pick(o.subs)
			if o.suspended[to] && o.in[card] != to {
				e.expectProblem(e.do("POST", "/v1/cards/"+card+"/move", tok, map[string]any{"subaccountId": to}), 409, "subaccount-suspended", "")
				continue
			}
			e.expect(e.do("POST", "/v1/cards/"+card+"/move", tok, map[string]any{"subaccountId": to}), 200)
			o.in[card] = to
		case op < 8: // remove
			cards := activeCards()
			if len(cards) == 0 {
				continue
			}
			card := pick(cards)
			e.expect(e.do("DELETE", "/v1/cards/"+card, tok, nil), 200)
			o.active[card] = false
		case op < 9: // suspend or reactivate
			sub := pick(o.subs)
			o.suspended[sub] = !o.suspended[sub]
			e.expect(e.do("PATCH", "/v1/subaccounts/"+sub, tok, map[string]any{"suspended": o.suspended[sub]}), 200)
		default: // messages, alone or in a batch
			var msgs []map[string]any
			for range 1 + rng.IntN(8) {
				switch {
				case len(o.sent) > 0 && rng.IntN(10) == 0:
					msgs = append(msgs, o.sent[rng.IntN(len(o.sent))])
				case len(o.cards) == 0 || rng.IntN(10) == 0:
					msgs = append(msgs, newMessage(uuid.NewString()))
				default:
					msgs = append(msgs, newMessage(pick(o.cards)))
				}
			}
			o.sent = append(o.sent, msgs...)
			if len(msgs) == 1 {
				want, sub := outcome(msgs[0])
				r := e.expect(e.do("POST", "/v1/transactions", tok, msgs[0]), want).json(t)
				if want == 201 {
					if r["subaccountId"] != sub || r["subaccountSuspended"] != o.suspended[sub] {
						t.Fatalf("routed %v, want subaccount %s (suspended %v)", r, sub, o.suspended[sub])
					}
					record(msgs[0], sub)
				}
				continue
			}
			var res struct {
				Results []struct {
					Status      int            `json:"status"`
					Transaction map[string]any `json:"transaction"`
				} `json:"results"`
			}
			e.expect(e.do("POST", "/v1/transactions/batch", tok, map[string]any{"messages": msgs}), 200).decode(t, &res)
			for i, m := range msgs {
				want, sub := outcome(m)
				got := res.Results[i]
				if got.Status != want || (want == 201 && got.Transaction["subaccountId"] != sub) {
					t.Fatalf("batch item %d: %d %v, want %d to %s", i, got.Status, got.Transaction, want, sub)
				}
				if want == 201 {
					record(m, sub)
				}
			}
		}
	}
	runEnd := time.Now().UTC()
	t.Logf("%d cards, %d messages routed of %d sent", len(o.cards), len(o.routed), len(o.sent))

	check := func(name, query string, from, to time.Time, inRun bool) {
		t.Helper()
		// Every subaccount, one page of two at a time.
		rows := map[string]usageDoc{}
		path := "/v1/usage?limit=2" + query
		for range 10 {
			var page struct {
				Items      []usageDoc `json:"items"`
				NextCursor *string    `json:"nextCursor"`
			}
			e.expect(e.do("GET", path, tok, nil), 200).decode(t, &page)
			for _, u := range page.Items {
				rows[u.SubaccountID] = u
			}
			if page.NextCursor == nil {
				break
			}
			path = "/v1/usage?limit=2&cursor=" + url.QueryEscape(*page.NextCursor) + query
		}
		if len(rows) != len(o.subs) {
			t.Errorf("%s: GET /v1/usage lists %d subaccounts, want %d", name, len(rows), len(o.subs))
		}
		for _, sub := range o.subs {
			want := o.expect(sub, from, to, inRun)
			one := e.usage(tok, sub, strings.Replace(query, "&", "?", 1))
			if got := one.summary(); got != want {
				t.Errorf("%s: %s\n got %s\nwant %s", name, sub, got, want)
			}
			if got := rows[sub].summary(); got != want {
				t.Errorf("%s: GET /v1/usage row of %s\n got %s\nwant %s", name, sub, got, want)
			}
			if one.Currency != "EUR" || one.SubaccountID != sub || one.Name == "" {
				t.Errorf("%s: %+v", name, one)
			}
		}
	}
	ms := func(t time.Time) string { return url.QueryEscape(t.UTC().Format("2006-01-02T15:04:05.000Z")) }

	// The default window: the calendar month of now, up to now.
	def := e.usage(tok, o.subs[0], "")
	from, to := must(time.Parse(time.RFC3339Nano, def.From)), must(time.Parse(time.RFC3339Nano, def.To))
	if !from.Equal(time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC)) || to.Before(runEnd.Truncate(time.Millisecond)) || to.After(time.Now().Add(time.Second)) {
		t.Errorf("default window [%s, %s)", def.From, def.To)
	}
	if from.After(runStart) {
		t.Logf("the month changed during the run: default window not checked")
	} else {
		check("default window", "", from, to, true)
	}
	check("last month", "&from="+ms(prevMonth)+"&to="+ms(monthStart), prevMonth, monthStart, false)
	wide := monthStart.AddDate(0, 0, -10)
	wideTo := runEnd.AddDate(0, 0, 40)
	check("wide window", "&from="+ms(wide)+"&to="+ms(wideTo), wide, wideTo, true)
	after, later := runEnd.Add(time.Hour), runEnd.AddDate(0, 0, 60)
	check("after the run", "&from="+ms(after)+"&to="+ms(later), after, later, false)

	// Balances: every charge went to the payer the oracle says.
	if got := e.account(acct).Balance; got != o.balance[""] {
		t.Errorf("primary balance %d, want %d", got, o.balance[""])
	}
	for _, sub := range o.subs {
		if o.own[sub] {
			if got := e.subaccount(tok, sub).bal(t); got != o.balance[sub] {
				t.Errorf("balance of %s: %d, want %d", sub, got, o.balance[sub])
			}
		}
	}
	e.reconciled(acct)

	// Windows the API refuses.
	for _, q := range []string{"?from=yesterday", "?to=soon", "?from=" + ms(monthStart) + "&to=" + ms(monthStart), "?from=" + ms(runEnd) + "&to=" + ms(prevMonth)} {
		e.expect(e.do("GET", "/v1/subaccounts/"+o.subs[0]+"/usage"+q, tok, nil), 400)
		e.expect(e.do("GET", "/v1/usage"+q, tok, nil), 400)
	}
}
