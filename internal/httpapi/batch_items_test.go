package httpapi_test

import (
	"slices"
	"testing"
)

// TestBatchMalformedItems: an item of either batch that is not an object of the right
// shape (a number, a string, a boolean, an array, an unknown field, a wrongly typed member) is
// refused in its own result with status 400 naming it, and the well-formed items are
// processed, as openapi.yaml says.
func TestBatchMalformedItems(t *testing.T) {
	t.Parallel()
	forEachDB(t, func(t *testing.T, e *env) {
		acct := e.newAccount("Acme", usaCanContract(10))
		tok := e.tenantToken(acct)
		sub := e.newSubaccount(tok, "Shop", []any{cfg([]string{"USA"}, "VISA")})
		card := e.enrol(tok, sub, visaPAN2, "USA")

		wrongType := cardBody(visaPAN3, "USA")
		wrongType["expMonth"] = "12"
		msgWrongType := message(card, "auth")
		msgWrongType["amount"] = "12.50"
		tests := []struct {
			name, path, member string
			good               any
			wrongType          any
			wrongPointer       string
			wantGood           int
		}{
			{"cards", "/v1/subaccounts/" + sub + "/cards/batch", "cards", cardBody(visaPAN, "USA"), wrongType, "/expMonth", 201},
			{"messages", "/v1/transactions/batch", "messages", message(card, "auth"), msgWrongType, "/amount", 201},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e := e.at(t)
				items := []any{42, "x", true, []any{}, map[string]any{"bogus": 1}, tt.wrongType, tt.good}
				wantPointers := [][]string{{"/0"}, {"/1"}, {"/2"}, {"/3"}, {"/4/bogus"}, {"/5" + tt.wrongPointer}, nil}
				r := e.expect(e.do("POST", tt.path, tok, map[string]any{tt.member: items}), 200)
				var res struct {
					Results []struct {
						Index   int        `json:"index"`
						Status  int        `json:"status"`
						Problem problemDoc `json:"problem"`
					} `json:"results"`
				}
				r.decode(t, &res)
				if len(res.Results) != len(items) {
					t.Fatalf("%d results for %d items: %s", len(res.Results), len(items), r.Body)
				}
				for i, got := range res.Results {
					want, wantPtrs := 400, []string(nil)
					if wantPointers[i] != nil {
						wantPtrs = []string{"/" + tt.member + wantPointers[i][0]}
					} else {
						want = tt.wantGood
					}
					if got.Index != i || got.Status != want || !slices.Equal(got.Problem.pointers(), wantPtrs) {
						t.Errorf("item %d: index %d status %d pointers %v, want status %d pointers %v (%s)",
							i, got.Index, got.Status, got.Problem.pointers(), want, wantPtrs, got.Problem.Detail)
					}
				}
				// The envelope is still checked whole, and null is refused anywhere.
				e.expect(e.do("POST", tt.path, tok, map[string]any{tt.member: 7}), 400)
				if p := e.expect(e.do("POST", tt.path, tok, map[string]any{tt.member: []any{tt.good, nil}}), 400).problem(t); !slices.Equal(p.pointers(), []string{"/" + tt.member + "/1"}) {
					t.Errorf("null item: pointers %v", p.pointers())
				}
				e.expect(e.do("POST", tt.path, tok, `{"`+tt.member+`":[{}`), 400)
			})
		}
	})
}
