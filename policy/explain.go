package policy

import (
	"strconv"
)

// Reasons a pair is denied, as reported in Explanation.DeniedBy.
const (
	deniedByContract   = "contract"
	deniedBySubaccount = "subaccount"
)

// Explanation answers why a pair is or is not permitted for a subaccount.
type Explanation struct {
	// Permitted reports whether the subaccount may use the pair.
	Permitted bool
	// Reason is a sentence for people, such as
	// "configuration 1 permits CAN on MASTERCARD".
	Reason string
	// Element is the index of the first subaccount configuration element
	// that grants the pair, or -1 when the pair is denied.
	Element int
	// DeniedBy is "" when the pair is permitted, "contract" when the account
	// contract lacks it, and "subaccount" when the contract has it but no
	// subaccount element grants it.
	DeniedBy string
}

// Explain reports whether the subaccount whose configuration list is configs
// may use country on network under the account's contract, and why.
//
// configs are assumed to be valid (as stored after Compile succeeded). The
// contract is checked first: a pair outside it is denied by the contract even
// if the subaccount lists it, because that is the limit the subaccount cannot
// lift. A nil contract is treated as empty. Element indices, in Element and in
// Reason, count from 0 like the JSON pointers of [FieldError], so that
// "configuration 1" is the element at "/configurations/1".
func Explain(configs []Configuration, contract *Set, country string, network Network) Explanation {
	pair := Pair{Country: country, Network: network}
	if !ValidCountry(country) {
		// No contract can contain such a pair; say what is actually wrong
		// instead of blaming the contract's content.
		return Explanation{
			Element:  -1,
			DeniedBy: deniedByContract,
			Reason:   quote(country) + " is not an ISO 3166-1 alpha-3 country code, so no contract permits it",
		}
	}
	if network >= NetworkCount {
		return Explanation{
			Element:  -1,
			DeniedBy: deniedByContract,
			Reason:   network.String() + " is not a supported card network, so no contract permits it",
		}
	}
	if !contract.Permits(country, network) {
		return Explanation{
			Element:  -1,
			DeniedBy: deniedByContract,
			Reason:   pair.String() + " is outside the account contract",
		}
	}
	for i, cfg := range configs {
		if grants(cfg, country, network) {
			return Explanation{
				Permitted: true,
				Element:   i,
				Reason:    "configuration " + strconv.Itoa(i) + " permits " + pair.String(),
			}
		}
	}
	return Explanation{
		Element:  -1,
		DeniedBy: deniedBySubaccount,
		Reason:   "no configuration of the subaccount permits " + pair.String(),
	}
}

// grants reports whether one element lists both country and network.
func grants(cfg Configuration, country string, network Network) bool {
	hasCountry := false
	for _, c := range cfg.Countries {
		if c == country {
			hasCountry = true
			break
		}
	}
	if !hasCountry {
		return false
	}
	want := network.String()
	for _, n := range cfg.Networks {
		if n == want {
			return true
		}
	}
	return false
}
