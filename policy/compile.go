package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on one configuration list. They bound the work a single request can
// cause; a real list is far smaller, since Normalize never needs more than
// three elements and there are 249 countries.
const (
	maxConfigurations = 100
	maxCountries      = 300
	maxNetworks       = 10
)

// maxQuoted bounds how much of an invalid value is echoed back in a
// FieldError, so that a huge string does not become a huge error response.
const maxQuoted = 40

// Compile validates configs and returns the set of pairs they permit.
//
// Every element must list at least one country and one network; countries
// must be exact ISO 3166-1 alpha-3 codes ([ValidCountry]) and networks exact
// wire names ([ParseNetwork]). Duplicates are accepted, since they do not
// change the set. An empty list is valid and gives the empty set.
//
// Compile reports every problem it finds, in input order, rather than
// stopping at the first, so that a client can fix a request in one round
// trip. When there are errors the set is nil. The one exception is a list
// over the length limit, which is refused without looking inside it.
func Compile(configs []Configuration) (*Set, []FieldError) {
	if len(configs) > maxConfigurations {
		return nil, []FieldError{{
			Pointer: "",
			Detail:  "at most " + strconv.Itoa(maxConfigurations) + " configurations",
		}}
	}
	s := new(Set)
	var errs []FieldError
	var countryIdx []int // reused between elements
	for i, cfg := range configs {
		prefix := "/" + strconv.Itoa(i)

		countryIdx = countryIdx[:0]
		switch {
		case len(cfg.Countries) == 0:
			errs = append(errs, FieldError{prefix + "/countries", "must list at least one country"})
		case len(cfg.Countries) > maxCountries:
			errs = append(errs, FieldError{prefix + "/countries", "at most " + strconv.Itoa(maxCountries) + " countries"})
		default:
			for j, code := range cfg.Countries {
				if !ValidCountry(code) {
					errs = append(errs, FieldError{prefix + "/countries/" + strconv.Itoa(j), countryDetail(code)})
					continue
				}
				ci, _ := countryIndex(code)
				countryIdx = append(countryIdx, ci)
			}
		}

		var nets [NetworkCount]bool
		switch {
		case len(cfg.Networks) == 0:
			errs = append(errs, FieldError{prefix + "/networks", "must list at least one network"})
		case len(cfg.Networks) > maxNetworks:
			errs = append(errs, FieldError{prefix + "/networks", "at most " + strconv.Itoa(maxNetworks) + " networks"})
		default:
			for j, name := range cfg.Networks {
				n, ok := ParseNetwork(name)
				if !ok {
					errs = append(errs, FieldError{prefix + "/networks/" + strconv.Itoa(j), networkDetail(name)})
					continue
				}
				nets[n] = true
			}
		}

		// Once anything is wrong the set is discarded, so stop filling it.
		if len(errs) > 0 {
			continue
		}
		for _, ci := range countryIdx {
			for n, on := range nets {
				if on {
					s.set(ci*NetworkCount + n)
				}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// MustCompile is like Compile but panics if configs are invalid. It is meant
// for tests and fixed fixtures, not for user input.
func MustCompile(configs []Configuration) *Set {
	s, errs := Compile(configs)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = strconv.Quote(e.Pointer) + ": " + e.Detail
		}
		panic("policy: MustCompile: " + strings.Join(msgs, "; "))
	}
	return s
}

// countryDetail explains why code was refused, suggesting the code the user
// probably meant when there is one.
func countryDetail(code string) string {
	d := quote(code) + " is not an ISO 3166-1 alpha-3 country code"
	if hint, ok := CountryHint(code); ok {
		d += "; did you mean " + strconv.Quote(hint) + "?"
	}
	return d
}

// networkDetail explains why name was refused. Only a difference of case or
// surrounding space earns a hint: anything else is a network we do not
// support, and guessing would mislead.
func networkDetail(name string) string {
	d := quote(name) + " is not a supported card network"
	trimmed := strings.TrimSpace(name)
	for _, want := range networkNames {
		if strings.EqualFold(trimmed, want) {
			return d + "; did you mean " + strconv.Quote(want) + "?"
		}
	}
	quoted := make([]string, len(networkNames))
	for i, want := range networkNames {
		quoted[i] = strconv.Quote(want)
	}
	return d + "; expected one of " + strings.Join(quoted, ", ")
}

// quote renders user input for an error message, cut short at maxQuoted
// bytes (on a rune boundary) so the message stays readable.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
