// Package migrations embeds the SQL schema migrations, one folder per database dialect.
//
// The schema is only ever changed through these files (goose format); the service applies
// them at start-up and never uses gorm's AutoMigrate.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// FS returns the migrations of one dialect ("postgres" or "sqlite") with the files at its root.
func FS(dialect string) (fs.FS, error) {
	switch dialect {
	case "postgres", "sqlite":
		return fs.Sub(files, dialect)
	default:
		return nil, fmt.Errorf("migrations: unknown dialect %q", dialect)
	}
}
