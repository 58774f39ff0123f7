package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/oncall-copilot/oncall-copilot/config"
)

func runConfigCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", getenv("ONCALL_CONFIG"), "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg, err := config.Load(*path, getenv)
	if err != nil {
		return err
	}
	fmt.Fprint(stdout, cfg.Dump())
	if err := errors.Join(cfg.Validate(), checkDigest(cfg, getenv)); err != nil {
		return fmt.Errorf("configuration is invalid:\n%w", err)
	}
	fmt.Fprintln(stderr, "configuration is valid")
	return nil
}
