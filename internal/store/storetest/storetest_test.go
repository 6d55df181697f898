package storetest

import (
	"context"
	"testing"
)

func TestOpenEachDialect(t *testing.T) {
	for _, d := range Dialects(t) {
		t.Run(d, func(t *testing.T) {
			db := Open(t, d)
			if err := db.Ping(context.Background()); err != nil {
				t.Fatalf("ping: %v", err)
			}
		})
	}
}
