package policy

import (
	"math/bits"
)

const (
	// setBits is one bit per (country index, network).
	setBits = countrySpace * NetworkCount
	// setWords is sized so the whole code space fits; a fixed array keeps a
	// Set a plain value with no pointers for the garbage collector to chase
	// and lets Permits index it without any indirection.
	setWords = (setBits + 63) / 64
)

// emptyWords stands in for a nil *Set, so that read-only methods treat nil
// as the empty set. It is never written.
var emptyWords [setWords]uint64

// Set is a compiled set of (country, network) pairs.
//
// It is a bitset over every three-letter code: the pair (c, n) is bit
// ((c0-'A')*676 + (c1-'A')*26 + (c2-'A'))*NetworkCount + n. Because that
// index grows with the code alphabetically and then with the network, walking
// the bits in order yields pairs already sorted, which is why Pairs,
// Difference and Normalize need no sort.
//
// The zero value is the empty set and is ready to use. Read-only methods also
// accept a nil *Set and treat it as empty. A Set only ever holds valid
// countries: [Compile] validates input and [Set.Add] panics otherwise.
type Set struct {
	bits [setWords]uint64
}

// words returns the bit array of s, or an empty one when s is nil.
func (s *Set) words() *[setWords]uint64 {
	if s == nil {
		return &emptyWords
	}
	return &s.bits
}

// Permits reports whether s contains country on network. It returns false for
// anything that is not three uppercase ASCII letters and for a network outside
// the enumeration. It does not allocate: it is on the path of every request.
func (s *Set) Permits(country string, network Network) bool {
	if s == nil || len(country) != 3 || network >= NetworkCount {
		return false
	}
	a, b, c := country[0]-'A', country[1]-'A', country[2]-'A'
	if a >= 26 || b >= 26 || c >= 26 {
		return false
	}
	i := (int(a)*676+int(b)*26+int(c))*NetworkCount + int(network)
	return s.bits[i>>6]&(1<<(i&63)) != 0
}

// Add adds p to s. It assumes p is valid, and panics if p.Country is not a
// code ValidCountry accepts or p.Network is out of range: silently dropping
// the pair would grant less than the caller asked for without anyone
// noticing, and storing it would break Normalize. Use [Compile] for input
// that comes from users.
func (s *Set) Add(p Pair) {
	i, ok := countryIndex(p.Country)
	if !ok || !validCountries[i] || p.Network >= NetworkCount {
		panic("policy: Set.Add of invalid pair " + p.String())
	}
	s.set(i*NetworkCount + int(p.Network))
}

// set sets bit i, which the caller has already validated.
func (s *Set) set(i int) {
	s.bits[i>>6] |= 1 << (i & 63)
}

// Len returns the number of pairs in s.
func (s *Set) Len() int {
	n := 0
	for _, w := range s.words() {
		n += bits.OnesCount64(w)
	}
	return n
}

// Empty reports whether s has no pairs.
func (s *Set) Empty() bool {
	return *s.words() == emptyWords
}

// Equal reports whether s and o hold the same pairs.
func (s *Set) Equal(o *Set) bool {
	return *s.words() == *o.words()
}

// SubsetOf reports whether every pair of s is also in o.
func (s *Set) SubsetOf(o *Set) bool {
	a, b := s.words(), o.words()
	for i := range a {
		if a[i]&^b[i] != 0 {
			return false
		}
	}
	return true
}

// Difference returns the pairs of s that are not in o, sorted by country and
// then network (VISA before MASTERCARD). It returns an empty, non-nil slice
// when s is a subset of o.
func (s *Set) Difference(o *Set) []Pair {
	var d Set
	a, b := s.words(), o.words()
	for i := range a {
		d.bits[i] = a[i] &^ b[i]
	}
	return d.Pairs()
}

// Intersect returns a new set of the pairs in both s and o.
func (s *Set) Intersect(o *Set) *Set {
	r := new(Set)
	a, b := s.words(), o.words()
	for i := range a {
		r.bits[i] = a[i] & b[i]
	}
	return r
}

// Union returns a new set of the pairs in s, o or both.
func (s *Set) Union(o *Set) *Set {
	r := new(Set)
	a, b := s.words(), o.words()
	for i := range a {
		r.bits[i] = a[i] | b[i]
	}
	return r
}

// Pairs returns every pair of s, sorted by country and then network (VISA
// before MASTERCARD). It returns an empty, non-nil slice for the empty set so
// that it encodes as a JSON array.
func (s *Set) Pairs() []Pair {
	ps := make([]Pair, 0, s.Len())
	for wi, w := range s.words() {
		for w != 0 {
			i := wi*64 + bits.TrailingZeros64(w)
			w &= w - 1
			ps = append(ps, Pair{
				Country: countryCode(i / NetworkCount),
				Network: Network(i % NetworkCount),
			})
		}
	}
	return ps
}

// Normalize returns the canonical configuration list for s: first one element
// for the countries permitted on every network, then one for those permitted
// only on VISA, then one for those only on MASTERCARD, omitting empty groups.
// Countries are sorted and networks listed in enumeration order, so the same
// set always gives byte-identical JSON, and Compile(s.Normalize()) equals s.
// The result is never nil.
func (s *Set) Normalize() []Configuration {
	// groups is indexed by the bit pattern of networks a country has (bit n
	// for Network n). Pairs arrive sorted, so each group's countries do too.
	var groups [1 << NetworkCount][]string
	cur, pattern := -1, 0
	flush := func() {
		if pattern != 0 {
			groups[pattern] = append(groups[pattern], countryCode(cur))
		}
	}
	for wi, w := range s.words() {
		for w != 0 {
			i := wi*64 + bits.TrailingZeros64(w)
			w &= w - 1
			if c := i / NetworkCount; c != cur {
				flush()
				cur, pattern = c, 0
			}
			pattern |= 1 << (i % NetworkCount)
		}
	}
	flush()

	// Groups with more networks come first, and among equally wide groups
	// the one with lower networks first: with two networks that is both,
	// then VISA only, then MASTERCARD only.
	out := []Configuration{}
	for width := NetworkCount; width > 0; width-- {
		for p, codes := range groups {
			if len(codes) == 0 || bits.OnesCount(uint(p)) != width {
				continue
			}
			nets := make([]string, 0, width)
			for n := range Network(NetworkCount) {
				if p&(1<<n) != 0 {
					nets = append(nets, n.String())
				}
			}
			out = append(out, Configuration{Countries: codes, Networks: nets})
		}
	}
	return out
}
