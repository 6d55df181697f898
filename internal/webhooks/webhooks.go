// Package webhooks delivers events to the systems of an account's business clients, per
// the Standard Webhooks specification: the endpoints (endpoints.go) with their secrets
// (generated, sealed under the master key, never stored or shown again in clear), the
// signed headers of a message (sign.go), the guard that keeps deliveries off private
// networks whatever a URL's name resolves to (guard.go), the delivery worker every
// replica runs (worker.go, record.go: claims with a lease, bounded attempts, the retry
// schedule, disabling), and the history, resend, recover and test of deliveries
// (deliveries.go).
//
// What to deliver is written by the events Recorder (internal/events) in each change's
// transaction; this package imports events for the catalogue and test events, the
// vocabulary and keys, and never the store, httpapi or cmd.
package webhooks
