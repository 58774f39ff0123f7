package jsonl

import (
	"fmt"
	"path/filepath"
	"strings"
)

// inventory is what one pass over the files found besides traces: files
// that are not trace files, and trace files with records that could not
// be decoded. It lets a search say what it could not use instead of
// counting it as nothing.
type inventory struct {
	root    string // the source's path; files are named relative to it
	records int    // records decoded
	bad     []fileProblem
	others  []string
}

// fileProblem counts the unreadable records of one file, keeping the
// first error as the example.
type fileProblem struct {
	file    string
	records int
	line    int
	err     error
}

func (p *fileProblem) add(line int, err error) {
	if p.records == 0 {
		p.line, p.err = line, err
	}
	p.records++
}

// maxListed caps the files one sentence names.
const maxListed = 5

// unreadable says, one sentence per file (and one for the files that are
// not trace files), what could not be read.
func (inv inventory) unreadable() []string {
	var out []string
	for _, b := range inv.bad {
		what := "1 record"
		if b.records > 1 {
			what = fmt.Sprintf("%d records", b.records)
		}
		out = append(out, fmt.Sprintf("%s: %s could not be read (line %d: %v)", inv.name(b.file), what, b.line, b.err))
	}
	if len(inv.others) > 0 {
		out = append(out, fmt.Sprintf("%s not read: not trace files (%s)", inv.list(inv.others), supported))
	}
	return out
}

// supported names the files the source reads.
const supported = "the files read are .jsonl, .ndjson, .json and OTLP protobuf .pb, .binpb, .protobuf, each optionally gzipped"

// noTraceFiles is the error for a directory without a trace file.
func (inv inventory) noTraceFiles(dir string) error {
	if len(inv.others) == 0 {
		return fmt.Errorf("no trace files in %s (%s)", dir, supported)
	}
	return fmt.Errorf("no trace files in %s: %s not read (%s)", dir, inv.list(inv.others), supported)
}

// name is a file's path relative to the source's directory (or the file
// itself when the source is one file), short enough to read in a report.
func (inv inventory) name(path string) string {
	if rel, err := filepath.Rel(inv.root, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

func (inv inventory) list(paths []string) string {
	names := make([]string, 0, maxListed)
	for i, p := range paths {
		if i == maxListed {
			names = append(names, fmt.Sprintf("and %d more", len(paths)-maxListed))
			break
		}
		names = append(names, inv.name(p))
	}
	return strings.Join(names, ", ")
}
