// Package webhooks delivers events to the systems of an account's business clients, per
// the Standard Webhooks specification. This file and its neighbours are the parts every
// delivery rests on: the endpoint secrets (generated, sealed under the master key, never
// stored or shown again in clear), the signed headers of a message, and the guard that
// keeps deliveries off private networks whatever a URL's name resolves to.
//
// It depends on the vocabulary and keys; it must not import the store, httpapi or cmd.
package webhooks
