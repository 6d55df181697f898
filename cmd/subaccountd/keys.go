package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/cardseg/subaccounts/internal/config"
	"github.com/cardseg/subaccounts/internal/issuer"
	"github.com/cardseg/subaccounts/internal/keys"
	"github.com/cardseg/subaccounts/internal/pan"
	"github.com/cardseg/subaccounts/internal/store"
)

// keyCommands are the one-off subcommands that manage keys and exit.
var keyCommands = map[string]func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error{
	"export-master-key":  exportMasterKey,
	"rotate-signing-key": rotateSigningKey,
}

// setUpKeys returns the master key ring: the configured versions, or the embedded
// default's key file, generated on first start. A key an earlier release generated into
// the database is moved out first: written (and synced) to the key file, then removed
// from the database, so a crash in between loses nothing; on PostgreSQL, where a key file
// would not be shared, the start is refused until the key is exported and configured.
func setUpKeys(ctx context.Context, cfg config.Config, db *store.DB, log *slog.Logger) (*keys.Ring, error) {
	stored, err := keys.GeneratedFingerprintKey(ctx, db)
	if err != nil {
		return nil, err
	}
	masters := cfg.MasterKeys
	if len(masters) == 0 {
		if masters, err = keyFile(ctx, cfg, db, stored, log); err != nil {
			return nil, err
		}
	}
	ring, err := keys.NewRing(masters[0], masters[1:]...)
	if err != nil {
		return nil, err
	}
	if stored != nil {
		if err := keys.ForgetGeneratedFingerprintKey(ctx, db, ring, *stored); err != nil {
			return nil, err
		}
		log.Info("removed the generated card fingerprint key from the database: it is kept only outside it now",
			slog.Int("version", stored.Version))
	}
	unconfigured, err := keys.CheckFingerprintKeys(ctx, db, ring)
	if err != nil {
		return nil, err
	}
	for _, v := range unconfigured {
		log.Warn("a master key version cards may have been enrolled under is not configured: messages and look-ups by card number will not find those cards",
			slog.Int("version", v))
	}
	return ring, nil
}

// keyFile reads the embedded default's key file, creating it on first start, with the key
// an earlier release left in the database when there is one.
func keyFile(ctx context.Context, cfg config.Config, db *store.DB, stored *keys.Master, log *slog.Logger) ([]keys.Master, error) {
	path := keys.DefaultFile(cfg.DataDir)
	masters, err := keys.ReadFile(path)
	switch {
	case err == nil:
		log.Info("master key read from its key file; a backup of the database alone does not contain it: back this file up too, apart from the database",
			slog.String("path", path))
		return masters, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var m keys.Master
	if stored != nil {
		m = *stored
		log.Info("moving the card fingerprint key an earlier release kept in the database out to a key file", slog.String("path", path))
	} else {
		recorded, err := db.FingerprintKeys(ctx)
		if err != nil {
			return nil, err
		}
		if len(recorded) > 0 {
			return nil, fmt.Errorf("master key file %s is missing, and cards were fingerprinted with a key: restore the file, or set MASTER_KEY or MASTER_KEY_FILE to that key", path)
		}
		key, err := pan.GenerateKey()
		if err != nil {
			return nil, err
		}
		m = keys.Master{Version: 1, Key: key}
	}
	if err := keys.WriteFile(path, m); err != nil {
		return nil, err
	}
	log.Warn("master key written to a key file beside the database, never into it: a backup of the database alone does not contain it; "+
		"back this file up too, apart from the database, or set MASTER_KEY/MASTER_KEY_FILE to manage the key yourself",
		slog.String("path", path))
	return []keys.Master{m}, nil
}

// exportMasterKey writes the card fingerprint key an earlier release generated into the
// database to a file (mode 0600), for MASTER_KEY_FILE: the way out on PostgreSQL, where
// the service refuses to start without a configured key. It never prints the key, and
// leaves the database alone: the next start with the key configured removes it there.
func exportMasterKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fset.SetOutput(stderr)
	out := fset.String("out", "", "file to write the key to (created with mode 0600; must not exist)")
	if err := fset.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("export-master-key: --out FILE is required")
	}
	db, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	stored, err := keys.GeneratedFingerprintKey(ctx, db)
	if err != nil {
		return err
	}
	if stored == nil {
		return errors.New("export-master-key: the database holds no generated key (it was configured, or already moved out)")
	}
	if err := keys.WriteFile(*out, *stored); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote master key version %d to %s; start subaccountd with MASTER_KEY_FILE=%s (its first start removes the key from the database)\n",
		stored.Version, *out, *out)
	return nil
}

// rotateSigningKey stores a new signing key of the built-in issuer, published at once
// and signing after --activate-in; running replicas pick it up without a restart.
func rotateSigningKey(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fset.SetOutput(stderr)
	lead := fset.Duration("activate-in", time.Hour, fmt.Sprintf("how long the new key is published before it signs (at least %v; longer than any key-set cache of the verifiers)", issuer.MinRotationLead))
	if err := fset.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, getenv)
	if err != nil {
		return err
	}
	defer db.Close()
	masters := cfg.MasterKeys
	if len(masters) == 0 {
		if masters, err = keys.ReadFile(keys.DefaultFile(cfg.DataDir)); err != nil {
			return fmt.Errorf("rotate-signing-key: master key: %w", err)
		}
	}
	ring, err := keys.NewRing(masters[0], masters[1:]...)
	if err != nil {
		return err
	}
	at := time.Now().Add(*lead)
	kid, err := issuer.RotateSigningKey(ctx, db, ring, at)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "signing key %s published; it signs from %s\n", kid, at.UTC().Format(time.RFC3339))
	return nil
}

// openStore opens the configured database without asking for the rest of the
// configuration (export-master-key runs exactly when the master key is not configured).
func openStore(ctx context.Context, getenv func(string) string) (*store.DB, error) {
	opts := store.Options{Logger: slog.New(slog.DiscardHandler)}
	if dsn := strings.TrimSpace(getenv("DATABASE_URL")); dsn != "" {
		return store.OpenPostgres(ctx, dsn, opts)
	}
	dir := strings.TrimSpace(getenv("DATA_DIR"))
	if dir == "" {
		dir = "./data"
	}
	return store.OpenSQLite(ctx, dir, opts)
}
