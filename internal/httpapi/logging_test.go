package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
)

func TestLogHandlerAddsRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("component", "store").WithGroup("g")
	ctx := context.WithValue(context.Background(), requestIDKey{}, "req-42")
	l.InfoContext(ctx, "slow query", "ms", 600)
	l.InfoContext(context.Background(), "startup")

	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.Bytes())
	}
	var first, second map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &second); err != nil {
		t.Fatal(err)
	}
	// Inside a group the attribute lands in the group; what matters is that it is there.
	if g, _ := first["g"].(map[string]any); g["request_id"] != "req-42" || first["component"] != "store" {
		t.Errorf("line with a request context: %s", lines[0])
	}
	if bytes.Contains(lines[1], []byte("request_id")) {
		t.Errorf("line without a request context carries an id: %s", lines[1])
	}
}
