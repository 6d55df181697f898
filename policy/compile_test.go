package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

func TestNetworkString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    policy.Network
		want string
	}{
		{"visa", policy.Visa, "VISA"},
		{"mastercard", policy.Mastercard, "MASTERCARD"},
		{"out of range", policy.Network(7), "Network(7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.n.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseNetwork(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		input  string
		want   policy.Network
		wantOK bool
	}{
		{"VISA", "VISA", policy.Visa, true},
		{"MASTERCARD", "MASTERCARD", policy.Mastercard, true},
		{"lowercase", "visa", 0, false},
		{"title case", "Mastercard", 0, false},
		{"padded", " VISA", 0, false},
		{"other network", "AMEX", 0, false},
		{"empty", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := policy.ParseNetwork(tt.input)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("ParseNetwork(%q) = %v, %v; want %v, %v", tt.input, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestPairString(t *testing.T) {
	t.Parallel()
	if got := (policy.Pair{Country: "GBR", Network: policy.Visa}).String(); got != "GBR on VISA" {
		t.Errorf("String() = %q, want %q", got, "GBR on VISA")
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	repeat := func(s string, n int) string { return strings.TrimSpace(strings.Repeat(s+" ", n)) }
	tests := []struct {
		name    string
		configs []policy.Configuration
		want    []policy.FieldError
	}{
		{
			name:    "alpha-2 code gets a hint",
			configs: []policy.Configuration{cfg("GB", "VISA")},
			want: []policy.FieldError{{"/0/countries/0",
				`"GB" is not an ISO 3166-1 alpha-3 country code; did you mean "GBR"?`}},
		},
		{
			name:    "lowercase code gets a hint",
			configs: []policy.Configuration{cfg("gbr", "VISA")},
			want: []policy.FieldError{{"/0/countries/0",
				`"gbr" is not an ISO 3166-1 alpha-3 country code; did you mean "GBR"?`}},
		},
		{
			name:    "country name gets a hint",
			configs: []policy.Configuration{cfg("Germany", "VISA")},
			want: []policy.FieldError{{"/0/countries/0",
				`"Germany" is not an ISO 3166-1 alpha-3 country code; did you mean "DEU"?`}},
		},
		{
			name:    "unknown code has no hint",
			configs: []policy.Configuration{cfg("ZZZ", "VISA")},
			want: []policy.FieldError{{"/0/countries/0",
				`"ZZZ" is not an ISO 3166-1 alpha-3 country code`}},
		},
		{
			name:    "user-assigned Kosovo code refused",
			configs: []policy.Configuration{cfg("XKX", "VISA")},
			want: []policy.FieldError{{"/0/countries/0",
				`"XKX" is not an ISO 3166-1 alpha-3 country code`}},
		},
		{
			name:    "long input is cut short in the detail",
			configs: []policy.Configuration{{Countries: []string{strings.Repeat("A", 1000)}, Networks: []string{"VISA"}}},
			want: []policy.FieldError{{"/0/countries/0",
				`"` + strings.Repeat("A", 40) + `"… is not an ISO 3166-1 alpha-3 country code`}},
		},
		{
			name:    "lowercase network gets a hint",
			configs: []policy.Configuration{cfg("GBR", "visa")},
			want: []policy.FieldError{{"/0/networks/0",
				`"visa" is not a supported card network; did you mean "VISA"?`}},
		},
		{
			name:    "title case network gets a hint",
			configs: []policy.Configuration{cfg("GBR", "VISA Mastercard")},
			want: []policy.FieldError{{"/0/networks/1",
				`"Mastercard" is not a supported card network; did you mean "MASTERCARD"?`}},
		},
		{
			name:    "unsupported network lists the choices",
			configs: []policy.Configuration{cfg("GBR", "AMEX")},
			want: []policy.FieldError{{"/0/networks/0",
				`"AMEX" is not a supported card network; expected one of "VISA", "MASTERCARD"`}},
		},
		{
			name:    "nil countries",
			configs: []policy.Configuration{{Networks: []string{"VISA"}}},
			want:    []policy.FieldError{{"/0/countries", "must list at least one country"}},
		},
		{
			name:    "empty networks",
			configs: []policy.Configuration{{Countries: []string{"GBR"}, Networks: []string{}}},
			want:    []policy.FieldError{{"/0/networks", "must list at least one network"}},
		},
		{
			name:    "zero element reports both lists",
			configs: []policy.Configuration{cfg("GBR", "VISA"), {}},
			want: []policy.FieldError{
				{"/1/countries", "must list at least one country"},
				{"/1/networks", "must list at least one network"},
			},
		},
		{
			name: "every error is collected in input order",
			configs: []policy.Configuration{
				cfg("GBR FRA", "VISA"),
				cfg("USA gb CAN Atlantis", "visa MASTERCARD AMEX"),
				cfg("", "MASTERCARD"),
				cfg("DEU", "VISA"),
				cfg("deu", ""),
			},
			want: []policy.FieldError{
				{"/1/countries/1", `"gb" is not an ISO 3166-1 alpha-3 country code; did you mean "GBR"?`},
				{"/1/countries/3", `"Atlantis" is not an ISO 3166-1 alpha-3 country code`},
				{"/1/networks/0", `"visa" is not a supported card network; did you mean "VISA"?`},
				{"/1/networks/2", `"AMEX" is not a supported card network; expected one of "VISA", "MASTERCARD"`},
				{"/2/countries", "must list at least one country"},
				{"/4/countries/0", `"deu" is not an ISO 3166-1 alpha-3 country code; did you mean "DEU"?`},
				{"/4/networks", "must list at least one network"},
			},
		},
		{
			name:    "too many configurations",
			configs: make([]policy.Configuration, 101),
			want:    []policy.FieldError{{"", "at most 100 configurations"}},
		},
		{
			name:    "too many countries in an element",
			configs: []policy.Configuration{cfg("GBR", "VISA"), cfg(repeat("FRA", 301), "VISA")},
			want:    []policy.FieldError{{"/1/countries", "at most 300 countries"}},
		},
		{
			name:    "too many networks in an element",
			configs: []policy.Configuration{cfg("GBR", repeat("VISA", 11))},
			want:    []policy.FieldError{{"/0/networks", "at most 10 networks"}},
		},
		{
			name:    "limits on one list do not hide errors in the other",
			configs: []policy.Configuration{cfg(repeat("FRA", 301), "VISA amex")},
			want: []policy.FieldError{
				{"/0/countries", "at most 300 countries"},
				{"/0/networks/1", `"amex" is not a supported card network; expected one of "VISA", "MASTERCARD"`},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, errs := policy.Compile(tt.configs)
			if s != nil {
				t.Errorf("Compile returned a set with errors: %v", s.Pairs())
			}
			if !slices.Equal(errs, tt.want) {
				t.Errorf("Compile errors:\n got %q\nwant %q", errs, tt.want)
			}
		})
	}
}

func TestCompileValid(t *testing.T) {
	t.Parallel()
	many := make([]policy.Configuration, 100)
	for i := range many {
		many[i] = cfg("GBR", "VISA")
	}
	tests := []struct {
		name    string
		configs []policy.Configuration
		want    []policy.Pair
	}{
		{"nil list is the empty set", nil, []policy.Pair{}},
		{"empty list is the empty set", []policy.Configuration{}, []policy.Pair{}},
		{
			name:    "every country on every network",
			configs: []policy.Configuration{cfg("USA GBR", "MASTERCARD VISA")},
			want: []policy.Pair{
				{"GBR", policy.Visa}, {"GBR", policy.Mastercard},
				{"USA", policy.Visa}, {"USA", policy.Mastercard},
			},
		},
		{
			name:    "duplicates normalise away",
			configs: []policy.Configuration{cfg("FRA FRA", "VISA VISA"), cfg("FRA", "VISA")},
			want:    []policy.Pair{{"FRA", policy.Visa}},
		},
		{
			name:    "elements union",
			configs: []policy.Configuration{cfg("CAN", "MASTERCARD"), cfg("CAN DEU", "VISA")},
			want: []policy.Pair{
				{"CAN", policy.Visa}, {"CAN", policy.Mastercard}, {"DEU", policy.Visa},
			},
		},
		{"100 configurations is the limit", many, []policy.Pair{{"GBR", policy.Visa}}},
		{
			name:    "300 countries and 10 networks are the limits",
			configs: []policy.Configuration{cfg(strings.Repeat("ITA ", 300), strings.Repeat("VISA ", 10))},
			want:    []policy.Pair{{"ITA", policy.Visa}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, errs := policy.Compile(tt.configs)
			if errs != nil {
				t.Fatalf("Compile errors: %v", errs)
			}
			if got := s.Pairs(); !slices.Equal(got, tt.want) {
				t.Errorf("Pairs() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMustCompile(t *testing.T) {
	t.Parallel()
	t.Run("valid", func(t *testing.T) {
		t.Parallel()
		if s := policy.MustCompile([]policy.Configuration{cfg("GBR", "VISA")}); s.Len() != 1 {
			t.Errorf("Len() = %d, want 1", s.Len())
		}
	})
	t.Run("invalid panics naming the field", func(t *testing.T) {
		t.Parallel()
		defer func() {
			r := recover()
			msg, _ := r.(string)
			if !strings.Contains(msg, `"/0/countries/0"`) {
				t.Errorf("panic = %v, want one naming /0/countries/0", r)
			}
		}()
		policy.MustCompile([]policy.Configuration{cfg("GB", "VISA")})
	})
}
