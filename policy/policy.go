// Package policy is the entitlement engine of the subaccount service.
//
// An account's contract and each subaccount's configurations are both lists
// of [Configuration] elements; an element permits every listed country on
// every listed card network. [Compile] validates such a list and turns it into
// a [Set] of (country, network) pairs, so that the questions the service asks
// on every request ("is this pair permitted?", "does this subaccount stay
// within the contract?") are answered by bit arithmetic rather than by walking
// lists of strings.
//
// The package depends on nothing else in the module so that the rules can be
// tested, fuzzed and benchmarked on their own.
package policy

import (
	"strconv"
)

// Network is a card network.
type Network uint8

// The card networks a configuration may name. Their order is the canonical
// order used by [Set.Pairs] and [Set.Normalize].
const (
	Visa Network = iota
	Mastercard
)

// NetworkCount is the number of card networks; valid values of [Network] are
// below it.
const NetworkCount = 2

// networkNames holds the wire names, indexed by Network.
var networkNames = [NetworkCount]string{
	Visa:       "VISA",
	Mastercard: "MASTERCARD",
}

// String returns the wire name of n ("VISA", "MASTERCARD"), or "Network(n)"
// for a value outside the enumeration so that a bug never prints as a real
// network.
func (n Network) String() string {
	if n < NetworkCount {
		return networkNames[n]
	}
	return "Network(" + strconv.Itoa(int(n)) + ")"
}

// ParseNetwork returns the network with the wire name s. Matching is exact
// and case-sensitive, because the stored and wire forms must stay canonical;
// only "VISA" and "MASTERCARD" are accepted.
func ParseNetwork(s string) (Network, bool) {
	for n, name := range networkNames {
		if s == name {
			return Network(n), true
		}
	}
	return 0, false
}

// Configuration is the wire and storage form of one configuration element:
// it permits every listed country on every listed network.
type Configuration struct {
	Countries []string `json:"countries"`
	Networks  []string `json:"networks"`
}

// Pair is one (country, network) entitlement.
type Pair struct {
	Country string // ISO 3166-1 alpha-3, e.g. "GBR".
	Network Network
}

// String returns the pair as it reads in messages, e.g. "GBR on VISA".
func (p Pair) String() string {
	return p.Country + " on " + p.Network.String()
}

// FieldError names one invalid input. Pointer is a JSON pointer (RFC 6901)
// relative to the configurations array, such as "/0/countries/1" or
// "/2/networks"; the empty pointer means the array itself. Callers prefix it
// with the location of the array in their own document (e.g.
// "/configurations").
type FieldError struct {
	Pointer string
	Detail  string
}
