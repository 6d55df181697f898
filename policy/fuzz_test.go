package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

// FuzzCompile feeds arbitrary JSON through Compile. Whatever the input, it
// must not panic; and whatever it accepts must survive normalisation and
// permit exactly the pairs it lists.
func FuzzCompile(f *testing.F) {
	for _, seed := range []string{
		`[]`,
		`null`,
		`[{"countries":["GBR","USA"],"networks":["VISA","MASTERCARD"]}]`,
		`[{"countries":["FRA","FRA"],"networks":["VISA"]},{"countries":["ZWE"],"networks":["MASTERCARD"]}]`,
		`[{"countries":["GB"],"networks":["visa"]}]`,
		`[{"countries":["gbr","Germany","XKX","ZZZ",""],"networks":["AMEX"," VISA"]}]`,
		`[{"countries":[],"networks":[]},{}, null]`,
		`[{"countries":["\u00c4BC","G\u0000B"],"networks":["MASTERCARD"]}]`,
		`[{"countries":null,"networks":["VISA","VISA","VISA","VISA","VISA","VISA","VISA","VISA","VISA","VISA","VISA"]}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var configs []policy.Configuration
		if err := json.Unmarshal(data, &configs); err != nil {
			t.Skip()
		}
		s, errs := policy.Compile(configs)
		if (s == nil) == (errs == nil) {
			t.Fatalf("Compile returned set %v and errors %v; want exactly one", s != nil, errs)
		}
		if errs != nil {
			for _, e := range errs {
				if e.Detail == "" {
					t.Errorf("error at %q has no detail", e.Pointer)
				}
			}
			return
		}
		back, errs := policy.Compile(s.Normalize())
		if errs != nil {
			t.Fatalf("Compile(Normalize()) errors: %v", errs)
		}
		if !back.Equal(s) {
			t.Fatalf("Compile(Normalize(s)) != s:\n s=%v\n got=%v", s.Pairs(), back.Pairs())
		}
		pairs := s.Pairs()
		if len(pairs) != s.Len() {
			t.Errorf("len(Pairs()) = %d, Len() = %d", len(pairs), s.Len())
		}
		for _, p := range pairs {
			if !s.Permits(p.Country, p.Network) {
				t.Errorf("Pairs() has %v but Permits is false", p)
			}
		}
	})
}
