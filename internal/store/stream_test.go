package store_test

import (
	"github.com/cardseg/subaccounts/internal/events"
	"github.com/cardseg/subaccounts/internal/store"
)

// The stream publisher runs over the store itself.
var _ events.StreamStore = (*store.DB)(nil)
