package policy_test

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

// iterations is enough random cases to exercise overlaps, duplicates and
// empty sets while keeping the suite fast under -race.
const iterations = 300

// randomSet compiles a random valid configuration list.
func randomSet(t *testing.T, r *rand.Rand) *policy.Set {
	t.Helper()
	return compile(t, randomConfigs(r, 5)...)
}

// forEachSeed runs check with a differently seeded generator each time, and
// names the seed on failure so a case can be replayed.
func forEachSeed(t *testing.T, check func(t *testing.T, r *rand.Rand)) {
	t.Helper()
	for seed := range uint64(iterations) {
		r := rand.New(rand.NewPCG(seed, 0x5eed))
		check(t, r)
		if t.Failed() {
			t.Fatalf("failed with seed %d", seed)
		}
	}
}

func TestPropertySubsetOfReflexive(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		a := randomSet(t, r)
		if !a.SubsetOf(a) {
			t.Errorf("%v is not a subset of itself", a.Pairs())
		}
	})
}

func TestPropertySubsetOfTransitive(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		// Build the chain by union so the premise always holds; random sets
		// alone would almost never be nested.
		a := randomSet(t, r)
		b := a.Union(randomSet(t, r))
		c := b.Union(randomSet(t, r))
		if !a.SubsetOf(b) || !b.SubsetOf(c) {
			t.Fatalf("premise does not hold: A⊆B %v, B⊆C %v", a.SubsetOf(b), b.SubsetOf(c))
		}
		if !a.SubsetOf(c) {
			t.Errorf("A⊆B and B⊆C but not A⊆C: A=%v C=%v", a.Pairs(), c.Pairs())
		}
	})
}

func TestPropertyNormalizeRoundTrip(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		s := randomSet(t, r)
		norm := s.Normalize()
		if len(norm) > 3 {
			t.Errorf("Normalize() has %d elements, want at most 3", len(norm))
		}
		back := compile(t, norm...)
		if !back.Equal(s) {
			t.Errorf("Compile(Normalize(s)) != s:\n s=%v\n got=%v", s.Pairs(), back.Pairs())
		}
	})
}

func TestPropertyNormalizeIdempotent(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		once := randomSet(t, r).Normalize()
		twice := compile(t, once...).Normalize()
		if !reflect.DeepEqual(once, twice) {
			t.Errorf("Normalize is not idempotent:\n once=%v\ntwice=%v", once, twice)
		}
		j1, _ := json.Marshal(once)
		j2, _ := json.Marshal(twice)
		if string(j1) != string(j2) {
			t.Errorf("Normalize JSON differs:\n%s\n%s", j1, j2)
		}
	})
}

func TestPropertyDifferenceEmptyIffSubset(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		a := randomSet(t, r)
		b := randomSet(t, r)
		if r.IntN(2) == 0 {
			// Half the cases are subsets by construction, or the "if" side
			// would hardly ever be tested.
			b = b.Union(a)
		}
		diff := a.Difference(b)
		if (len(diff) == 0) != a.SubsetOf(b) {
			t.Errorf("Difference has %d pairs but SubsetOf = %v", len(diff), a.SubsetOf(b))
		}
		for _, p := range diff {
			if !a.Permits(p.Country, p.Network) || b.Permits(p.Country, p.Network) {
				t.Errorf("Difference contains %v, which is not in A \\ B", p)
			}
		}
		if len(diff)+a.Intersect(b).Len() != a.Len() {
			t.Errorf("|A\\B| + |A∩B| = %d + %d, want |A| = %d", len(diff), a.Intersect(b).Len(), a.Len())
		}
	})
}

func TestPropertyIntersectAndUnion(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		a, b := randomSet(t, r), randomSet(t, r)
		i := a.Intersect(b)
		if !i.SubsetOf(a) || !i.SubsetOf(b) {
			t.Errorf("A∩B is not a subset of both: %v", i.Pairs())
		}
		u := a.Union(b)
		if !a.SubsetOf(u) || !b.SubsetOf(u) {
			t.Errorf("A∪B is not a superset of both: %v", u.Pairs())
		}
		if !a.Intersect(b).Equal(b.Intersect(a)) || !a.Union(b).Equal(b.Union(a)) {
			t.Error("Intersect or Union is not commutative")
		}
	})
}

// TestPropertyModel compares a compiled set with the obvious model: a map of
// every (country, network) the configurations list together.
func TestPropertyModel(t *testing.T) {
	t.Parallel()
	forEachSeed(t, func(t *testing.T, r *rand.Rand) {
		configs := randomConfigs(r, 5)
		model := map[policy.Pair]bool{}
		for _, c := range configs {
			for _, country := range c.Countries {
				for _, name := range c.Networks {
					n, _ := policy.ParseNetwork(name)
					model[policy.Pair{Country: country, Network: n}] = true
				}
			}
		}
		s := compile(t, configs...)
		pairs := s.Pairs()
		if len(pairs) != len(model) || s.Len() != len(model) {
			t.Errorf("len(Pairs()) = %d, Len() = %d, want %d", len(pairs), s.Len(), len(model))
		}
		if s.Empty() != (len(model) == 0) {
			t.Errorf("Empty() = %v with %d pairs", s.Empty(), len(model))
		}
		for _, p := range pairs {
			if !model[p] {
				t.Errorf("Pairs() has %v, which no configuration lists", p)
			}
		}
		sorted := slices.IsSortedFunc(pairs, func(x, y policy.Pair) int {
			if x.Country != y.Country {
				if x.Country < y.Country {
					return -1
				}
				return 1
			}
			return int(x.Network) - int(y.Network)
		})
		if !sorted {
			t.Errorf("Pairs() not sorted: %v", pairs)
		}
		for _, country := range validCountries {
			for n := range policy.Network(policy.NetworkCount) {
				p := policy.Pair{Country: country, Network: n}
				if s.Permits(country, n) != model[p] {
					t.Errorf("Permits(%v) = %v, want %v", p, !model[p], model[p])
				}
			}
		}
	})
}
