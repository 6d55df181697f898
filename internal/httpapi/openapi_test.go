package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	apispec "github.com/cardseg/subaccounts"
	"github.com/cardseg/subaccounts/internal/httpapi"
)

// TestOpenAPIServed: GET /openapi.yaml needs no token and answers the embedded spec byte
// for byte, as application/yaml, with the headers every route carries; the bytes parse
// and validate as OpenAPI.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	r := e.expect(e.do("GET", "/openapi.yaml", "", nil), http.StatusOK)
	if !bytes.Equal(r.Body, []byte(apispec.OpenAPI)) {
		t.Errorf("body is %d bytes and differs from the embedded %d bytes", len(r.Body), len(apispec.OpenAPI))
	}
	for name, want := range map[string]string{
		"Content-Type":           "application/yaml",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "public, max-age=300",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	if etag := r.Header.Get("ETag"); len(etag) < 3 || etag[0] != '"' || etag[len(etag)-1] != '"' {
		t.Errorf("ETag %q, want a strong entity tag", etag)
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.Body)
	if err != nil {
		t.Fatalf("served document does not parse as OpenAPI: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("served document is not valid OpenAPI: %v", err)
	}
	if doc.Paths.Find("/openapi.yaml") == nil {
		t.Error("the served document does not describe GET /openapi.yaml")
	}
}

// TestOpenAPIRevalidation: If-None-Match naming the current ETag (weakly or not, or "*")
// is 304 without a body but with the same validators; any other tag gets the document.
func TestOpenAPIRevalidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	etag := e.expect(e.do("GET", "/openapi.yaml", "", nil), http.StatusOK).Header.Get("ETag")
	tests := []struct {
		name, ifNoneMatch string
		status            int
	}{
		{"current tag", etag, http.StatusNotModified},
		{"weak form of the current tag", "W/" + etag, http.StatusNotModified},
		{"current tag in a list", `"stale", ` + etag, http.StatusNotModified},
		{"any", "*", http.StatusNotModified},
		{"another tag", `"stale"`, http.StatusOK},
		{"the tag unquoted", etag[1 : len(etag)-1], http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.at(t)
			r := e.expect(e.doHeaders("GET", "/openapi.yaml", "", nil, map[string]string{"If-None-Match": tt.ifNoneMatch}), tt.status)
			if got := r.Header.Get("ETag"); got != etag {
				t.Errorf("ETag %q, want %q", got, etag)
			}
			if tt.status == http.StatusNotModified && len(r.Body) != 0 {
				t.Errorf("304 with a %d-byte body", len(r.Body))
			}
			if tt.status == http.StatusOK && !bytes.Equal(r.Body, []byte(apispec.OpenAPI)) {
				t.Errorf("200 body differs from the embedded spec")
			}
		})
	}
}

// TestIssuerRoutesAbsentWithExternalIssuer: without the built-in issuer its public routes
// are not served, and the 404 they answer is the one openapi.yaml documents for them.
func TestIssuerRoutesAbsentWithExternalIssuer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "sqlite")
	d := e.deps
	d.Verifier, d.Issuer, d.Limits = nil, nil, httpapi.Limits{}
	d.Ready = func(context.Context) error { return nil }
	d.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	h := httpapi.NewServer(d)
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/oauth2/jwks.json"} {
		t.Run(path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotFound {
				t.Fatalf("status %d, want 404; body %s", rec.Code, rec.Body)
			}
			validateAgainstSpec(t, req, response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()})
		})
	}
}
