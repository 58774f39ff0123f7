package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// runBareDecode is the child process of the triage-time baseline: a bare
// program that reads every line of every .jsonl file under a directory
// and decodes it with encoding/json, and nothing else. It prints how many
// lines it decoded.
func runBareDecode(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("bare-decode takes a directory")
	}
	lines := 0
	err := filepath.WalkDir(args[0], func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".jsonl") {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err == nil {
				lines++
			}
		}
		return sc.Err()
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, lines)
	return err
}

// bareDecode times runBareDecode over dir in a child process with the
// triage's GOMAXPROCS and returns its wall time and peak RSS.
func bareDecode(ctx context.Context, dir string) (time.Duration, int64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	cmd := exec.CommandContext(ctx, self, "bare-decode", dir)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=2")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("bare decode of %s: %w", dir, err)
	}
	wall := time.Since(start)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10
	}
	return wall, rss, nil
}
