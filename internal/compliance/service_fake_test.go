package compliance

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/policy"
)

func pair(country string, n policy.Network) policy.Pair {
	return policy.Pair{Country: country, Network: n}
}

func ptr[T any](v T) *T { return &v }

func wantCode(t *testing.T, err error, code subaccounts.Code) *subaccounts.Error {
	t.Helper()
	var e *subaccounts.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	return e
}

// newAccount returns a fake holding an account with contract and named subaccounts.
func newAccount(contract []policy.Configuration, names ...string) (*fakeStore, []uuid.UUID) {
	f := newFakeStore(subaccounts.Account{ID: uuid.New(), Name: "A", Contract: subaccounts.Contract{Configurations: contract}})
	ids := make([]uuid.UUID, len(names))
	for i, name := range names {
		ids[i] = uuid.New()
		f.subaccounts[ids[i]] = subaccounts.Subaccount{ID: ids[i], AccountID: f.account.ID, Name: name}
	}
	return f, ids
}

func principal(f *fakeStore) subaccounts.Principal {
	return subaccounts.Principal{AccountID: f.account.ID, Scopes: subaccounts.TenantScopes}
}

func TestComplianceRefusesConfined(t *testing.T) {
	t.Parallel()
	f, ids := newAccount([]policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}, "S")
	p := principal(f)
	p.SubaccountID = &ids[0]
	_, err := NewService(f).Compliance(context.Background(), p, ComplianceQuery{})
	wantCode(t, err, subaccounts.CodeForbidden)
	if n := f.totalCalls(); n != 0 {
		t.Errorf("a refused report made %d store calls", n)
	}
}

func TestComplianceSubaccountsOutside(t *testing.T) {
	t.Parallel()
	visaUSAGBR := []policy.Configuration{{Countries: []string{"USA", "GBR"}, Networks: []string{"VISA"}}}
	V, M := policy.Visa, policy.Mastercard
	type holder struct {
		sub  int // index into the subaccounts S1, S2, S3
		pair policy.Pair
	}
	// Every permission of S1, S2 and S3, in the order the store returns them.
	holders := []holder{
		{2, pair("FRA", V)}, {0, pair("USA", V)}, {0, pair("FRA", M)}, {0, pair("FRA", V)},
		{2, pair("DEU", M)}, {1, pair("GBR", V)},
	}
	entitled := []policy.Pair{pair("USA", V), pair("FRA", M), pair("GBR", V), pair("DEU", M), pair("FRA", V)}
	type outside struct {
		sub   int
		pairs []policy.Pair
	}
	tests := []struct {
		name      string
		contract  []policy.Configuration
		entitled  []policy.Pair
		wantAsked []policy.Pair // nil: SubaccountsPermitting is not asked
		want      []outside
	}{
		{
			name: "within the contract", contract: visaUSAGBR,
			entitled: []policy.Pair{pair("USA", V), pair("GBR", V)},
		},
		{
			name: "no subaccounts permit anything", contract: visaUSAGBR,
		},
		{
			// In the order the store first names each subaccount; pairs sorted.
			name: "two subaccounts outside", contract: visaUSAGBR, entitled: entitled,
			wantAsked: []policy.Pair{pair("DEU", M), pair("FRA", V), pair("FRA", M)},
			want:      []outside{{2, []policy.Pair{pair("DEU", M), pair("FRA", V)}}, {0, []policy.Pair{pair("FRA", V), pair("FRA", M)}}},
		},
		{
			name: "contract covers one network of a country",
			contract: []policy.Configuration{
				{Countries: []string{"USA", "GBR"}, Networks: []string{"VISA"}},
				{Countries: []string{"FRA"}, Networks: []string{"MASTERCARD"}},
			},
			entitled:  entitled,
			wantAsked: []policy.Pair{pair("DEU", M), pair("FRA", V)},
			want:      []outside{{2, []policy.Pair{pair("DEU", M), pair("FRA", V)}}, {0, []policy.Pair{pair("FRA", V)}}},
		},
		{
			name: "empty contract", contract: []policy.Configuration{}, entitled: entitled,
			wantAsked: entitled,
			want: []outside{
				{2, []policy.Pair{pair("DEU", M), pair("FRA", V)}},
				{0, []policy.Pair{pair("FRA", V), pair("FRA", M), pair("USA", V)}},
				{1, []policy.Pair{pair("GBR", V)}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, ids := newAccount(tt.contract, "S1", "S2", "S3")
			f.entitled = tt.entitled
			for _, h := range holders {
				f.permitting = append(f.permitting, subaccounts.SubaccountPair{SubaccountID: ids[h.sub], Pair: h.pair})
			}
			r, err := NewService(f).Compliance(context.Background(), principal(f), ComplianceQuery{})
			if err != nil {
				t.Fatalf("Compliance: %v", err)
			}
			if tt.wantAsked == nil {
				if len(f.askedPairs) != 0 {
					t.Errorf("asked which subaccounts permit %v, want no question", f.askedPairs)
				}
			} else if len(f.askedPairs) != 1 || !samePairs(f.askedPairs[0], tt.wantAsked) {
				t.Errorf("asked which subaccounts permit %v, want once, for %v", f.askedPairs, tt.wantAsked)
			}
			var want []SubaccountOutside
			for _, o := range tt.want {
				want = append(want, SubaccountOutside{ID: ids[o.sub], Name: f.subaccounts[ids[o.sub]].Name, Outside: o.pairs})
			}
			if !reflect.DeepEqual(r.SubaccountsOutside, want) {
				t.Errorf("SubaccountsOutside = %+v\nwant %+v", r.SubaccountsOutside, want)
			}
			if len(f.getSubaccounts) != len(want) {
				t.Errorf("read subaccounts %v, want each outside one once", f.getSubaccounts)
			}
			if r.Compliant() != (len(want) == 0) {
				t.Errorf("Compliant = %v with %d subaccounts outside", r.Compliant(), len(want))
			}
		})
	}
}

// samePairs compares pairs as sets: which pairs are asked about matters, not their order.
func samePairs(a, b []policy.Pair) bool {
	key := func(p policy.Pair) string { return p.String() }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i := range a {
		ka[i] = key(a[i])
	}
	for i := range b {
		kb[i] = key(b[i])
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

func TestComplianceWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		w        subaccounts.Window
		toIsNow  bool      // want To = the report's CheckedAt
		wantFrom time.Time // zero: To - DefaultComplianceWindow
		wantTo   time.Time // when not toIsNow
		refused  string    // the refused parameter, if any
	}{
		{name: "none", toIsNow: true},
		{name: "to only", w: subaccounts.Window{To: t0}, wantTo: t0},
		{name: "from only", w: subaccounts.Window{From: t0}, toIsNow: true, wantFrom: t0},
		{name: "both, wider than the default", w: subaccounts.Window{From: t0.Add(-7 * 24 * time.Hour), To: t0}, wantFrom: t0.Add(-7 * 24 * time.Hour), wantTo: t0},
		{name: "both, narrower than the default", w: subaccounts.Window{From: t0.Add(-time.Minute), To: t0}, wantFrom: t0.Add(-time.Minute), wantTo: t0},
		{name: "from in the future without to", w: subaccounts.Window{From: time.Now().Add(time.Hour)}, refused: "from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _ := newAccount(nil)
			before := time.Now().UTC().Truncate(time.Millisecond)
			r, err := NewService(f).Compliance(context.Background(), principal(f), ComplianceQuery{Window: tt.w})
			after := time.Now().UTC()
			if tt.refused != "" {
				e := wantCode(t, err, subaccounts.CodeValidation)
				if len(e.Fields) != 1 || e.Fields[0].Parameter != tt.refused {
					t.Errorf("refused fields %+v, want %s", e.Fields, tt.refused)
				}
				if n := f.totalCalls(); n != 0 {
					t.Errorf("an invalid window made %d store calls", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compliance: %v", err)
			}
			if r.CheckedAt.Before(before) || r.CheckedAt.After(after) {
				t.Errorf("CheckedAt %v not in [%v, %v]", r.CheckedAt, before, after)
			}
			wantTo := tt.wantTo
			if tt.toIsNow {
				wantTo = r.CheckedAt
			}
			wantFrom := tt.wantFrom
			if wantFrom.IsZero() {
				wantFrom = wantTo.Add(-DefaultComplianceWindow)
			}
			if !r.From.Equal(wantFrom) || !r.To.Equal(wantTo) {
				t.Errorf("window [%v, %v), want [%v, %v)", r.From, r.To, wantFrom, wantTo)
			}
			if !f.from.Equal(r.From) || !f.to.Equal(r.To) {
				t.Errorf("transactions asked for [%v, %v), the report says [%v, %v)", f.from, f.to, r.From, r.To)
			}
		})
	}
}

func TestComplianceSample(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		sample  *int
		want    int
		refused bool
	}{
		{name: "default", sample: nil, want: DefaultComplianceSample},
		{name: "none", sample: ptr(0), want: 0},
		{name: "one", sample: ptr(1), want: 1},
		{name: "maximum", sample: ptr(MaxComplianceSample), want: MaxComplianceSample},
		{name: "above the maximum", sample: ptr(MaxComplianceSample + 1), refused: true},
		{name: "negative", sample: ptr(-1), refused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, _ := newAccount(nil)
			_, err := NewService(f).Compliance(context.Background(), principal(f), ComplianceQuery{Sample: tt.sample})
			if tt.refused {
				e := wantCode(t, err, subaccounts.CodeValidation)
				if len(e.Fields) != 1 || e.Fields[0].Parameter != "sample" {
					t.Errorf("refused fields %+v, want sample", e.Fields)
				}
				if n := f.totalCalls(); n != 0 {
					t.Errorf("an invalid sample made %d store calls", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compliance: %v", err)
			}
			if f.calls["CardsOutsideConfiguration"] != 1 || f.sample != tt.want {
				t.Errorf("cards asked with sample %d (%d calls), want %d once", f.sample, f.calls["CardsOutsideConfiguration"], tt.want)
			}
		})
	}
}

// TestComplianceReportAggregates: the report carries the store's aggregates as they are.
func TestComplianceReportAggregates(t *testing.T) {
	t.Parallel()
	f, ids := newAccount([]policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}, "S1", "S2")
	f.entitled = []policy.Pair{pair("USA", policy.Visa)}
	f.activeCards = 42
	f.cardViolations = []subaccounts.CardViolation{
		{SubaccountID: ids[0], Pair: pair("FRA", policy.Visa), Cards: 3, SampleIDs: []uuid.UUID{uuid.New()}},
		{SubaccountID: ids[1], Pair: pair("DEU", policy.Mastercard), Cards: 4},
	}
	f.txViolations = []subaccounts.TransactionViolation{{SubaccountID: ids[0], Pair: pair("FRA", policy.Visa), Transactions: 7}}
	r, err := NewService(f).Compliance(context.Background(), principal(f), ComplianceQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if r.AccountID != f.account.ID || r.Subaccounts != 2 || r.ActiveCards != 42 {
		t.Errorf("report of %s: %d subaccounts, %d active cards; want %s, 2, 42", r.AccountID, r.Subaccounts, r.ActiveCards, f.account.ID)
	}
	if !reflect.DeepEqual(r.CardsOutside, f.cardViolations) || !reflect.DeepEqual(r.TransactionsOutOfPolicy, f.txViolations) {
		t.Errorf("violations %+v, %+v; want the store's %+v, %+v", r.CardsOutside, r.TransactionsOutOfPolicy, f.cardViolations, f.txViolations)
	}
	if r.Compliant() || r.CardsOutsideCount() != 7 || r.TransactionsOutOfPolicyCount() != 7 {
		t.Errorf("Compliant %v, %d cards, %d transactions outside; want false, 7, 7", r.Compliant(), r.CardsOutsideCount(), r.TransactionsOutOfPolicyCount())
	}
}

func TestComplianceReportHelpers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		r         ComplianceReport
		compliant bool
		cards     int64
		txs       int64
	}{
		{name: "empty", r: ComplianceReport{Subaccounts: 3, ActiveCards: 9}, compliant: true},
		{name: "empty lists", r: ComplianceReport{SubaccountsOutside: []SubaccountOutside{}, CardsOutside: []subaccounts.CardViolation{}, TransactionsOutOfPolicy: []subaccounts.TransactionViolation{}}, compliant: true},
		{name: "a subaccount outside", r: ComplianceReport{SubaccountsOutside: []SubaccountOutside{{Name: "S"}}}},
		{name: "cards outside", r: ComplianceReport{CardsOutside: []subaccounts.CardViolation{{Cards: 2}, {Cards: 5}, {Cards: 1}}}, cards: 8},
		{name: "transactions out of policy", r: ComplianceReport{TransactionsOutOfPolicy: []subaccounts.TransactionViolation{{Transactions: 10}, {Transactions: 1}}}, txs: 11},
		{
			name: "everything",
			r: ComplianceReport{
				SubaccountsOutside:      []SubaccountOutside{{Name: "S"}},
				CardsOutside:            []subaccounts.CardViolation{{Cards: 1 << 40}, {Cards: 1}},
				TransactionsOutOfPolicy: []subaccounts.TransactionViolation{{Transactions: 3}},
			},
			cards: 1<<40 + 1, txs: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.r.Compliant(); got != tt.compliant {
				t.Errorf("Compliant = %v, want %v", got, tt.compliant)
			}
			if got := tt.r.CardsOutsideCount(); got != tt.cards {
				t.Errorf("CardsOutsideCount = %d, want %d", got, tt.cards)
			}
			if got := tt.r.TransactionsOutOfPolicyCount(); got != tt.txs {
				t.Errorf("TransactionsOutOfPolicyCount = %d, want %d", got, tt.txs)
			}
		})
	}
}

func TestComplianceStoreErrors(t *testing.T) {
	t.Parallel()
	for _, method := range []string{"GetAccount", "CountSubaccounts", "EntitledPairs", "SubaccountsPermitting", "GetSubaccount", "CardsOutsideConfiguration", "OutOfPolicyTransactions"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			f, ids := newAccount([]policy.Configuration{{Countries: []string{"USA"}, Networks: []string{"VISA"}}}, "S1")
			f.entitled = []policy.Pair{pair("FRA", policy.Visa)}
			f.permitting = []subaccounts.SubaccountPair{{SubaccountID: ids[0], Pair: pair("FRA", policy.Visa)}}
			f.errs[method] = subaccounts.ErrUnavailable
			if _, err := NewService(f).Compliance(context.Background(), principal(f), ComplianceQuery{}); !errors.Is(err, subaccounts.ErrUnavailable) {
				t.Errorf("Compliance error %v, want it to wrap %v", err, subaccounts.ErrUnavailable)
			}
		})
	}
	t.Run("unknown account", func(t *testing.T) {
		t.Parallel()
		f, _ := newAccount(nil)
		if _, err := NewService(f).AccountCompliance(context.Background(), uuid.New(), ComplianceQuery{}); !errors.Is(err, subaccounts.ErrNotFound) {
			t.Errorf("AccountCompliance of an unknown account: %v, want not found", err)
		}
	})
	t.Run("invalid stored contract", func(t *testing.T) {
		t.Parallel()
		f, _ := newAccount([]policy.Configuration{{Countries: []string{"usa"}, Networks: []string{"VISA"}}})
		_, err := NewService(f).Compliance(context.Background(), principal(f), ComplianceQuery{})
		if err == nil || !strings.Contains(err.Error(), "invalid") {
			t.Fatalf("Compliance with an invalid stored contract: %v, want an error", err)
		}
		var e *subaccounts.Error
		if errors.As(err, &e) {
			t.Errorf("an invalid stored contract is reported as the caller's error %v", e)
		}
		if f.calls["EntitledPairs"] != 0 {
			t.Errorf("checked entitlements against an invalid contract")
		}
	})
}
