package httpapi_test

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/cardseg/subaccounts/internal/cards"
	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/idempotency"
	"github.com/cardseg/subaccounts/internal/ledger"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
	"github.com/cardseg/subaccounts/internal/tenancy"
)

// TestSpecLimitsMatchServer: the limits openapi.yaml states are the ones the server
// enforces, so a change to either side that forgets the other fails here.
func TestSpecLimitsMatchServer(t *testing.T) {
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	schema := func(name string) *openapi3.Schema { return doc.Components.Schemas[name].Value }
	prop := func(s *openapi3.Schema, name string) *openapi3.Schema { return s.Properties[name].Value }
	param := func(name string) *openapi3.Schema { return doc.Components.Parameters[name].Value.Schema.Value }
	fl := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	tests := []struct {
		name      string
		spec, got float64
	}{
		{"Name.maxLength", float64(*schema("Name").MaxLength), subaccounts.MaxNameLength},
		{"Metadata.maxProperties", float64(*schema("Metadata").MaxProps), subaccounts.MaxMetadataKeys},
		{"Metadata values maxLength", float64(*schema("Metadata").AdditionalProperties.Schema.Value.MaxLength), subaccounts.MaxMetadataValLen},
		{"Reference.maxLength", float64(*schema("Reference").MaxLength), ledger.MaxReferenceLength},
		{"Amount.maximum", fl(schema("Amount").Max), subaccounts.MaxAmount},
		{"PositiveAmount.maximum", fl(schema("PositiveAmount").Max), subaccounts.MaxAmount},
		{"Price.maximum", fl(schema("Price").Max), subaccounts.MaxAmount},
		{"PatchAccountRequest.creditLimit.maximum", fl(prop(schema("PatchAccountRequest"), "creditLimit").Max), subaccounts.MaxAmount},
		{"AutoTopUp.threshold.maximum", fl(prop(schema("AutoTopUp"), "threshold").Max), subaccounts.MaxAmount},
		{"AutoTopUp.amount.maximum", fl(prop(schema("AutoTopUp"), "amount").Max), subaccounts.MaxAmount},
		{"ContractInput.maxSubaccounts.maximum", fl(prop(schema("ContractInput"), "maxSubaccounts").Max), subaccounts.MaxMaxSubaccounts},
		{"CreateSubaccountRequest.maxCards.maximum", fl(prop(schema("CreateSubaccountRequest"), "maxCards").Max), tenancy.MaxMaxCards},
		{"PatchSubaccountRequest.maxCards.maximum", fl(prop(schema("PatchSubaccountRequest"), "maxCards").Max), tenancy.MaxMaxCards},
		{"CardBatchRequest.cards.maxItems", float64(*prop(schema("CardBatchRequest"), "cards").MaxItems), cards.MaxCardBatch},
		{"TransactionBatchRequest.messages.maxItems", float64(*prop(schema("TransactionBatchRequest"), "messages").MaxItems), routing.MaxMessageBatch},
		{"CardEnrolment.expYear.minimum", fl(prop(schema("CardEnrolment"), "expYear").Min), 2000},
		{"Idempotency-Key.maxLength", float64(*param("Idempotency-Key").MaxLength), idempotency.MaxKeyLen},
		{"sample.maximum", fl(param("complianceSample").Max), compliance.MaxComplianceSample},
	}
	for _, tt := range tests {
		if tt.spec != tt.got {
			t.Errorf("%s: openapi.yaml says %v, the server enforces %v", tt.name, tt.spec, tt.got)
		}
	}
}
