package oncall

import "errors"

// ErrNotFound is returned, possibly wrapped, when a looked-up incident,
// trace or job does not exist.
var ErrNotFound = errors.New("not found")
