// Package alerts is oncall-copilot's webhook intake: it authenticates,
// validates and decodes alert notifications from each source into
// oncall.Alert values and enqueues them as one job, answering in
// milliseconds. Triage happens later, in workers.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Notification is one webhook delivery, decoded: the alerts of one group.
type Notification struct {
	GroupKey  string
	Status    oncall.AlertStatus // the group's status: resolved only when all its alerts are
	Alerts    []oncall.Alert
	Truncated int // alerts the sender left out
}

// InputError is a problem with a request's content; the handler answers
// it with a 4xx naming the field.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func fieldError(field, format string, args ...any) error {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func jsonError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return &InputError{Field: typeErr.Field, Reason: fmt.Sprintf("must be %s, got JSON %s", typeErr.Type, typeErr.Value)}
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &InputError{Reason: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	}
	return &InputError{Reason: "malformed JSON: " + err.Error()}
}
