// Package alerts is oncall-copilot's webhook intake: it authenticates,
// validates and decodes alert notifications from each source
// (Alertmanager, Grafana, PagerDuty, LangSmith and generic JSON) into
// oncall.Alert values, routes them by label matchers, and enqueues one job
// per matching route, answering in milliseconds. Triage happens later, in
// workers.
//
// Decoders accept and ignore fields they do not know: senders add fields
// to their payloads between releases, and refusing a whole alert over an
// unread field would page nobody. Fields that are read are checked, and a
// problem answers 400 naming the field.
package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// Notification is one webhook delivery, decoded: the alerts of one group.
type Notification struct {
	GroupKey  string
	Status    oncall.AlertStatus // the group's status: resolved only when all its alerts are
	Alerts    []oncall.Alert
	Truncated int // alerts the sender left out
	// DedupeKey identifies the delivery for senders that give each event
	// an id (PagerDuty); a replay with the same key enqueues nothing.
	// Empty when the sender has no event ids.
	DedupeKey string
}

// IgnoredError reports a delivery that is valid but holds nothing to
// triage, such as a PagerDuty ping or a note added to an incident. The
// handler answers 200 and enqueues nothing, so the sender neither retries
// nor disables the webhook.
type IgnoredError struct{ Reason string }

func (e *IgnoredError) Error() string { return "ignored: " + e.Reason }

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
		// Embedded wire structs show up in the path; senders know the
		// JSON names only.
		field := strings.ReplaceAll(typeErr.Field, ".amAlert", "")
		return &InputError{Field: field, Reason: fmt.Sprintf("must be %s, got JSON %s", typeErr.Type, typeErr.Value)}
	}
	var syntaxErr *json.SyntaxError
	if errors.As(err, &syntaxErr) {
		return &InputError{Reason: fmt.Sprintf("malformed JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)}
	}
	return &InputError{Reason: "malformed JSON: " + err.Error()}
}
