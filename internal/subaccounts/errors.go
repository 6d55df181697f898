package subaccounts

import (
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/cardseg/subaccounts/policy"
)

// Sentinel errors that storage translates driver errors into, so nothing above the store
// ever sees gorm or a database driver.
var (
	// ErrNotFound means the resource does not exist for this account. Another tenant's
	// resource is reported the same way, so its existence is never revealed.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("conflict")
	// ErrUnavailable means a dependency (the database, an external issuer) could not
	// answer in time: the connection was lost or refused, the server is starting up or
	// shutting down, the pool had no connection free before the deadline, or the request's
	// deadline passed while waiting. The request may be sent again later unchanged.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// Code classifies an *Error; the HTTP layer maps each code to one problem type and status.
type Code string

// The error codes of the service.
const (
	CodeValidation   Code = "validation"
	CodePolicy       Code = "policy-violation"
	CodeNotFound     Code = "not-found"
	CodeConflict     Code = "conflict"
	CodeProvisioning Code = "provisioning"
	CodeForbidden    Code = "forbidden"
	CodeNotSupported Code = "not-supported"
	// CodeSuspended refuses a write into a suspended subaccount.
	CodeSuspended Code = "subaccount-suspended"
	// CodeCardExists refuses enrolling a PAN the account already holds; a *CardExists
	// detail names the card.
	CodeCardExists Code = "card-exists"
	// CodeInvalidTransfer refuses a transfer, top-up or credit change; a *Refusal says why.
	CodeInvalidTransfer Code = "invalid-transfers"
	// CodeInsufficientCredit refuses a charged operation the balance cannot pay for.
	CodeInsufficientCredit Code = "insufficient-credit"
	// CodeQuotaExceeded refuses an enrolment beyond a subaccount's maxCards.
	CodeQuotaExceeded Code = "quota-exceeded"
	// CodePreconditionFailed refuses a write whose If-Match no longer matches.
	CodePreconditionFailed Code = "precondition-failed"
)

// FieldError names one failing input: a body member by JSON pointer, or a query or path
// parameter by name.
type FieldError struct {
	Pointer   string
	Parameter string
	Detail    string
}

// Error is the one error type the domain returns for expected failures.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Detail, when set, is what the failure decided on, for the client to act on: one of
	// the ErrorDetail types below. The HTTP layer turns each into its problem extensions.
	Detail ErrorDetail
}

// ErrorDetail is the typed detail of an *Error; only the types of this package implement
// it, so the HTTP layer's switch over them is complete.
type ErrorDetail interface{ errorDetail() }

// OutsideContract details a request that would permit pairs beyond the account's
// contract.
type OutsideContract struct{ Pairs []policy.Pair }

// ContractNarrowing details a contract change refused because it would leave subaccounts
// outside it.
type ContractNarrowing struct{ Affected []AffectedSubaccount }

// CardExists details a refused enrolment of a card the account already holds.
type CardExists struct{ CardID uuid.UUID }

// CardRefused details a card the policy engine refused: the pair it decided on and what
// the subaccount permits instead ("permits nothing" is an answer too).
type CardRefused struct {
	Pair      policy.Pair
	Permitted []policy.Configuration
}

// Refusal details a refused transfer, charge or change by a machine-readable reason
// (e.g. "insufficient-credit", "balance-not-zero").
type Refusal struct{ Reason string }

func (*OutsideContract) errorDetail()   {}
func (*ContractNarrowing) errorDetail() {}
func (*CardExists) errorDetail()        {}
func (*CardRefused) errorDetail()       {}
func (*Refusal) errorDetail()           {}

// Reason returns the machine-readable reason of a refusal, or "".
func (e *Error) Reason() string {
	if r, ok := e.Detail.(*Refusal); ok {
		return r.Reason
	}
	return ""
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (%s: %s)", e.Code, e.Message, e.Fields[0].Pointer, e.Fields[0].Detail)
}

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns a validation error naming the failing fields.
func Invalid(fields ...FieldError) *Error {
	return &Error{Code: CodeValidation, Message: "The request is not valid.", Fields: fields}
}

// NotFound returns the not-found error for a resource kind, without echoing the id.
func NotFound(kind string) error {
	return fmt.Errorf("%s: %w", kind, ErrNotFound)
}

// Error codes of idempotent writes.
const (
	// CodeKeyReused refuses a key already used with a different request.
	CodeKeyReused Code = "idempotency-key-reused"
	// CodeKeyInFlight refuses a request whose key an unfinished request of this
	// process holds.
	CodeKeyInFlight Code = "idempotency-key-in-flight"
)
