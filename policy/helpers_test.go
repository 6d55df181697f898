package policy_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

// cfg builds one configuration element from space-separated countries and
// networks, which keeps table rows short.
func cfg(countries, networks string) policy.Configuration {
	return policy.Configuration{
		Countries: strings.Fields(countries),
		Networks:  strings.Fields(networks),
	}
}

// compile compiles configs that the test knows to be valid.
func compile(t testing.TB, configs ...policy.Configuration) *policy.Set {
	t.Helper()
	s, errs := policy.Compile(configs)
	if errs != nil {
		t.Fatalf("Compile(%v) errors: %v", configs, errs)
	}
	return s
}

// allValidCountries lists every code ValidCountry accepts, in order, by
// asking it about the whole three-letter space.
func allValidCountries() []string {
	var codes []string
	for a := byte('A'); a <= 'Z'; a++ {
		for b := byte('A'); b <= 'Z'; b++ {
			for c := byte('A'); c <= 'Z'; c++ {
				if code := string([]byte{a, b, c}); policy.ValidCountry(code) {
					codes = append(codes, code)
				}
			}
		}
	}
	return codes
}

// validCountries is computed once; tests only read it.
var validCountries = allValidCountries()

// randomConfigs returns a valid configuration list of up to maxElems
// elements. Countries are drawn from a small pool now and then so that
// elements overlap and duplicates occur, as they do in real input.
func randomConfigs(r *rand.Rand, maxElems int) []policy.Configuration {
	pool := validCountries
	if r.IntN(2) == 0 {
		pool = pool[:10]
	}
	nets := []string{"VISA", "MASTERCARD"}
	configs := make([]policy.Configuration, r.IntN(maxElems+1))
	for i := range configs {
		cs := make([]string, 1+r.IntN(20))
		for j := range cs {
			cs[j] = pool[r.IntN(len(pool))]
		}
		ns := make([]string, 1+r.IntN(3))
		for j := range ns {
			ns[j] = nets[r.IntN(len(nets))]
		}
		configs[i] = policy.Configuration{Countries: cs, Networks: ns}
	}
	return configs
}
