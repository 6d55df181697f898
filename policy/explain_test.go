package policy_test

import (
	"testing"

	"github.com/cardseg/subaccounts/policy"
)

func TestExplain(t *testing.T) {
	t.Parallel()
	contract := compile(t, cfg("CAN GBR USA", "VISA MASTERCARD"))
	configs := []policy.Configuration{
		cfg("USA", "VISA"),
		cfg("CAN USA", "MASTERCARD"),
		cfg("CAN", "MASTERCARD VISA"),
		cfg("FRA", "VISA"), // Outside the contract: stored before the contract shrank.
	}
	tests := []struct {
		name     string
		configs  []policy.Configuration
		contract *policy.Set
		country  string
		network  policy.Network
		want     policy.Explanation
	}{
		{
			name: "first granting element is reported", configs: configs, contract: contract,
			country: "CAN", network: policy.Mastercard,
			want: policy.Explanation{Permitted: true, Element: 1, Reason: "configuration 1 permits CAN on MASTERCARD"},
		},
		{
			name: "later element grants", configs: configs, contract: contract,
			country: "CAN", network: policy.Visa,
			want: policy.Explanation{Permitted: true, Element: 2, Reason: "configuration 2 permits CAN on VISA"},
		},
		{
			name: "element zero grants", configs: configs, contract: contract,
			country: "USA", network: policy.Visa,
			want: policy.Explanation{Permitted: true, Element: 0, Reason: "configuration 0 permits USA on VISA"},
		},
		{
			name: "contract lacks the pair", configs: configs, contract: contract,
			country: "DEU", network: policy.Visa,
			want: policy.Explanation{Element: -1, DeniedBy: "contract", Reason: "DEU on VISA is outside the account contract"},
		},
		{
			name: "contract wins over a subaccount listing", configs: configs, contract: contract,
			country: "FRA", network: policy.Visa,
			want: policy.Explanation{Element: -1, DeniedBy: "contract", Reason: "FRA on VISA is outside the account contract"},
		},
		{
			name: "no subaccount element grants it", configs: configs, contract: contract,
			country: "GBR", network: policy.Visa,
			want: policy.Explanation{Element: -1, DeniedBy: "subaccount", Reason: "no configuration of the subaccount permits GBR on VISA"},
		},
		{
			name: "subaccount with no configurations", configs: nil, contract: contract,
			country: "GBR", network: policy.Visa,
			want: policy.Explanation{Element: -1, DeniedBy: "subaccount", Reason: "no configuration of the subaccount permits GBR on VISA"},
		},
		{
			name: "nil contract denies everything", configs: configs, contract: nil,
			country: "USA", network: policy.Visa,
			want: policy.Explanation{Element: -1, DeniedBy: "contract", Reason: "USA on VISA is outside the account contract"},
		},
		{
			name: "invalid country", configs: configs, contract: contract,
			country: "usa", network: policy.Visa,
			want: policy.Explanation{Element: -1, DeniedBy: "contract", Reason: `"usa" is not an ISO 3166-1 alpha-3 country code, so no contract permits it`},
		},
		{
			name: "invalid network", configs: configs, contract: contract,
			country: "USA", network: policy.Network(9),
			want: policy.Explanation{Element: -1, DeniedBy: "contract", Reason: "Network(9) is not a supported card network, so no contract permits it"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := policy.Explain(tt.configs, tt.contract, tt.country, tt.network); got != tt.want {
				t.Errorf("Explain() = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestExplainAgreesWithSets checks Explain against the set algebra it must
// agree with: permitted exactly when both the contract and the compiled
// subaccount contain the pair.
func TestExplainAgreesWithSets(t *testing.T) {
	t.Parallel()
	contract := compile(t, cfg("CAN GBR USA DEU", "VISA"), cfg("GBR FRA", "MASTERCARD"))
	configs := []policy.Configuration{cfg("USA FRA", "VISA MASTERCARD"), cfg("GBR", "MASTERCARD")}
	sub := compile(t, configs...)
	for _, country := range validCountries {
		for n := range policy.Network(policy.NetworkCount) {
			got := policy.Explain(configs, contract, country, n)
			want := contract.Permits(country, n) && sub.Permits(country, n)
			if got.Permitted != want {
				t.Errorf("Explain(%s, %v).Permitted = %v, want %v", country, n, got.Permitted, want)
			}
		}
	}
}
