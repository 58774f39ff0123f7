package jsonl

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// files lists the trace files under root: root itself when it is a file,
// else every *.jsonl, *.ndjson, *.json and OTLP protobuf (*.pb, *.binpb,
// *.protobuf) file below it, optionally gzipped (*.jsonl.gz), in lexical
// order. others lists the files below root that are neither trace files
// nor documentation (see ignorable), so a caller can say what it left
// out.
func files(root string) (out, others []string, err error) {
	info, err := os.Stat(root)
	if err != nil {
		return nil, nil, err
	}
	if !info.IsDir() {
		return []string{root}, nil, nil
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case traceFile(d.Name()):
			out = append(out, path)
		case !ignorable(d.Name()):
			others = append(others, path)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	sort.Strings(out)
	sort.Strings(others)
	return out, others, nil
}

func traceFile(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	return strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".json") || protobufFile(name)
}

// protobufFile reports whether a file holds one OTLP request in the
// protobuf encoding, as the OTLP file and HTTP exporters write by default.
func protobufFile(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(name), ".gz")
	return strings.HasSuffix(name, ".pb") || strings.HasSuffix(name, ".binpb") || strings.HasSuffix(name, ".protobuf")
}

// ignorable reports whether a file that is not a trace file is one that
// sits beside traces without being meant as one: hidden files, notes and
// licences.
func ignorable(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(name, ".") {
		return true
	}
	for _, ext := range []string{".md", ".txt", ".rst"} {
		if strings.HasSuffix(lower, ext) {
			return true
		}
	}
	for _, prefix := range []string{"readme", "license", "licence", "notice", "copying"} {
		if strings.HasPrefix(lower, prefix) {
			return true
		}
	}
	return false
}

// record is one document read from a file: a line, or the whole file when
// it holds a single pretty-printed document.
type record struct {
	file     string
	line     int
	data     []byte // valid until the next record
	protobuf bool   // data is an OTLP request in the protobuf encoding
	retry    bool   // a line of a document that did not decode whole
}

// errLineTooLong marks a line longer than the configured maximum; it is
// skipped like a malformed line.
var errLineTooLong = errors.New("line longer than the maximum")

// readFile calls fn for every document of one file. A file whose first
// line opens a JSON document without closing it is read as one document
// (up to maxDoc bytes); when that document does not decode either (fn
// reports false), its lines are tried one by one. Errors of single records
// are fn's to count; readFile fails only when the file cannot be read.
func readFile(ctx context.Context, path string, maxLine int, maxDoc int64, fn func(record, error) bool) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	if protobufFile(path) {
		// One binary request per file; it has no lines.
		b, err := io.ReadAll(io.LimitReader(r, maxDoc+1))
		if err != nil {
			return err
		}
		if int64(len(b)) > maxDoc {
			return fmt.Errorf("protobuf file larger than %d bytes", maxDoc)
		}
		fn(record{file: path, line: 1, data: b, protobuf: true}, nil)
		return nil
	}
	lr := lineReader{br: bufio.NewReaderSize(r, 1<<20), max: maxLine}
	first := true
	for n := 1; ; n++ {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, err := lr.next()
		if err != nil && !errors.Is(err, errLineTooLong) {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("line %d: %w", n, err)
		}
		trimmed := bytes.TrimSpace(line)
		if len(trimmed) == 0 && err == nil {
			continue
		}
		if first {
			first = false
			if err == nil && opensDocument(trimmed) {
				doc, err := wholeDocument(line, &lr, maxDoc)
				if err != nil {
					return err
				}
				if fn(record{file: path, line: 1, data: doc}, nil) {
					return nil
				}
				for i, l := range bytes.Split(doc, []byte("\n")) {
					if l = bytes.TrimSpace(l); len(l) > 0 {
						fn(record{file: path, line: i + 1, data: l, retry: true}, nil)
					}
				}
				return nil
			}
		}
		fn(record{file: path, line: n, data: trimmed}, err)
	}
}

// opensDocument reports whether a first line looks like the start of a
// pretty-printed document rather than a complete (or broken) JSONL record:
// it is not valid JSON on its own and ends where a pretty-printer breaks
// lines.
func opensDocument(line []byte) bool {
	if line[0] != '{' && line[0] != '[' {
		return false
	}
	switch line[len(line)-1] {
	case '{', '[', ',':
		return !json.Valid(line)
	}
	return false
}

// wholeDocument reads the rest of a file that holds one document spread
// over many lines.
func wholeDocument(first []byte, lr *lineReader, maxDoc int64) ([]byte, error) {
	var buf bytes.Buffer
	buf.Write(first)
	n, err := io.Copy(&buf, io.LimitReader(lr.br, maxDoc-int64(buf.Len())+1))
	if err != nil {
		return nil, err
	}
	if int64(buf.Len()) > maxDoc || n < 0 {
		return nil, fmt.Errorf("document larger than %d bytes", maxDoc)
	}
	return buf.Bytes(), nil
}

// lineReader reads lines of any length up to max without holding more
// than one line.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

// next returns the next line, possibly with its newline. It returns
// errLineTooLong (with no data) after skipping a line longer than max, and
// io.EOF at the end.
func (r *lineReader) next() ([]byte, error) {
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if len(r.buf) == 0 && err == nil && !tooLong && len(chunk) <= r.max {
			return chunk, nil // the whole line fit in the read buffer
		}
		if !tooLong {
			if len(r.buf)+len(chunk) > r.max {
				tooLong = true
				r.buf = r.buf[:0]
			} else {
				r.buf = append(r.buf, chunk...)
			}
		}
		switch {
		case err == nil:
			if tooLong {
				return nil, errLineTooLong
			}
			return r.buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if tooLong {
				return nil, errLineTooLong
			}
			if len(r.buf) > 0 {
				return r.buf, nil
			}
			return nil, io.EOF
		default:
			return nil, err
		}
	}
}
