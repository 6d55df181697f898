package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// newTable returns a tabwriter for aligned columns; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// row writes one tab-separated table row.
func row(tw io.Writer, cols ...any) {
	s := make([]string, len(cols))
	for i, c := range cols {
		s[i] = fmt.Sprint(c)
		// A tab or newline inside a value (a name, a merchant) would break the columns.
		s[i] = strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s[i])
	}
	fmt.Fprintln(tw, strings.Join(s, "\t"))
}

// maskedNumber shows a card by the digits the API returns: the first six, a fixed run of
// asterisks (the real length is not known, and need not be), the last four.
func maskedNumber(first, last string) string {
	return first + "******" + last
}

// formatConfigs writes configurations in the syntax of --config, one element per
// "COUNTRIES:NETWORKS" joined by "; ", so what is shown can be pasted back.
func formatConfigs(cs []configuration) string {
	if len(cs) == 0 {
		return "(none: permits nothing)"
	}
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = strings.Join(c.Countries, ",") + ":" + strings.Join(c.Networks, ",")
	}
	return strings.Join(s, "; ")
}

// formatMetadata writes a metadata map as sorted key=value pairs.
func formatMetadata(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := make([]string, len(keys))
	for i, k := range keys {
		s[i] = k + "=" + m[k]
	}
	return strings.Join(s, " ")
}

// orDash shows an empty value as "-" so that table columns stay aligned.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// kv writes "key: value" lines aligned on the colon.
func kv(w io.Writer, pairs ...string) error {
	tw := newTable(w)
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", pairs[i], pairs[i+1])
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing output: %w", err)
	}
	return nil
}
