package config_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/cardseg/subaccounts/internal/config"
)

// TestLogValueDurations checks that the start-up log shows durations as they are
// written in the environment, not as nanoseconds.
func TestLogValueDurations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lifetime, wait         string
		wantLifetime, wantWait string
	}{
		{"24h", "2ms", "24h", "2ms"},
		{"90m", "500us", "1h30m", "500µs"},
		{"1m", "0s", "1m", "0s"},
		{"25h0m30s", "1s", "25h0m30s", "1s"},
	}
	for _, tt := range tests {
		t.Run(tt.lifetime, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, map[string]string{"TOKEN_MAX_LIFETIME": tt.lifetime, "GROUP_COMMIT_MAX_WAIT": tt.wait})
			checkLoggedDurations(t, c, map[string]string{"token_max_lifetime": tt.wantLifetime, "group_commit_max_wait": tt.wantWait})
		})
	}
}

func checkLoggedDurations(t *testing.T, c config.Config, want map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", slog.Any("config", c))
	var line struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	for key, want := range want {
		if got := line.Config[key]; got != want {
			t.Errorf("%s logged as %v (%T), want %q", key, got, got, want)
		}
	}
}
