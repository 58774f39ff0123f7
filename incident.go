package oncall

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// IncidentStatus is where an incident is in its life.
type IncidentStatus string

// Incident statuses.
const (
	IncidentOpen         IncidentStatus = "open"
	IncidentAcknowledged IncidentStatus = "acknowledged"
	IncidentResolved     IncidentStatus = "resolved"
)

// Incident is what one alert group became: a Slack thread, the triage
// results posted there, and its lifecycle. Its identity comes only from
// deterministic alert fields (route and group key), never model output.
type Incident struct {
	Key        string         `json:"key"`              // IncidentKey(route, group)
	Status     IncidentStatus `json:"status"`           //
	Alert      Alert          `json:"alert"`            // the group's representative alert (its earliest firing one)
	Alerts     []Alert        `json:"alerts,omitempty"` // the group's alerts as last notified
	Route      string         `json:"route,omitempty"`
	Channel    string         `json:"channel"`
	ThreadTS   string         `json:"thread_ts,omitempty"` // the parent message; empty until posted
	OpenedAt   time.Time      `json:"opened_at"`
	UpdatedAt  time.Time      `json:"updated_at"`
	ResolvedAt time.Time      `json:"resolved_at,omitzero"`
	AckedAt    time.Time      `json:"acked_at,omitzero"`
	AckedBy    string         `json:"acked_by,omitempty"`
	TriagedAt  time.Time      `json:"triaged_at,omitzero"`
	Headline   string         `json:"headline,omitempty"` // one line from the last triage, for the parent message
	Fires      int            `json:"fires"`              // how many times the group fired
	Diagnosis  *Diagnosis     `json:"diagnosis,omitempty"`
	Report     *Report        `json:"report,omitempty"`
	Feedback   []Feedback     `json:"feedback,omitempty"`
	// Answers are the follow-up questions of the thread and their
	// answers, most recent last, capped.
	Answers []ThreadAnswer `json:"answers,omitempty"`
	// FireTimes are the recent times the group fired, for the flapping
	// guard; Flapping is set while it fires too often to re-triage.
	FireTimes []time.Time `json:"fire_times,omitempty"`
	Flapping  bool        `json:"flapping,omitempty"`
	// StormChecked says the storm guard has decided for this incident;
	// Storm is the key of the storm incident it was collapsed into, whose
	// thread it shares, or empty.
	StormChecked bool   `json:"storm_checked,omitempty"`
	Storm        string `json:"storm,omitempty"`
	// Members are, on a storm incident, the incidents collapsed into
	// it, in the order they joined; its parent message shows them as a
	// table. Summarized counts the members that summary replies in the
	// storm thread listed already, the last of them at SummarizedAt.
	Members      []StormMember `json:"members,omitempty"`
	Summarized   int           `json:"summarized,omitempty"`
	SummarizedAt time.Time     `json:"summarized_at,omitzero"`
	// Summarizing is where the summary being posted ends, so that a
	// sender that died posting it resumes the same one.
	Summarizing int `json:"summarizing,omitempty"`
	// LeaseOwner holds the right, until LeaseUntil, to post the parent
	// and run the triage, so concurrent deliveries of one group do not
	// both post. The owner's job is retried if it dies; the lease expires.
	LeaseOwner string    `json:"lease_owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// StormMember is one incident listed in a storm's table.
type StormMember struct {
	Key      string         `json:"key"`
	Name     string         `json:"name"`
	Service  string         `json:"service,omitempty"`
	Severity string         `json:"severity,omitempty"`
	Status   IncidentStatus `json:"status"`
	Fires    int            `json:"fires,omitempty"`
	JoinedAt time.Time      `json:"joined_at"`
}

// Feedback is one engineer's verdict on a diagnosis.
type Feedback struct {
	User    string    `json:"user"`
	Helpful bool      `json:"helpful"`
	Reason  string    `json:"reason,omitempty"`
	At      time.Time `json:"at"`
}

// IncidentKey is the identity of the incident of an alert group under a
// route.
func IncidentKey(route, group string) string {
	h := sha256.Sum256([]byte(route + "\x00" + group))
	return hex.EncodeToString(h[:])[:24]
}

// JobKind names what a job asks a worker to do.
type JobKind string

// Job kinds.
const (
	JobAlert JobKind = "alert" // an alert fired or resolved: open or update its incident, triage it
)

// Job is one unit of queued work. Jobs are processed at least once; every
// step they drive is idempotent.
type Job struct {
	ID   string  `json:"id"`
	Kind JobKind `json:"kind"`
	// Alerts are one notification's alerts: an Alertmanager group, or a
	// single alert from sources without groups. They share GroupKey and
	// are enqueued together, so a notification is never half-enqueued.
	Alerts     []Alert   `json:"alerts,omitempty"`
	GroupKey   string    `json:"group_key,omitempty"`
	Route      string    `json:"route,omitempty"`
	Channel    string    `json:"channel,omitempty"`
	Payload    []byte    `json:"payload,omitempty"` // kind-specific, JSON
	EnqueuedAt time.Time `json:"enqueued_at"`
	Attempts   int       `json:"attempts"` // deliveries before this one
	LastError  string    `json:"last_error,omitempty"`
}

// Delivery is a job handed to one consumer. Token identifies the delivery
// to the queue for Ack, Retry and Extend; Consumer is who holds it, so
// that a lease renewal can tell whether another consumer took it over.
type Delivery struct {
	Job      Job
	Token    string
	Consumer string
}

// QueueStats describes a job queue's backlog.
type QueueStats struct {
	Ready     int           `json:"ready"`     // waiting to be delivered
	Delayed   int           `json:"delayed"`   // waiting for a retry time
	InFlight  int           `json:"in_flight"` // delivered, not yet acked
	Dead      int           `json:"dead"`      // dead letters
	OldestAge time.Duration `json:"oldest_age_ns"`
}
