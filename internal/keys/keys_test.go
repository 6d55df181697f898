package keys_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cardseg/subaccounts/internal/keys"
)

var (
	k1 = keys.Master{Version: 1, Key: bytes.Repeat([]byte{1}, 32)}
	k2 = keys.Master{Version: 2, Key: bytes.Repeat([]byte{2}, 32)}
)

func ring(t *testing.T, current keys.Master, previous ...keys.Master) *keys.Ring {
	t.Helper()
	r, err := keys.NewRing(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	old := ring(t, k1)
	sealedV1, err := old.Seal([]byte("private key"), []byte("kid-a"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sealedV1, "kek1:1:") || strings.Contains(sealedV1, "private key") {
		t.Fatalf("sealed value %q", sealedV1)
	}
	rotated := ring(t, k2, k1)
	relabelled := strings.Replace(sealedV1, "kek1:1:", "kek1:2:", 1)
	tests := []struct {
		name    string
		r       *keys.Ring
		sealed  string
		aad     string
		version int // 0: must fail
	}{
		{"same ring", old, sealedV1, "kid-a", 1},
		{"old version still configured", rotated, sealedV1, "kid-a", 1},
		{"moved to another row", old, sealedV1, "kid-b", 0},
		{"version relabelled", rotated, relabelled, "kid-a", 0},
		{"version no longer configured", ring(t, k2), sealedV1, "kid-a", 0},
		{"plain text", old, "-----BEGIN PRIVATE KEY-----", "kid-a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, v, err := tt.r.Open(tt.sealed, []byte(tt.aad))
			if tt.version == 0 {
				if err == nil {
					t.Fatalf("Open succeeded: %q", got)
				}
				return
			}
			if err != nil || v != tt.version || string(got) != "private key" {
				t.Fatalf("Open = %q, %d, %v", got, v, err)
			}
		})
	}
	resealed, err := rotated.Seal([]byte("x"), nil)
	if err != nil || !strings.HasPrefix(resealed, "kek1:2:") {
		t.Errorf("a rotated ring seals as %q (%v), want the current version 2", resealed, err)
	}
}

func TestDeriveSeparatesLabelsAndVersions(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, m := range []keys.Master{k1, k2} {
		for _, label := range []string{keys.LabelIdempotencyRequestHash, keys.LabelIdempotencyKey, keys.LabelResponseSeal, keys.LabelKEK} {
			k := keys.Derive(m, label)
			if len(k) != 32 || bytes.Equal(k, m.Key) {
				t.Fatalf("%s: key of %d bytes", label, len(k))
			}
			if prev, dup := seen[string(k)]; dup {
				t.Errorf("%s v%d derives the same key as %s", label, m.Version, prev)
			}
			seen[string(k)] = label
		}
	}
}

func TestNewRingRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		current  keys.Master
		previous []keys.Master
	}{
		{"short key", keys.Master{Version: 1, Key: []byte("short")}, nil},
		{"version zero", keys.Master{Version: 0, Key: k1.Key}, nil},
		{"version twice", k1, []keys.Master{{Version: 1, Key: k2.Key}}},
		{"previous newer than current", k1, []keys.Master{k2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keys.NewRing(tt.current, tt.previous...); err == nil {
				t.Error("NewRing accepted it")
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := keys.DefaultFile(dir)
	if err := keys.WriteFile(path, k2); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %04o", p, fi.Mode().Perm(), err, want)
		}
	}
	got, err := keys.ReadFile(path)
	if err != nil || len(got) != 1 || got[0].Version != 2 || !bytes.Equal(got[0].Key, k2.Key) {
		t.Fatalf("ReadFile = %v, %v", got, err)
	}
	if err := keys.WriteFile(path, k1); err == nil {
		t.Error("WriteFile replaced an existing key file")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.ReadFile(path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("ReadFile of a world-readable key file: %v, want a refusal", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want the key file alone (no temporary left)", len(entries))
	}
}
