package policy_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

func TestPermits(t *testing.T) {
	t.Parallel()
	s := compile(t, cfg("GBR USA", "VISA"), cfg("ZWE AFG", "MASTERCARD"))
	tests := []struct {
		name    string
		country string
		network policy.Network
		want    bool
	}{
		{"listed pair", "GBR", policy.Visa, true},
		{"listed country, other network", "GBR", policy.Mastercard, false},
		{"first code in the space", "AFG", policy.Mastercard, true},
		{"last listed code", "ZWE", policy.Mastercard, true},
		{"unlisted country", "FRA", policy.Visa, false},
		{"lowercase", "gbr", policy.Visa, false},
		{"mixed case", "gBR", policy.Visa, false},
		{"short", "GB", policy.Visa, false},
		{"long", "GBRR", policy.Visa, false},
		{"empty", "", policy.Visa, false},
		{"digits", "1BR", policy.Visa, false},
		{"byte just below A", "@BR", policy.Visa, false},
		{"byte just above Z", "GB[", policy.Visa, false},
		{"high bytes", "\xffBR", policy.Visa, false},
		{"multi-byte rune", "GÉ", policy.Visa, false},
		{"out of range network", "GBR", policy.Network(policy.NetworkCount), false},
		{"far out of range network", "GBR", policy.Network(255), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := s.Permits(tt.country, tt.network); got != tt.want {
				t.Errorf("Permits(%q, %v) = %v, want %v", tt.country, tt.network, got, tt.want)
			}
		})
	}
}

// TestPermitsDoesNotAllocate is not parallel: AllocsPerRun measures the
// whole process, so it refuses to run alongside other tests.
func TestPermitsDoesNotAllocate(t *testing.T) {
	s := compile(t, cfg("GBR USA", "VISA MASTERCARD"))
	country := "GBR"
	allocs := testing.AllocsPerRun(100, func() {
		s.Permits(country, policy.Visa)
		s.Permits("xx", policy.Mastercard)
	})
	if allocs != 0 {
		t.Errorf("Permits allocates %v times per call, want 0", allocs)
	}
}

func TestZeroAndNilSet(t *testing.T) {
	t.Parallel()
	var zero policy.Set
	var nilSet *policy.Set
	for name, s := range map[string]*policy.Set{"zero": &zero, "nil": nilSet} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if !s.Empty() || s.Len() != 0 {
				t.Errorf("Empty() = %v, Len() = %d; want true, 0", s.Empty(), s.Len())
			}
			if s.Permits("GBR", policy.Visa) {
				t.Error("Permits on empty set = true")
			}
			if got := s.Pairs(); got == nil || len(got) != 0 {
				t.Errorf("Pairs() = %#v, want empty non-nil", got)
			}
			if got := s.Normalize(); got == nil || len(got) != 0 {
				t.Errorf("Normalize() = %#v, want empty non-nil", got)
			}
			other := compile(t, cfg("GBR", "VISA"))
			if !s.SubsetOf(other) || other.SubsetOf(s) {
				t.Error("empty set must be a subset of everything and have no non-empty subset")
			}
			if !s.Equal(&policy.Set{}) || !s.Equal(nil) {
				t.Error("empty sets must be equal")
			}
			if !s.Union(other).Equal(other) || !s.Intersect(other).Empty() {
				t.Error("union/intersection with the empty set are wrong")
			}
		})
	}
}

func TestAdd(t *testing.T) {
	t.Parallel()
	var s policy.Set
	s.Add(policy.Pair{"GBR", policy.Mastercard})
	s.Add(policy.Pair{"GBR", policy.Mastercard})
	if !s.Permits("GBR", policy.Mastercard) || s.Len() != 1 {
		t.Errorf("after Add: Pairs() = %v", s.Pairs())
	}

	invalid := []struct {
		name string
		pair policy.Pair
	}{
		{"lowercase country", policy.Pair{"gbr", policy.Visa}},
		{"unassigned country", policy.Pair{"ZZZ", policy.Visa}},
		{"user-assigned country", policy.Pair{"XKX", policy.Visa}},
		{"out of range network", policy.Pair{"GBR", policy.Network(2)}},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s policy.Set
			defer func() {
				if recover() == nil {
					t.Errorf("Add(%v) did not panic", tt.pair)
				}
			}()
			s.Add(tt.pair)
		})
	}
}

func TestSetAlgebra(t *testing.T) {
	t.Parallel()
	contract := compile(t, cfg("CAN GBR USA", "VISA MASTERCARD"), cfg("DEU", "VISA"))
	sub := compile(t, cfg("USA", "MASTERCARD"), cfg("GBR", "VISA"))
	outside := compile(t, cfg("FRA", "VISA"), cfg("DEU", "VISA MASTERCARD"), cfg("USA", "VISA"))

	t.Run("Len", func(t *testing.T) {
		t.Parallel()
		if got := contract.Len(); got != 7 {
			t.Errorf("Len() = %d, want 7", got)
		}
	})
	t.Run("Pairs are sorted by country then network", func(t *testing.T) {
		t.Parallel()
		want := []policy.Pair{
			{"CAN", policy.Visa}, {"CAN", policy.Mastercard},
			{"DEU", policy.Visa},
			{"GBR", policy.Visa}, {"GBR", policy.Mastercard},
			{"USA", policy.Visa}, {"USA", policy.Mastercard},
		}
		if got := contract.Pairs(); !slices.Equal(got, want) {
			t.Errorf("Pairs() = %v, want %v", got, want)
		}
	})
	t.Run("SubsetOf", func(t *testing.T) {
		t.Parallel()
		if !sub.SubsetOf(contract) {
			t.Error("sub.SubsetOf(contract) = false")
		}
		if contract.SubsetOf(sub) {
			t.Error("contract.SubsetOf(sub) = true")
		}
		if outside.SubsetOf(contract) {
			t.Error("outside.SubsetOf(contract) = true")
		}
	})
	t.Run("Difference is sorted and exact", func(t *testing.T) {
		t.Parallel()
		want := []policy.Pair{{"DEU", policy.Mastercard}, {"FRA", policy.Visa}}
		if got := outside.Difference(contract); !slices.Equal(got, want) {
			t.Errorf("Difference() = %v, want %v", got, want)
		}
		if got := sub.Difference(contract); got == nil || len(got) != 0 {
			t.Errorf("Difference of a subset = %#v, want empty non-nil", got)
		}
	})
	t.Run("Intersect", func(t *testing.T) {
		t.Parallel()
		want := compile(t, cfg("DEU USA", "VISA"))
		if got := outside.Intersect(contract); !got.Equal(want) {
			t.Errorf("Intersect() = %v, want %v", got.Pairs(), want.Pairs())
		}
	})
	t.Run("Union", func(t *testing.T) {
		t.Parallel()
		want := compile(t, cfg("CAN GBR USA DEU", "VISA MASTERCARD"), cfg("FRA", "VISA"))
		if got := outside.Union(contract); !got.Equal(want) {
			t.Errorf("Union() = %v, want %v", got.Pairs(), want.Pairs())
		}
	})
	t.Run("operations return new sets", func(t *testing.T) {
		t.Parallel()
		before := contract.Len()
		u := contract.Union(outside)
		u.Add(policy.Pair{"JPN", policy.Visa})
		i := contract.Intersect(contract)
		i.Add(policy.Pair{"JPN", policy.Visa})
		if contract.Len() != before || contract.Permits("JPN", policy.Visa) {
			t.Error("Union or Intersect shares storage with its receiver")
		}
	})
	t.Run("Equal", func(t *testing.T) {
		t.Parallel()
		same := compile(t, cfg("DEU", "VISA"), cfg("USA GBR CAN", "MASTERCARD VISA"), cfg("CAN", "VISA"))
		if !contract.Equal(same) {
			t.Error("Equal on the same pairs written differently = false")
		}
		if contract.Equal(sub) {
			t.Error("Equal on different sets = true")
		}
	})
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		configs []policy.Configuration
		want    string
	}{
		{"empty", nil, `[]`},
		{
			name:    "both networks first, then VISA only, then MASTERCARD only",
			configs: []policy.Configuration{cfg("USA FRA", "MASTERCARD"), cfg("GBR DEU", "VISA"), cfg("USA CAN GBR", "VISA MASTERCARD")},
			want: `[{"countries":["CAN","GBR","USA"],"networks":["VISA","MASTERCARD"]},` +
				`{"countries":["DEU"],"networks":["VISA"]},` +
				`{"countries":["FRA"],"networks":["MASTERCARD"]}]`,
		},
		{
			name:    "empty groups are omitted",
			configs: []policy.Configuration{cfg("ZWE ABW", "MASTERCARD")},
			want:    `[{"countries":["ABW","ZWE"],"networks":["MASTERCARD"]}]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(compile(t, tt.configs...).Normalize())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Normalize() =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}
