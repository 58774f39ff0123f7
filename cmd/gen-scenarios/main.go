// Command gen-scenarios regenerates the bundled example alert and traces
// and the labelled triage scenarios under examples/.
//
//	go run ./cmd/gen-scenarios [-out examples]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/oncall-copilot/oncall-copilot/eval/scenario"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gen-scenarios:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen-scenarios", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "examples", "examples directory to regenerate (its quickstart/ and scenarios/ are replaced)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if err := scenario.WriteExamples(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote the quickstart and %d scenarios to %s\n", len(scenario.Catalog()), *out)
	return nil
}
