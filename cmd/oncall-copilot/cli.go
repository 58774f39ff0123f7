package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// parseArgs parses flags wherever they are among the positional
// arguments (jobs retry ID --data-dir DIR as well as jobs retry
// --data-dir DIR ID) and returns the positional ones, in order. "--"
// ends the flags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// commandHelp prints a subcommand's usage: what it does, its arguments,
// the settings it needs, then its flags.
func commandHelp(fs *flag.FlagSet, w io.Writer, synopsis, text string) func() {
	return func() {
		fmt.Fprintf(w, "usage: oncall-copilot %s\n\n%s\n", synopsis, strings.TrimSpace(text))
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}
