package alerts

import (
	"io"
	"net/http"
	"strconv"
)

// writeAccepted answers 202 with {"status":"accepted","job_id":...,
// "job_ids":[...],"alerts":n}, the answer to nearly every webhook, written
// without reflection: job ids are hex, so they need no escaping.
func writeAccepted(w http.ResponseWriter, ids []string, alerts int) {
	b := make([]byte, 0, 96+len(ids)*30)
	b = append(b, `{"alerts":`...)
	b = strconv.AppendInt(b, int64(alerts), 10)
	b = append(b, `,"job_id":"`...)
	b = append(b, ids[0]...)
	b = append(b, `","job_ids":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, id...)
		b = append(b, '"')
	}
	b = append(b, `],"status":"accepted"}`...)
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = w.Write(b)
}

// readBody reads a request body in one allocation when the sender said
// how long it is (io.ReadAll grows its buffer from 512 bytes, copying as
// it goes); a body longer than announced is still read whole.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size <= 0 || size > MaxBody {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, size+1) // one spare byte sees the end without growing
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		switch {
		case err == io.EOF:
			return b, nil
		case err != nil:
			return b, err
		case len(b) == cap(b):
			rest, err := io.ReadAll(r)
			return append(b, rest...), err
		}
	}
}
