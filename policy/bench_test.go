package policy_test

import (
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

// realisticContract resembles a European issuer's contract: the EEA and a few
// large markets on both networks, plus some VISA-only countries.
func realisticContract(b *testing.B) []policy.Configuration {
	b.Helper()
	return []policy.Configuration{
		cfg("AUT BEL BGR HRV CYP CZE DNK EST FIN FRA DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD POL PRT ROU SVK SVN ESP SWE ISL LIE NOR GBR CHE USA CAN", "VISA MASTERCARD"),
		cfg("AUS NZL JPN SGP HKG ARE", "VISA"),
		cfg("MEX BRA", "MASTERCARD"),
	}
}

func BenchmarkPermits(b *testing.B) {
	s := compile(b, realisticContract(b)...)
	lookups := []struct {
		name    string
		country string
		network policy.Network
	}{
		{"permitted", "DEU", policy.Mastercard},
		{"denied country", "RUS", policy.Visa},
		{"denied network", "JPN", policy.Mastercard},
		{"malformed", "deu", policy.Visa},
	}
	for _, l := range lookups {
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Permits(l.country, l.network)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	configs := realisticContract(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, errs := policy.Compile(configs); errs != nil {
			b.Fatal(errs)
		}
	}
}

func BenchmarkNormalize(b *testing.B) {
	s := compile(b, realisticContract(b)...)
	b.ReportAllocs()
	for b.Loop() {
		s.Normalize()
	}
}
