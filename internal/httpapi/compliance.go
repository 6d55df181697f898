package httpapi

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/cardseg/subaccounts/internal/compliance"
	"github.com/cardseg/subaccounts/internal/subaccounts"
)

func handleCompliance(svc *compliance.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		q, ok := complianceQuery(c)
		if !ok {
			return
		}
		r, err := svc.Compliance(c.Request.Context(), mustPrincipal(c), q)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toComplianceView(r))
	}
}

func handleAccountCompliance(svc *compliance.Service) gin.HandlerFunc {
	return func(c *gin.Context) {
		id, ok := pathID(c, "accountId")
		if !ok {
			return
		}
		q, ok := complianceQuery(c)
		if !ok {
			return
		}
		r, err := svc.AccountCompliance(c.Request.Context(), id, q)
		if err != nil {
			fail(c, err)
			return
		}
		writeJSON(c, http.StatusOK, toComplianceView(r))
	}
}

func complianceQuery(c *gin.Context) (compliance.ComplianceQuery, bool) {
	var errs []subaccounts.FieldError
	q := compliance.ComplianceQuery{Window: queryWindow(c, &errs)}
	if s, ok := c.GetQuery("sample"); ok {
		// The range is the domain's to check; here only the form.
		n, err := strconv.Atoi(s)
		if err != nil {
			errs = append(errs, subaccounts.FieldError{Parameter: "sample", Detail: "must be an integer from 0 to " + strconv.Itoa(compliance.MaxComplianceSample)})
		}
		q.Sample = &n
	}
	return q, !queryInvalid(c, errs)
}
