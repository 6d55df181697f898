package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// accountDoc is the account view with its money.
type accountDoc struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Contract struct {
		Version        int64  `json:"version"`
		MaxSubaccounts int    `json:"maxSubaccounts"`
		Currency       string `json:"currency"`
		Pricing        struct {
			CardEnrolment int64 `json:"cardEnrolment"`
			Transaction   int64 `json:"transaction"`
		} `json:"pricing"`
	} `json:"contract"`
	Balance         int64 `json:"balance"`
	CreditLimit     int64 `json:"creditLimit"`
	AllocatedCredit int64 `json:"allocatedCredit"`
	AvailableCredit int64 `json:"availableCredit"`
	OverLimit       bool  `json:"overLimit"`
}

// money is what a test compares before and after a refusal.
func (a accountDoc) money() string {
	return fmt.Sprintf("balance %d, limit %d, allocated %d, available %d, over %v",
		a.Balance, a.CreditLimit, a.AllocatedCredit, a.AvailableCredit, a.OverLimit)
}

type autoTopUpDoc struct {
	Threshold int64 `json:"threshold"`
	Amount    int64 `json:"amount"`
}

// subDoc is the subaccount view with its cost controls.
type subDoc struct {
	ID                       string        `json:"id"`
	Name                     string        `json:"name"`
	Suspended                bool          `json:"suspended"`
	UsePrimaryAccountBalance bool          `json:"usePrimaryAccountBalance"`
	Balance                  *int64        `json:"balance"`
	CreditLimit              *int64        `json:"creditLimit"`
	OverLimit                bool          `json:"overLimit"`
	AutoTopUp                *autoTopUpDoc `json:"autoTopUp"`
	MaxCards                 int           `json:"maxCards"`
}

func (s subDoc) money() string {
	str := func(p *int64) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("balance %s, limit %s, over %v", str(s.Balance), str(s.CreditLimit), s.OverLimit)
}

// bal is the subaccount's own balance, failing the test when it has none.
func (s subDoc) bal(t testing.TB) int64 {
	t.Helper()
	if s.Balance == nil {
		t.Fatalf("subaccount %s shows no balance of its own", s.ID)
	}
	return *s.Balance
}

type transferDoc struct {
	ID           string  `json:"id"`
	Amount       int64   `json:"amount"`
	From         string  `json:"from"`
	To           string  `json:"to"`
	SubaccountID *string `json:"subaccountId"`
	Reference    string  `json:"reference"`
	CreatedAt    string  `json:"createdAt"`
}

// pricedContract is usaCanContract(10) with a currency and prices.
func pricedContract(currency string, enrolment, transaction int64) map[string]any {
	c := usaCanContract(10)
	c["currency"] = currency
	c["pricing"] = map[string]any{"cardEnrolment": enrolment, "transaction": transaction}
	return c
}

// everywhere permits both networks in USA and CAN.
var everywhere = []any{cfg([]string{"USA", "CAN"}, "VISA", "MASTERCARD")}

// account reads an account as the operator sees it.
func (e *env) account(id string) accountDoc {
	e.t.Helper()
	var a accountDoc
	e.expect(e.do("GET", "/v1/accounts/"+id, e.opToken, nil), 200).decode(e.t, &a)
	return a
}

func (e *env) subaccount(token, id string) subDoc {
	e.t.Helper()
	var s subDoc
	e.expect(e.do("GET", "/v1/subaccounts/"+id, token, nil), 200).decode(e.t, &s)
	return s
}

// ownSubaccount creates a subaccount with a balance of its own, permitting everywhere;
// extra adds or overrides body members.
func (e *env) ownSubaccount(token, name string, extra map[string]any) string {
	e.t.Helper()
	body := map[string]any{"name": name, "configurations": everywhere, "usePrimaryAccountBalance": false}
	maps.Copy(body, extra)
	return e.expect(e.do("POST", "/v1/subaccounts", token, body), 201).json(e.t)["id"].(string)
}

func (e *env) topUp(acct string, amount int64) {
	e.t.Helper()
	e.expect(e.do("POST", "/v1/accounts/"+acct+"/top-ups", e.opToken, map[string]any{"amount": amount, "reference": "wire transfer"}), 201)
}

func (e *env) setCreditLimit(acct string, limit int64) {
	e.t.Helper()
	e.expect(e.do("PATCH", "/v1/accounts/"+acct, e.opToken, map[string]any{"creditLimit": limit}), 200)
}

// transfer asks for a credit or balance transfer (kind "credit" or "balance").
func (e *env) transfer(token, kind, from, to string, amount int64) response {
	e.t.Helper()
	return e.do("POST", "/v1/"+kind+"-transfers", token, map[string]any{"from": from, "to": to, "amount": amount, "reference": "test " + kind})
}

// sendTransfer is transfer for goroutines other than the test's (see send).
func (e *env) sendTransfer(token, kind, from, to string, amount int64) (response, error) {
	return e.send("POST", "/v1/"+kind+"-transfers", token, map[string]any{"from": from, "to": to, "amount": amount, "reference": "test " + kind})
}

// moveMoney makes a transfer that must succeed.
func (e *env) moveMoney(token, kind, from, to string, amount int64) transferDoc {
	e.t.Helper()
	var tr transferDoc
	e.expect(e.transfer(token, kind, from, to, amount), 201).decode(e.t, &tr)
	if tr.From != from || tr.To != to || tr.Amount != amount {
		e.t.Fatalf("transfer %+v, want %d from %s to %s", tr, amount, from, to)
	}
	return tr
}

// transfers lists every transfer of a kind matching query, following the cursors.
func (e *env) transfers(token, kind, query string) []transferDoc {
	e.t.Helper()
	var out []transferDoc
	sep := "?"
	if query != "" {
		query = "?" + query
		sep = "&"
	}
	path := "/v1/" + kind + "-transfers" + query
	for range 100 {
		var page struct {
			Items      []transferDoc `json:"items"`
			NextCursor *string       `json:"nextCursor"`
		}
		e.expect(e.do("GET", path, token, nil), 200).decode(e.t, &page)
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		path = "/v1/" + kind + "-transfers" + query + sep + "cursor=" + url.QueryEscape(*page.NextCursor)
	}
	e.t.Fatal("more than 100 pages of transfers")
	return nil
}

// expectProblem checks a refusal's status, problem type and (when given) reason.
func (e *env) expectProblem(r response, status int, typ, reason string) problemDoc {
	e.t.Helper()
	p := e.expect(r, status).problem(e.t)
	if p.Type != "/problems/"+typ || p.Status != status {
		e.t.Errorf("problem %s %d, want /problems/%s %d: %s", p.Type, p.Status, typ, status, r.Body)
	}
	if p.Reason != reason {
		e.t.Errorf("reason %q, want %q: %s", p.Reason, reason, r.Body)
	}
	return p
}

// reconciled checks that every stored balance and credit limit of the account equals
// what its journal sums to.
func (e *env) reconciled(acct string) {
	e.t.Helper()
	rec, err := e.svc.Ledger.Reconcile(context.Background(), uuid.MustParse(acct))
	if err != nil {
		e.t.Fatal(err)
	}
	if len(rec.Mismatches) > 0 {
		e.t.Errorf("journal and stored figures differ: %s", strings.Join(rec.Mismatches, "; "))
	}
}

// nextPAN returns a PAN of network that no test has used yet.
func nextPAN(network string) string {
	n := int(msgSeq.Add(1))
	if network == "MASTERCARD" {
		return luhnPAN("51", n, 16)
	}
	return luhnPAN("4", n, 16)
}
