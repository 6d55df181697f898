package policy_test

import (
	"fmt"

	"github.com/cardseg/subaccounts/policy"
)

func ExampleCompile() {
	contract, errs := policy.Compile([]policy.Configuration{
		{Countries: []string{"GBR", "USA"}, Networks: []string{"VISA", "MASTERCARD"}},
	})
	if errs != nil {
		panic(errs)
	}
	fmt.Println(contract.Permits("GBR", policy.Visa))
	fmt.Println(contract.Permits("FRA", policy.Visa))

	_, errs = policy.Compile([]policy.Configuration{
		{Countries: []string{"GB"}, Networks: []string{"visa"}},
	})
	for _, e := range errs {
		fmt.Printf("/configurations%s: %s\n", e.Pointer, e.Detail)
	}
	// Output:
	// true
	// false
	// /configurations/0/countries/0: "GB" is not an ISO 3166-1 alpha-3 country code; did you mean "GBR"?
	// /configurations/0/networks/0: "visa" is not a supported card network; did you mean "VISA"?
}

func ExampleSet_Normalize() {
	s := policy.MustCompile([]policy.Configuration{
		{Countries: []string{"USA", "CAN"}, Networks: []string{"VISA"}},
		{Countries: []string{"CAN", "FRA"}, Networks: []string{"MASTERCARD"}},
	})
	for _, c := range s.Normalize() {
		fmt.Println(c.Countries, c.Networks)
	}
	// Output:
	// [CAN] [VISA MASTERCARD]
	// [USA] [VISA]
	// [FRA] [MASTERCARD]
}

func ExampleExplain() {
	contract := policy.MustCompile([]policy.Configuration{
		{Countries: []string{"CAN", "GBR"}, Networks: []string{"VISA", "MASTERCARD"}},
	})
	configs := []policy.Configuration{
		{Countries: []string{"GBR"}, Networks: []string{"MASTERCARD"}},
		{Countries: []string{"CAN"}, Networks: []string{"MASTERCARD"}},
	}
	fmt.Println(policy.Explain(configs, contract, "CAN", policy.Mastercard).Reason)
	fmt.Println(policy.Explain(configs, contract, "GBR", policy.Visa).Reason)
	fmt.Println(policy.Explain(configs, contract, "USA", policy.Visa).Reason)
	// Output:
	// configuration 1 permits CAN on MASTERCARD
	// no configuration of the subaccount permits GBR on VISA
	// USA on VISA is outside the account contract
}
