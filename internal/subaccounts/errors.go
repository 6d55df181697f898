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
	// CodeCardExists refuses enrolling a PAN the account already holds; CardID names the card.
	CodeCardExists Code = "card-exists"
	// CodeInvalidTransfer refuses a transfer, top-up or credit change; Reason says why.
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
	// Outside lists the pairs a request would permit beyond the contract.
	Outside []policy.Pair
	// Affected lists the subaccounts a contract change would put outside the contract.
	Affected []AffectedSubaccount
	// CardID names the existing card of a card-exists error.
	CardID *uuid.UUID
	// Pair is the (country, network) pair a card refusal decided on, and Permitted what
	// the subaccount permits instead.
	Pair      *policy.Pair
	Permitted []policy.Configuration
	// Reason is a machine-readable reason of a refused transfer or charge.
	Reason string
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
