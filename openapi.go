// Package subaccounts is the module's root: it holds the API's contract, openapi.yaml,
// so that the one copy of the spec at the top of the repository is also the copy the
// server serves (go:embed cannot reach a parent directory, so the embedding lives here).
// It must import nothing of this module; internal/httpapi imports it, never the reverse.
package subaccounts

import _ "embed"

// OpenAPI is openapi.yaml exactly as committed. It is a string so that no importer can
// change the bytes every request serves.
//
//go:embed openapi.yaml
var OpenAPI string
