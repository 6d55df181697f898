// Command subaccountctl is a command-line client of the subaccounts API (subaccountd).
//
// It obtains its own access token with the OAuth2 client-credentials grant, then lists,
// reads and creates subaccounts, enrols and moves cards (one at a time from standard
// input, or many from a CSV file through the batch route), lists routed transactions,
// manages webhook endpoints and their deliveries, and checks an account's compliance
// with exit codes a script can act on. Run
// `subaccountctl help` for the commands, flags and environment variables.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
