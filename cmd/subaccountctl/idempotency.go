package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"

	"github.com/google/uuid"
)

// Idempotency-Key as the API accepts it: 1 to 255 visible ASCII characters.
const maxIdempotencyKey = 255

func checkIdempotencyKey(k string) error {
	if k == "" || len(k) > maxIdempotencyKey {
		return usagef("--idempotency-key must be 1 to %d characters", maxIdempotencyKey)
	}
	for i := range len(k) {
		if k[i] < 0x21 || k[i] > 0x7e {
			return usagef("--idempotency-key must be visible ASCII characters, without spaces")
		}
	}
	return nil
}

// writeKey is the Idempotency-Key of a POST: the --idempotency-key given, checked, or
// else a new UUID (generated).
func writeKey(fs *flag.FlagSet, given string) (key string, generated bool, err error) {
	if !flagGiven(fs, "idempotency-key") {
		return uuid.NewString(), true, nil
	}
	if err := checkIdempotencyKey(given); err != nil {
		return "", false, err
	}
	return given, false, nil
}

// announceKey tells a generated key on stderr. It is said before the request, so that it
// is known even if the answer never comes; effect is what repeating with it guarantees.
func (a *app) announceKey(key, effect string) {
	fmt.Fprintf(a.stderr, "subaccountctl: idempotency key %s (if this command fails or its answer is lost, repeat it with --idempotency-key %s: %s)\n", key, key, effect)
}

// idempotencyHeaders are the headers of a POST sent at most once per key.
func idempotencyHeaders(key string) http.Header {
	h := http.Header{}
	h.Set("Idempotency-Key", key)
	return h
}

// flagGiven reports whether the flag name was given on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			found = true
		}
	})
	return found
}

// keyedRetryHint adds hint, how to retry with the same key, to the error of a keyed POST
// that went unanswered or failed on the server's side. A refusal (4xx) is a definite
// answer: nothing was done, and the hint would only invite repeating a request that
// fails the same way.
func keyedRetryHint(err error, key, hint string) error {
	var ae *apiError
	if errors.As(err, &ae) {
		switch {
		case ae.status >= 500:
			ae.hint = hint
		case ae.problem != nil && ae.problem.Type == "/problems/idempotency-key-in-flight":
			ae.hint = fmt.Sprintf("a request with this key is still being processed; wait and repeat the command with --idempotency-key %s", key)
		}
		return err
	}
	return fmt.Errorf("%w\n%s", err, hint)
}
