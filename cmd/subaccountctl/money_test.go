package main

import (
	"errors"
	"math"
	"testing"
)

// TestFormatMinor checks the decimal form of minor units, which is computed with
// integer arithmetic only: the values near 10^15 and the int64 limits would be rounded
// by a float64.
func TestFormatMinor(t *testing.T) {
	tests := []struct {
		name   string
		amount int64
		exp    int
		want   string
	}{
		{"zero", 0, 2, "0.00"},
		{"one cent", 1, 2, "0.01"},
		{"ten cents", 10, 2, "0.10"},
		{"one unit", 100, 2, "1.00"},
		{"minus one cent", -1, 2, "-0.01"},
		{"minus one unit", -100, 2, "-1.00"},
		{"minus ten and a half", -1050, 2, "-10.50"},
		{"ordinary", 123456, 2, "1234.56"},
		{"the API's limit", 1_000_000_000_000_000, 2, "10000000000000.00"},
		{"just under the limit", 999_999_999_999_999, 2, "9999999999999.99"},
		{"minus the limit", -1_000_000_000_000_000, 2, "-10000000000000.00"},
		{"2^53+1, which float64 cannot hold", 9_007_199_254_740_993, 2, "90071992547409.93"},
		{"max int64", math.MaxInt64, 2, "92233720368547758.07"},
		{"min int64", math.MinInt64, 2, "-92233720368547758.08"},
		{"no minor unit: zero", 0, 0, "0"},
		{"no minor unit: one", 1, 0, "1"},
		{"no minor unit: negative", -1, 0, "-1"},
		{"no minor unit: the limit", 1_000_000_000_000_000, 0, "1000000000000000"},
		{"thousandths", 1, 3, "0.001"},
		{"thousandths, negative", -12345, 3, "-12.345"},
		{"ten-thousandths", 100, 4, "0.0100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatMinor(tt.amount, tt.exp); got != tt.want {
				t.Errorf("formatMinor(%d, %d) = %q, want %q", tt.amount, tt.exp, got, tt.want)
			}
		})
	}
}

// TestFormatMoney checks the currency table and its default of 2 decimals.
func TestFormatMoney(t *testing.T) {
	tests := []struct {
		amount   int64
		currency string
		want     string
	}{
		{1250, "EUR", "12.50 EUR"},
		{1250, "USD", "12.50 USD"},
		{1250, "JPY", "1250 JPY"},
		{-5, "KRW", "-5 KRW"},
		{1250, "KWD", "1.250 KWD"},
		{1250, "XYZ", "12.50 XYZ"},
		{-1, "GBP", "-0.01 GBP"},
		{1250, "", "1250 minor units"},
	}
	for _, tt := range tests {
		if got := formatMoney(tt.amount, tt.currency); got != tt.want {
			t.Errorf("formatMoney(%d, %q) = %q, want %q", tt.amount, tt.currency, got, tt.want)
		}
	}
	if got := formatMoneyFull(-1, "EUR"); got != "-0.01 EUR (-1 minor units)" {
		t.Errorf("formatMoneyFull = %q", got)
	}
}

// TestParseAmount accepts only positive integers of minor units.
func TestParseAmount(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1", 1, true},
		{"1250", 1250, true},
		{" 42 ", 42, true},
		{"1000000000000000", 1_000_000_000_000_000, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"0", 0, false},
		{"-1", 0, false},
		{"+5", 0, false},
		{"12.50", 0, false},
		{"12,50", 0, false},
		{"1e3", 0, false},
		{"0x10", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := parseAmount("amount", tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if !tt.ok {
			var ue usageErr
			if !errors.As(err, &ue) {
				t.Errorf("parseAmount(%q) = %d, %v; want a usage error", tt.in, got, err)
			}
		}
	}
}

// TestParseAutoTopUp reads THRESHOLD:AMOUNT with a possibly negative threshold, or off.
func TestParseAutoTopUp(t *testing.T) {
	tests := []struct {
		in   string
		want autoTopUp
		ok   bool
	}{
		{"1000:5000", autoTopUp{Threshold: 1000, Amount: 5000}, true},
		{"-500:2500", autoTopUp{Threshold: -500, Amount: 2500}, true},
		{"0:0", autoTopUp{}, true},
		{"off", autoTopUp{}, true},
		{"OFF", autoTopUp{}, true},
		{"1000", autoTopUp{}, false},
		{"10.00:50.00", autoTopUp{}, false},
		{"1000:-5", autoTopUp{}, false},
		{":5", autoTopUp{}, false},
		{"5:", autoTopUp{}, false},
		{"1:2:3", autoTopUp{}, false},
		{"99999999999999999999:1", autoTopUp{}, false},
	}
	for _, tt := range tests {
		got, err := parseAutoTopUp(tt.in)
		if tt.ok != (err == nil) || got != tt.want {
			t.Errorf("parseAutoTopUp(%q) = %+v, %v", tt.in, got, err)
		}
	}
}
