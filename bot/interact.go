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
	IncidentByThread(ctx context.Context, channel, threadTS string) (oncall.Incident, error)
	ListIncidents(ctx context.Context, since time.Time) ([]oncall.Incident, error)
}

// Lifecycle changes incidents' state for the Slack handlers:
// incident.Service. Only it changes an incident; the handlers word what
// it did. at is when the person acted.
type Lifecycle interface {
	Acknowledge(ctx context.Context, key, user string, at time.Time) (oncall.Incident, bool, error)
	Resolve(ctx context.Context, key string, at time.Time) (oncall.Incident, bool, error)
	// Rerun declines with oncall.ErrIncidentResolved, ErrGroupUnknown,
	// ErrNothingFiring or ErrRerunPending.
	Rerun(ctx context.Context, inc oncall.Incident, at time.Time) (oncall.Incident, error)
	RecordFeedback(ctx context.Context, key, user string, helpful bool, at time.Time) (oncall.Incident, error)
	RecordReason(ctx context.Context, key, user, reason string, at time.Time) error
	RecordAnswer(ctx context.Context, key string, qa oncall.ThreadAnswer, keep int) error
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
	// Incidents acknowledges, resolves and re-runs incidents and keeps
	// feedback and answers. Required.
	Incidents Lifecycle
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
	if opts.Incidents == nil {
		errs = append(errs, errors.New("the incident lifecycle is required"))
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
	inc, changed, err := a.opts.Incidents.Acknowledge(ctx, inc.Key, act.User, a.now())
	if err != nil {
		return err
	}
	if !changed {
		if inc.Status == oncall.IncidentResolved {
			a.tell(ctx, act, "This incident is already resolved.")
		} else {
			a.tell(ctx, act, "Already acknowledged by "+mention(inc.AckedBy, renderer{})+" "+slackDate(inc.AckedAt)+".")
		}
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

// rerun asks the incident lifecycle for a new triage of the incident.
// It returns what to tell the user when nothing was queued.
func (a *App) rerun(ctx context.Context, inc oncall.Incident, user string) (string, error) {
	inc, err := a.opts.Incidents.Rerun(ctx, inc, a.now())
	switch {
	case errors.Is(err, oncall.ErrIncidentResolved):
		return "This incident is resolved; a new triage runs when its alert fires again.", nil
	case errors.Is(err, oncall.ErrGroupUnknown):
		return "I cannot re-run this triage: the incident's alert group is unknown.", nil
	case errors.Is(err, oncall.ErrNothingFiring):
		return "The alerts of this incident have all resolved; there is nothing to triage again.", nil
	case errors.Is(err, oncall.ErrRerunPending):
		return "A new triage of this incident was asked for moments ago; it is on its way.", nil
	case err != nil:
		return "", err
	}
	a.updateParent(ctx, inc)
	a.note(ctx, inc, fmt.Sprintf(":repeat: %s asked for a new triage; the report follows in this thread.", mention(user, renderer{})))
	a.log.Info("triage re-run queued", "incident", inc.Key, "user", user)
	return "", nil
}

func (a *App) resolve(ctx context.Context, log *slog.Logger, inc oncall.Incident, act actionJob) error {
	now := a.now()
	inc, changed, err := a.opts.Incidents.Resolve(ctx, inc.Key, now)
	if err != nil {
		return err
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
	if _, err := a.opts.Incidents.RecordFeedback(ctx, inc.Key, act.User, helpful, a.now()); err != nil {
		return err
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
	if err := a.opts.Incidents.RecordReason(ctx, inc.Key, act.User, reason, a.now()); err != nil {
		return err
	}
	log.Info("feedback reason recorded")
	a.tell(ctx, act, "Thanks, noted: _"+renderer{a.slack.render}.line(reason, 300)+"_")
	return nil
}
