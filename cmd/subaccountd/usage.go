package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"text/tabwriter"

	"github.com/cardseg/subaccounts/internal/config"
)

// errUsage reports command-line arguments subaccountd does not take; the usage has been
// printed to stderr already, and main exits 2 as command-line tools do.
var errUsage = errors.New("usage")

// parseArgs handles the command line before anything touches the disk or the network.
// It reports done when it answered the command itself (--help, --version).
func parseArgs(args []string, stdout, stderr io.Writer) (done bool, err error) {
	fs := flag.NewFlagSet("subaccountd", flag.ContinueOnError)
	// flag's own messages and usage go nowhere: the usage below replaces them.
	fs.SetOutput(io.Discard)
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	version := fs.Bool("version", false, "")
	var rest []string
	if len(args) > 1 {
		rest = args[1:]
	}
	if err := fs.Parse(rest); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(stderr, "subaccountd: %v\n\n", err)
		printUsage(stderr)
		return true, errUsage
	}
	switch {
	case *help:
		printUsage(stdout)
		return true, nil
	case *version:
		fmt.Fprintln(stdout, versionString())
		return true, nil
	}
	return false, nil
}

// printUsage writes the usage with every environment variable, its default and meaning.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: subaccountd [--help | -h | --version]
       subaccountd export-master-key --out FILE
       subaccountd rotate-signing-key [--activate-in 1h]

Serves the card-network subaccount segmentation API until SIGINT or SIGTERM.
The two subcommands manage keys and exit (see the README's "Keys" section).
The server is configured through these environment variables:

`)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  VARIABLE\tDEFAULT\tMEANING")
	for _, v := range config.Variables {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, v.Default, v.Meaning)
	}
	_ = tw.Flush()
	fmt.Fprint(w, `
Without DATABASE_URL it keeps its data in DATA_DIR; on first start it prints the
generated operator client's credentials once on stdout. Logs are JSON on stderr.
`)
}

// versionString names the module version and, when the binary was built from a
// checkout, the commit it was built from.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "subaccountd (unknown version)"
	}
	s := "subaccountd " + bi.Main.Version
	var rev, modified string
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			rev = st.Value
		case "vcs.modified":
			if st.Value == "true" {
				modified = "+modified"
			}
		}
	}
	if rev != "" {
		s += " (" + rev + modified + ")"
	}
	return s + " " + bi.GoVersion
}
