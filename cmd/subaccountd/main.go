// Command subaccountd serves the card-network subaccount segmentation API.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	if errors.Is(err, errUsage) {
		stop()
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "subaccountd:", err)
		stop()
		os.Exit(1)
	}
}
