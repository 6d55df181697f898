package httpapi_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestRoutesMatchSpec fails when gin serves a route openapi.yaml lacks, or the spec
// lists one gin does not serve.
func TestRoutesMatchSpec(t *testing.T) {
	e := newEnv(t, "sqlite")
	doc, _, err := loadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var ginRoutes []string
	for _, r := range e.handler.(*gin.Engine).Routes() {
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		ginRoutes = append(ginRoutes, r.Method+" "+path)
	}
	var specRoutes []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			specRoutes = append(specRoutes, method+" "+path)
		}
	}
	slices.Sort(ginRoutes)
	slices.Sort(specRoutes)
	for _, r := range ginRoutes {
		if !slices.Contains(specRoutes, r) {
			t.Errorf("gin serves %s but openapi.yaml does not list it", r)
		}
	}
	for _, r := range specRoutes {
		if !slices.Contains(ginRoutes, r) {
			t.Errorf("openapi.yaml lists %s but gin does not serve it", r)
		}
	}
	if len(ginRoutes) < 15 {
		t.Errorf("only %d routes: %v", len(ginRoutes), ginRoutes)
	}
}
