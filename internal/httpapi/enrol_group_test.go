package httpapi_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// TestConcurrentEnrolments sends enrolments of every outcome at once, into several
// subaccounts of two accounts, so that the group commit writes many of them together
// (groupcommit's own tests hold a write to make sure; here they share when they happen
// to, which on PostgreSQL the cards' xmin shows in the log):
// each gets its own answer (one of five copies of a card enrolled, the others naming
// it; a card outside its subaccount's configuration refused; a deleted subaccount not
// found; another tenant's copy of the same card enrolled in its own account), and every
// enrolled card has its audit event with its own request's id and nobody else's.
func TestConcurrentEnrolments(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		usaVisa := []any{cfg([]string{"USA"}, "VISA")}
		a, b := e.newAccount("Acme", usaCanContract(10)), e.newAccount("Other", usaCanContract(10))
		tokA, tokB := e.tenantToken(a), e.tenantToken(b)
		s1, s2 := e.newSubaccount(tokA, "Visa USA", usaVisa), e.newSubaccount(tokA, "MC Canada", []any{cfg([]string{"CAN"}, "MASTERCARD")})
		gone := e.newSubaccount(tokA, "Gone", usaVisa)
		e.expect(e.do("DELETE", "/v1/subaccounts/"+gone, tokA, nil), 204)
		s3 := e.newSubaccount(tokB, "Theirs", usaVisa)

		type req struct {
			name, token, sub, pan, country string
		}
		var reqs []req
		for i := range 10 {
			reqs = append(reqs, req{fmt.Sprintf("distinct %d", i), tokA, s1, nextPAN("VISA"), "USA"})
		}
		for i := range 5 {
			reqs = append(reqs, req{fmt.Sprintf("copy %d", i), tokA, s1, visaPAN2, "USA"})
		}
		for i := range 3 {
			reqs = append(reqs, req{fmt.Sprintf("outside %d", i), tokA, s2, nextPAN("VISA"), "USA"})
		}
		reqs = append(reqs, req{"deleted", tokA, gone, nextPAN("VISA"), "USA"}, req{"other tenant's copy", tokB, s3, visaPAN2, "USA"})
		for i := range 5 {
			reqs = append(reqs, req{fmt.Sprintf("other tenant %d", i), tokB, s3, nextPAN("VISA"), "USA"})
		}

		answers := make([]response, len(reqs))
		errs := make([]error, len(reqs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, r := range reqs {
			wg.Go(func() {
				<-start
				answers[i], errs[i] = e.send("POST", "/v1/subaccounts/"+r.sub+"/cards", r.token, cardBody(r.pan, r.country))
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}

		enrolled := map[string][]string{} // request ids of 201s, by account
		var copyID string
		var copies, copyRefusals []string
		for i, r := range reqs {
			got := answers[i]
			switch {
			case r.pan == visaPAN2 && r.token == tokA:
				switch got.Status {
				case http.StatusCreated:
					copyID = got.json(t)["id"].(string)
					copies = append(copies, r.name)
				case http.StatusConflict:
					copyRefusals = append(copyRefusals, got.json(t)["cardId"].(string))
				default:
					t.Errorf("%s: %d %s", r.name, got.Status, got.Body)
				}
			case r.sub == s2:
				if p := got.problem(t); got.Status != http.StatusUnprocessableEntity || p.Type != "/problems/policy-violation" {
					t.Errorf("%s: %d %s, want a policy violation", r.name, got.Status, got.Body)
				}
			case r.sub == gone:
				if got.Status != http.StatusNotFound {
					t.Errorf("%s: %d %s, want 404", r.name, got.Status, got.Body)
				}
			default:
				if got.Status != http.StatusCreated {
					t.Errorf("%s: %d %s, want 201", r.name, got.Status, got.Body)
				}
			}
			if got.Status == http.StatusCreated {
				acct := a
				if r.token == tokB {
					acct = b
				}
				enrolled[acct] = append(enrolled[acct], got.Header.Get("X-Request-Id"))
			}
		}
		if len(copies) != 1 || len(copyRefusals) != 4 {
			t.Fatalf("five copies of one card: %d enrolled, %d refused; want 1 and 4", len(copies), len(copyRefusals))
		}
		for _, id := range copyRefusals {
			if id != copyID {
				t.Errorf("a refused copy names card %s, want the enrolled %s", id, copyID)
			}
		}

		if e.db.Dialect() == "postgres" {
			var cards, txs int
			row := e.db.Pool().QueryRowContext(t.Context(), `SELECT count(*), count(DISTINCT xmin::text) FROM cards WHERE account_id IN ($1, $2)`, a, b)
			if err := row.Scan(&cards, &txs); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d cards enrolled in %d transactions", cards, txs)
		}

		for acct, tok := range map[string]string{a: tokA, b: tokB} {
			var audited []string
			for _, ev := range e.auditList(tok, "?action=card.enrol&limit=100").Items {
				if ev.AccountID != acct {
					t.Errorf("account %s's log holds an event of %s", acct, ev.AccountID)
				}
				audited = append(audited, ev.RequestID)
			}
			slices.Sort(audited)
			want := slices.Sorted(slices.Values(enrolled[acct]))
			if !slices.Equal(audited, want) {
				t.Errorf("account %s: card.enrol events carry request ids %v, want those of its 201s %v", acct, audited, want)
			}
		}
	})
}
