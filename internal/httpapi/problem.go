package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/api"
	"github.com/cardseg/subaccounts/internal/routing"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

// ProblemBase prefixes every problem type. Types are relative URI references (RFC 9457
// §3.1.1) that stay stable across deployments.
const ProblemBase = "/problems/"

// problemKind is one stable problem type with its status and title.
type problemKind struct {
	slug   string
	status int
	title  string
}

// The problem types of the API, one per kind of failure.
var (
	probValidation       = problemKind{"validation", http.StatusBadRequest, "The request is not valid"}
	probPolicy           = problemKind{"policy-violation", http.StatusUnprocessableEntity, "The request would break the account contract"}
	probNotFound         = problemKind{"not-found", http.StatusNotFound, "Not found"}
	probConflict         = problemKind{"conflict", http.StatusConflict, "The request conflicts with the current state"}
	probProvisioning     = problemKind{"provisioning", http.StatusForbidden, "The account cannot provision this"}
	probForbidden        = problemKind{"forbidden", http.StatusForbidden, "This client may not do that"}
	probUnauthorized     = problemKind{"unauthorized", http.StatusUnauthorized, "A valid access token is required"}
	probInsufficient     = problemKind{"insufficient-scope", http.StatusForbidden, "The access token lacks a required scope"}
	probTooLarge         = problemKind{"payload-too-large", http.StatusRequestEntityTooLarge, "The request body is too large"}
	probMediaType        = problemKind{"unsupported-media-type", http.StatusUnsupportedMediaType, "The request body must be application/json"}
	probMethod           = problemKind{"method-not-allowed", http.StatusMethodNotAllowed, "Method not allowed"}
	probNotSupported     = problemKind{"not-supported", http.StatusNotImplemented, "Not supported by this deployment"}
	probInternal         = problemKind{"internal", http.StatusInternalServerError, "Internal server error"}
	probUnavailable      = problemKind{"unavailable", http.StatusServiceUnavailable, "Service unavailable"}
	probSuspended        = problemKind{"subaccount-suspended", http.StatusConflict, "The subaccount is suspended"}
	probCardExists       = problemKind{"card-exists", http.StatusConflict, "The card is already enrolled"}
	probInvalidTransfer  = problemKind{"invalid-transfers", http.StatusUnprocessableEntity, "The transfer cannot be made"}
	probNoCredit         = problemKind{"insufficient-credit", http.StatusPaymentRequired, "The balance and credit do not cover the charge"}
	probQuota            = problemKind{"quota-exceeded", http.StatusConflict, "The subaccount's quota is used up"}
	probPrecondition     = problemKind{"precondition-failed", http.StatusPreconditionFailed, "The resource changed since the version in If-Match"}
	probKeyReused        = problemKind{"idempotency-key-reused", http.StatusUnprocessableEntity, "The idempotency key was used with a different request"}
	probKeyInFlight      = problemKind{"idempotency-key-in-flight", http.StatusConflict, "A request with this idempotency key is still in progress"}
	domainCodeToProblems = map[subaccounts.Code]problemKind{
		subaccounts.CodeValidation:   probValidation,
		subaccounts.CodePolicy:       probPolicy,
		subaccounts.CodeNotFound:     probNotFound,
		subaccounts.CodeConflict:     probConflict,
		subaccounts.CodeProvisioning: probProvisioning,
		subaccounts.CodeForbidden:    probForbidden,
		subaccounts.CodeNotSupported: probNotSupported,
		subaccounts.CodeSuspended:    probSuspended,
		subaccounts.CodeCardExists:   probCardExists,

		subaccounts.CodeInvalidTransfer:    probInvalidTransfer,
		subaccounts.CodeInsufficientCredit: probNoCredit,
		subaccounts.CodeQuotaExceeded:      probQuota,
		subaccounts.CodePreconditionFailed: probPrecondition,
		subaccounts.CodeKeyReused:          probKeyReused,
		subaccounts.CodeKeyInFlight:        probKeyInFlight,
	}
)

// probRateLimited answers a client over its rate limit, or too many failed token
// requests (Part 4 §3).
var probRateLimited = problemKind{"rate-limited", http.StatusTooManyRequests, "Too many requests"}

// Problem types of client mistakes in sending a body (decode).
var probRequestTimeout = problemKind{"request-timeout", http.StatusRequestTimeout, "The request body arrived too slowly"}

func newProblem(c *gin.Context, k problemKind, detail string) api.Problem {
	return api.Problem{
		Type:      ProblemBase + k.slug,
		Title:     k.title,
		Status:    k.status,
		Detail:    detail,
		Instance:  scrubPath(c.Request.URL.Path),
		RequestID: requestID(c),
	}
}

func writeProblem(c *gin.Context, p api.Problem) {
	writeJSONType(c, p.Status, "application/problem+json", p)
	c.Abort()
}

func abortProblem(c *gin.Context, k problemKind, detail string) {
	writeProblem(c, newProblem(c, k, detail))
}

func toFieldErrorDocs(fields []subaccounts.FieldError) []api.FieldError {
	out := make([]api.FieldError, len(fields))
	for i, f := range fields {
		out[i] = api.FieldError{Parameter: f.Parameter, Detail: f.Detail}
		if f.Parameter == "" {
			ptr := f.Pointer
			out[i].Pointer = &ptr
		}
	}
	return out
}

// fail answers with the problem for err. This is the one place errors become statuses:
// domain errors by their code, the store's sentinels by identity, and anything else is a
// 500 that is logged in full and told to the client as nothing more than its request id.
func fail(c *gin.Context, err error) {
	writeProblem(c, problemFor(c, err))
}

// addDetail writes a domain error's typed detail as the problem's extension members.
func addDetail(p *api.Problem, d subaccounts.ErrorDetail) {
	switch d := d.(type) {
	case *subaccounts.OutsideContract:
		for _, pair := range d.Pairs {
			p.OutsideContract = append(p.OutsideContract, api.FromPair(pair))
		}
	case *subaccounts.ContractNarrowing:
		for _, a := range d.Affected {
			p.AffectedSubaccounts = append(p.AffectedSubaccounts, toAffectedView(a))
		}
	case *subaccounts.CardExists:
		id := d.CardID
		p.CardID = api.IDPtr(&id)
	case *subaccounts.CardRefused:
		pv := api.FromPair(d.Pair)
		p.Pair = &pv
		// Present even when empty: "permits nothing" is an answer.
		permitted := api.FromConfigurations(d.Permitted)
		p.Permitted = &permitted
	case *subaccounts.Refusal:
		p.Reason = d.Reason
	}
}

// problemFor builds the problem document for err without writing it; batch routes put one
// into each failed item's outcome.
func problemFor(c *gin.Context, err error) api.Problem {
	var de *subaccounts.Error
	switch {
	case errors.As(err, &de):
		k, ok := domainCodeToProblems[de.Code]
		if !ok {
			k = probInternal
		}
		p := newProblem(c, k, de.Message)
		p.Errors = toFieldErrorDocs(de.Fields)
		addDetail(&p, de.Detail)
		return p
	case errors.Is(err, subaccounts.ErrNotFound):
		return newProblem(c, probNotFound, "The resource does not exist.")
	case errors.Is(err, subaccounts.ErrConflict):
		return newProblem(c, probConflict, "The resource already exists.")
	case isUnavailable(err):
		return unavailableProblem(c, err)
	default:
		logger(c).LogAttrs(c.Request.Context(), slog.LevelError, "request failed", slog.String("error", err.Error()))
		return newProblem(c, probInternal, "An internal error occurred; quote the request id when reporting it.")
	}
}

// invalidParam answers 400 naming a query or path parameter.
func invalidParam(c *gin.Context, name, format string, args ...any) {
	fail(c, subaccounts.Invalid(subaccounts.FieldError{Parameter: name, Detail: fmt.Sprintf(format, args...)}))
}

// retryAfterUnavailable is the Retry-After of a 503, in seconds: long enough for a
// restarting database or a failover to make progress, short enough that a client
// retrying on it does not wait on a recovered service.
const retryAfterUnavailable = "2"

// keyUnavailableLogged marks a request whose unavailability was already logged, so a
// batch with many failed items still logs one line.
const keyUnavailableLogged = "unavailableLogged"

// isUnavailable reports whether err means a dependency could not answer in time rather
// than that the request was wrong: the store's and the issuer's ErrUnavailable, the
// request's deadline, and a service shutting down (which cancels what still runs).
func isUnavailable(err error) bool {
	return errors.Is(err, subaccounts.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled) || errors.Is(err, routing.ErrClosed)
}

// unavailableProblem is the 503 for err, with Retry-After, logged once per request as a
// warning: the service is working as designed, its dependency is not.
func unavailableProblem(c *gin.Context, err error) api.Problem {
	c.Header("Retry-After", retryAfterUnavailable)
	if _, logged := c.Get(keyUnavailableLogged); !logged {
		c.Set(keyUnavailableLogged, true)
		logger(c).LogAttrs(c.Request.Context(), slog.LevelWarn, "dependency unavailable", slog.String("error", err.Error()))
	}
	return newProblem(c, probUnavailable, "A dependency of the service is unavailable; retry after the time in Retry-After.")
}
