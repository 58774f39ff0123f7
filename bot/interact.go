package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/retry"
)

// IncidentStore is what the interactive side reads and changes of the
// incidents.
type IncidentStore interface {
	GetIncident(ctx context.Context, key string) (oncall.Incident, error)
	// UpdateIncident's fn may run more than once and must not call the
	// store.
	UpdateIncident(ctx context.Context, key string, fn func(*oncall.Incident) error) (oncall.Incident, error)
	IncidentByThread(ctx context.Context, channel, threadTS string) (oncall.Incident, error)
	ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error)
}

// Answerer answers questions asked in Slack.
type Answerer interface {
	Answer(ctx context.Context, q Question) (Answer, error)
}

// Digester posts a digest of recent incidents to a channel.
type Digester interface {
	PostDigest(ctx context.Context, channel string) error
}

// AppOptions configure an App.
type AppOptions struct {
	Slack *Slack        // required
	Store IncidentStore // required
	Queue Queue         // required: a re-run of triage is an alert job
	Once  OnceStore     // required: a re-run asked for twice runs once
	// Answerer answers questions; nil answers that no model is set up.
	Answerer Answerer
	// Digester posts digests for /oncall digest; nil says digests are
	// not set up.
	Digester Digester
	// BotUserID is the copilot's own Slack user (Slack.Identify).
	// Required: it tells mentions of the copilot from other mentions.
	BotUserID string
	// Command is the slash command's name, for its help; "/oncall" when
	// empty.
	Command string
	// HTTPClient posts to response URLs; nil: a client with a 10s
	// timeout.
	HTTPClient *http.Client
	// AllowResponseURL says whether a payload's response_url may be
	// posted to; nil accepts https URLs of slack.com hosts only.
	AllowResponseURL func(string) bool
	// StatusWindow is how far back /oncall status and /oncall triage
	// look for incidents; 7 days when zero.
	StatusWindow time.Duration
	Now          func() time.Time
	Logger       *slog.Logger
}

// App runs the jobs the Intake queues: it answers questions, handles
// the buttons on diagnoses and runs /oncall commands. It is safe for
// concurrent use.
type App struct {
	opts  AppOptions
	slack *Slack
	log   *slog.Logger
}

// NewApp checks opts and returns an App.
func NewApp(opts AppOptions) (*App, error) {
	var errs []error
	if opts.Slack == nil {
		errs = append(errs, errors.New("a slack client is required"))
	}
	if opts.Store == nil {
		errs = append(errs, errors.New("an incident store is required"))
	}
	if opts.Queue == nil {
		errs = append(errs, errors.New("a queue is required"))
	}
	if opts.Once == nil {
		errs = append(errs, errors.New("a once store is required"))
	}
	if !slackUserID.MatchString(opts.BotUserID) {
		errs = append(errs, errors.New("the bot's user id is required (Slack.Identify)"))
	}
	if opts.StatusWindow < 0 {
		errs = append(errs, errors.New("status window must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bot: app: %w", errors.Join(errs...))
	}
	if opts.Command == "" {
		opts.Command = "/oncall"
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.AllowResponseURL == nil {
		opts.AllowResponseURL = defaultResponseURL
	}
	if opts.StatusWindow == 0 {
		opts.StatusWindow = 7 * 24 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &App{opts: opts, slack: opts.Slack, log: opts.Logger.With("component", "slack-app")}, nil
}

// Handle runs one job of a kind IsSlackJob accepts. A payload it cannot
// read is a permanent failure.
func (a *App) Handle(ctx context.Context, job oncall.Job) error {
	decode := func(v any) error {
		if err := json.Unmarshal(job.Payload, v); err != nil {
			return retry.Permanent(fmt.Errorf("decode %s job: %w", job.Kind, err))
		}
		return nil
	}
	switch job.Kind {
	case JobSlackEvent:
		var p eventJob
		if err := decode(&p); err != nil {
			return err
		}
		return a.answer(ctx, job, p)
	case JobSlackAction:
		var p actionJob
		if err := decode(&p); err != nil {
			return err
		}
		return a.action(ctx, p)
	case JobSlackCommand:
		var p commandJob
		if err := decode(&p); err != nil {
			return err
		}
		return a.command(ctx, job, p)
	}
	return retry.Permanent(fmt.Errorf("bot: unexpected job kind %q", job.Kind))
}

func (a *App) now() time.Time { return a.opts.Now().UTC() }

// tell shows a short note to the user who acted: through the response
// URL when there is one, else as an ephemeral message.
func (a *App) tell(ctx context.Context, act actionJob, text string) {
	var err error
	if act.ResponseURL != "" && a.opts.AllowResponseURL(act.ResponseURL) {
		r := ephemeral(text)
		if act.Ephemeral {
			r.ReplaceOriginal = true
		}
		err = a.respond(ctx, act.ResponseURL, *r)
	} else {
		err = a.slack.postEphemeral(ctx, act.Channel, act.User, act.ThreadTS, notification(text), noteBlocks(text))
	}
	if err != nil {
		a.log.Warn("ephemeral reply failed", "action", act.ActionID, "err", err)
	}
}

// note posts the copilot's own words in the incident's thread. Slack
// failures are logged: the change it reports is already recorded.
func (a *App) note(ctx context.Context, inc oncall.Incident, text string) {
	if inc.Channel == "" || inc.ThreadTS == "" {
		return
	}
	if _, _, err := a.slack.post(ctx, inc.Channel, inc.ThreadTS, notification(text), noteBlocks(text)); err != nil {
		a.log.Warn("thread note failed", "incident", inc.Key, "err", err)
	}
}

func (a *App) updateParent(ctx context.Context, inc oncall.Incident) {
	if inc.ThreadTS == "" {
		return
	}
	if err := a.slack.UpdateParent(ctx, inc); err != nil {
		a.log.Warn("parent update failed", "incident", inc.Key, "err", err)
	}
}

// action runs one button press or typed reason.
func (a *App) action(ctx context.Context, act actionJob) error {
	key := act.Value
	if act.ActionID == ActionReason {
		key = strings.TrimPrefix(act.BlockID, ActionReason+":")
	}
	inc, err := a.opts.Store.GetIncident(ctx, key)
	if errors.Is(err, oncall.ErrNotFound) || (err == nil && inc.Channel != act.Channel) {
		a.log.Warn("action on an unknown incident", "action", act.ActionID, "channel", act.Channel)
		a.tell(ctx, act, "I could not find this incident any more.")
		return nil
	}
	if err != nil {
		return fmt.Errorf("get incident %s: %w", key, err)
	}
	log := a.log.With("incident", inc.Key, "action", act.ActionID, "user", act.User)
	switch act.ActionID {
	case ActionAcknowledge:
		return a.acknowledge(ctx, log, inc, act)
	case ActionRerun:
		msg, err := a.rerun(ctx, inc, act.User)
		if err != nil {
			return err
		}
		if msg != "" {
			a.tell(ctx, act, msg)
		}
		return nil
	case ActionResolve:
		return a.resolve(ctx, log, inc, act)
	case ActionHelpful, ActionUnhelpful:
		return a.feedback(ctx, log, inc, act)
	case ActionReason:
		return a.reason(ctx, log, inc, act)
	}
	log.Debug("unknown action ignored")
	return nil
}

func (a *App) acknowledge(ctx context.Context, log *slog.Logger, inc oncall.Incident, act actionJob) error {
	now := a.now()
	var why string
	key := inc.Key
	inc, err := a.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		why = ""
		switch {
		case inc.Status == oncall.IncidentResolved:
			why = "This incident is already resolved."
		case !inc.AckedAt.IsZero():
			why = "Already acknowledged by " + mention(inc.AckedBy, renderer{}) + " " + slackDate(inc.AckedAt) + "."
		default:
			inc.Status = oncall.IncidentAcknowledged
			inc.AckedAt, inc.AckedBy = now, act.User
			inc.UpdatedAt = now
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("acknowledge incident %s: %w", key, err)
	}
	if why != "" {
		a.tell(ctx, act, why)
		return nil
	}
	a.updateParent(ctx, inc)
	tta := inc.AckedAt.Sub(openedAt(inc))
	a.note(ctx, inc, fmt.Sprintf(":raising_hand: %s acknowledged this incident. Time to acknowledge: *%s*.", mention(act.User, renderer{}), formatDuration(tta)))
	log.Info("incident acknowledged", "tta", tta)
	return nil
}

// openedAt is when people were told: the incident's opening, or the
// alert's start for incidents without one.
func openedAt(inc oncall.Incident) time.Time {
	if !inc.OpenedAt.IsZero() {
		return inc.OpenedAt
	}
	return inc.Alert.StartsAt
}

// rerun asks for a new triage of the incident: incident.Service triages
// an alert job only while TriagedAt is zero, so it is cleared first, then
// an alert job for the incident's alert group is queued. It returns what
// to tell the user when nothing was queued.
func (a *App) rerun(ctx context.Context, inc oncall.Incident, user string) (string, error) {
	if inc.Status == oncall.IncidentResolved {
		return "This incident is resolved; a new triage runs when its alert fires again.", nil
	}
	alerts := inc.Alerts
	if len(alerts) == 0 {
		alerts = []oncall.Alert{inc.Alert}
	}
	group, ok := groupKey(inc, alerts)
	if !ok {
		return "I cannot re-run this triage: the incident's alert group is unknown.", nil
	}
	firing := false
	for _, al := range alerts {
		if !al.Resolved() {
			firing = true
		}
	}
	if !firing {
		return "The alerts of this incident have all resolved; there is nothing to triage again.", nil
	}
	key := inc.Key
	onceKey := "slack:rerun:" + key
	first, err := a.opts.Once.Once(ctx, onceKey, 2*time.Minute)
	if err != nil {
		return "", fmt.Errorf("claim re-run of %s: %w", key, err)
	}
	if !first {
		return "A new triage of this incident was asked for moments ago; it is on its way.", nil
	}
	now := a.now()
	inc, err = a.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		inc.TriagedAt = time.Time{}
		inc.UpdatedAt = now
		return nil
	})
	if err == nil {
		err = a.opts.Queue.Enqueue(ctx, oncall.Job{
			Kind: oncall.JobAlert, Alerts: alerts, GroupKey: group, Route: inc.Route, Channel: inc.Channel, EnqueuedAt: now,
		})
	}
	if err != nil {
		if ferr := a.opts.Once.Forget(context.WithoutCancel(ctx), onceKey); ferr != nil {
			a.log.Error("forget re-run claim", "incident", key, "err", ferr)
		}
		return "", fmt.Errorf("re-run triage of %s: %w", key, err)
	}
	a.updateParent(ctx, inc)
	a.note(ctx, inc, fmt.Sprintf(":repeat: %s asked for a new triage; the report follows in this thread.", mention(user, renderer{})))
	a.log.Info("triage re-run queued", "incident", inc.Key, "user", user)
	return "", nil
}

// groupKey finds the alert group key the incident key was made from.
func groupKey(inc oncall.Incident, alerts []oncall.Alert) (string, bool) {
	for _, al := range append([]oncall.Alert{inc.Alert}, alerts...) {
		if al.GroupKey != "" && oncall.IncidentKey(inc.Route, al.GroupKey) == inc.Key {
			return al.GroupKey, true
		}
	}
	return "", false
}

func (a *App) resolve(ctx context.Context, log *slog.Logger, inc oncall.Incident, act actionJob) error {
	now := a.now()
	changed := false
	key := inc.Key
	inc, err := a.opts.Store.UpdateIncident(ctx, key, func(inc *oncall.Incident) error {
		changed = false
		if inc.Status == oncall.IncidentResolved {
			return nil
		}
		changed = true
		inc.Status = oncall.IncidentResolved
		inc.ResolvedAt = now
		inc.UpdatedAt = now
		return nil
	})
	if err != nil {
		return fmt.Errorf("resolve incident %s: %w", key, err)
	}
	if !changed {
		a.tell(ctx, act, "This incident is already resolved.")
		return nil
	}
	a.updateParent(ctx, inc)
	a.note(ctx, inc, fmt.Sprintf(":white_check_mark: %s marked this incident resolved after %s.", mention(act.User, renderer{}), formatDuration(now.Sub(openedAt(inc)))))
	log.Info("incident marked resolved")
	return nil
}

func (a *App) feedback(ctx context.Context, log *slog.Logger, inc oncall.Incident, act actionJob) error {
	helpful := act.ActionID == ActionHelpful
	now := a.now()
	_, err := a.opts.Store.UpdateIncident(ctx, inc.Key, func(inc *oncall.Incident) error {
		for i := range inc.Feedback {
			if inc.Feedback[i].User == act.User {
				if inc.Feedback[i].Helpful != helpful {
					inc.Feedback[i].Reason = ""
				}
				inc.Feedback[i].Helpful, inc.Feedback[i].At = helpful, now
				return nil
			}
		}
		inc.Feedback = append(inc.Feedback, oncall.Feedback{User: act.User, Helpful: helpful, At: now})
		return nil
	})
	if err != nil {
		return fmt.Errorf("record feedback on %s: %w", inc.Key, err)
	}
	log.Info("feedback recorded", "helpful", helpful)
	if helpful {
		a.tell(ctx, act, "Thanks for the feedback: noted as helpful.")
		return nil
	}
	blocks := feedbackPrompt(inc.Key)
	if err := a.slack.postEphemeral(ctx, act.Channel, act.User, act.ThreadTS, "What was wrong with the diagnosis?", blocks); err != nil {
		log.Warn("feedback prompt failed", "err", err)
	}
	return nil
}

// maxReason caps a typed reason.
const maxReason = 1000

func (a *App) reason(ctx context.Context, log *slog.Logger, inc oncall.Incident, act actionJob) error {
	reason := strings.TrimSpace(act.Value)
	if r := []rune(reason); len(r) > maxReason {
		reason = string(r[:maxReason])
	}
	if reason == "" {
		return nil
	}
	now := a.now()
	_, err := a.opts.Store.UpdateIncident(ctx, inc.Key, func(inc *oncall.Incident) error {
		for i := len(inc.Feedback) - 1; i >= 0; i-- {
			if inc.Feedback[i].User == act.User && !inc.Feedback[i].Helpful {
				inc.Feedback[i].Reason = reason
				return nil
			}
		}
		inc.Feedback = append(inc.Feedback, oncall.Feedback{User: act.User, Helpful: false, Reason: reason, At: now})
		return nil
	})
	if err != nil {
		return fmt.Errorf("record feedback reason on %s: %w", inc.Key, err)
	}
	log.Info("feedback reason recorded")
	a.tell(ctx, act, "Thanks, noted: _"+renderer{a.slack.render}.line(reason, 300)+"_")
	return nil
}
