package keys

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cardseg/subaccounts/internal/pan"
)

// ParseMasters decodes a configured master secret. s is either one key (hex or base64,
// at least 32 bytes), which gets version defaultVersion, or one or more VERSION:KEY
// entries separated by commas or newlines, of which the highest version is current and
// the others are still accepted. Surrounding white space, such as the newline a key file
// ends with, is ignored. The result is newest first.
//
// Error messages never include s, since it is a secret.
func ParseMasters(s string, defaultVersion int) ([]Master, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, ":") {
		key, err := pan.ParseKey(s)
		if err != nil {
			return nil, err
		}
		return []Master{{Version: defaultVersion, Key: key}}, nil
	}
	var out []Master
	for i, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		v, k, ok := strings.Cut(entry, ":")
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if !ok || err != nil || n < 1 {
			return nil, fmt.Errorf("entry %d is not VERSION:KEY with a positive version", i+1)
		}
		key, err := pan.ParseKey(k)
		if err != nil {
			return nil, fmt.Errorf("entry %d (version %d): %w", i+1, n, err)
		}
		for _, m := range out {
			if m.Version == n {
				return nil, fmt.Errorf("version %d appears twice", n)
			}
		}
		out = append(out, Master{Version: n, Key: key})
	}
	if len(out) == 0 {
		return nil, errors.New("no key")
	}
	slices.SortFunc(out, func(a, b Master) int { return b.Version - a.Version })
	return out, nil
}

// DefaultFile is where the embedded default keeps its generated master key, relative to
// the data directory: beside the database, never in it.
func DefaultFile(dataDir string) string { return filepath.Join(dataDir, "keys", "master.key") }

// ReadFile reads a master key file written by WriteFile (or by an operator: any format
// ParseMasters accepts). It refuses a file that others than its owner may read or
// write, since the key in it unlocks every card fingerprint.
func ReadFile(path string) ([]Master, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("master key file %s has mode %04o: it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := ParseMasters(string(b), 1)
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return m, nil
}

// WriteFile writes m to path as a VERSION:KEY entry, creating its directory with mode
// 0700 and the file with mode 0600. It writes a temporary file, syncs it, renames it
// into place and syncs the directory, so after it returns the key survives a crash and
// a crash before leaves no partial file. It refuses to overwrite an existing file.
func WriteFile(path string, m Master) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("master key directory: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("master key directory: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("master key file %s exists already", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".master.key.*")
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after the rename, a no-op
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	content := strconv.Itoa(m.Version) + ":" + hex.EncodeToString(m.Key) + "\n"
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("master key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	// Link, not rename: it fails instead of replacing a file another process wrote
	// meanwhile.
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
