package httpapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

// TestQueryParameterRule: on every GET and DELETE route gin serves whose operation in
// openapi.yaml takes query parameters, each parameter given twice or empty is 400 naming
// it, and a boolean is only true or false. The routes come from the router and the
// parameters from the spec, so a new route or parameter is covered without editing this.
func TestQueryParameterRule(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	acct := e.newAccount("Acme", usaCanContract(10))
	tok := e.tenantToken(acct)
	sub := e.newSubaccount(tok, "Shop", nil)
	var checked int
	for _, r := range e.handler.(*gin.Engine).Routes() {
		if (r.Method != "GET" && r.Method != "DELETE") || !strings.HasPrefix(r.Path, "/v1/") {
			continue
		}
		specPath, path := r.Path, r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				specPath = strings.Replace(specPath, seg, "{"+seg[1:]+"}", 1)
				path = strings.Replace(path, seg, uuid.NewString(), 1)
			}
		}
		op := doc.Paths.Find(specPath).GetOperation(r.Method)
		if op == nil {
			t.Errorf("%s %s: not in openapi.yaml", r.Method, specPath)
			continue
		}
		for _, ref := range op.Parameters {
			p := ref.Value
			if p.In != "query" {
				continue
			}
			value := sampleValue(p, sub)
			cases := []struct {
				name, query, detail string
			}{
				{"repeated", p.Name + "=" + value + "&" + p.Name + "=" + value, "must be given at most once"},
				{"empty", p.Name + "=", "must not be empty; omit the parameter instead"},
			}
			if p.Schema.Value.Type.Is("boolean") {
				cases = append(cases,
					struct{ name, query, detail string }{"one", p.Name + "=1", "must be true or false"},
					struct{ name, query, detail string }{"upper case", p.Name + "=TRUE", "must be true or false"})
			}
			for _, c := range cases {
				t.Run(r.Method+" "+r.Path+" "+p.Name+" "+c.name, func(t *testing.T) {
					e := e.at(t)
					prob := e.expect(e.do(r.Method, path+"?"+c.query, tok, nil), 400).problem(t)
					if len(prob.Errors) != 1 || prob.Errors[0].Parameter != p.Name || prob.Errors[0].Detail != c.detail {
						t.Errorf("?%s: errors %+v, want parameter %s: %s", c.query, prob.Errors, p.Name, c.detail)
					}
				})
				checked++
			}
		}
	}
	if checked < 40 {
		t.Errorf("only %d parameter cases checked", checked)
	}
	// Nothing was deleted by any of those requests.
	e.expect(e.do("GET", "/v1/subaccounts/"+sub, tok, nil), 200)
}

// sampleValue is a value the spec accepts for p: one a lenient parser would act on, so
// that a repeated or boolean parameter that slipped through would show.
func sampleValue(p *openapi3.Parameter, sub string) string {
	s := p.Schema.Value
	switch {
	case len(s.Enum) > 0:
		return s.Enum[0].(string)
	case s.Type.Is("boolean"):
		return "true"
	case s.Type.Is("integer"):
		return "1"
	case s.Format == "uuid" || slices.Contains([]string{"subaccountId", "cardId"}, p.Name):
		return sub
	}
	return "x"
}
