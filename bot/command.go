package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/slack-go/slack"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// commandJob is the payload of a JobSlackCommand.
type commandJob struct {
	Sub         string `json:"sub"` // status, digest or triage
	Arg         string `json:"arg,omitempty"`
	User        string `json:"user"`
	Channel     string `json:"channel"`
	TeamDomain  string `json:"team_domain,omitempty"`
	ResponseURL string `json:"response_url,omitempty"`
}

// maxCommandArg caps the argument of /oncall triage.
const maxCommandArg = 200

// HandleCommand takes one slash command invocation (from the HTTP form
// or a Socket Mode slash_commands envelope). help, and mistakes, are
// answered at once; status, digest and triage are queued and answered
// through the command's response URL. The reply, when not nil, is the
// immediate answer shown to the user.
func (in *Intake) HandleCommand(ctx context.Context, cmd slack.SlashCommand) (*Reply, error) {
	if cmd.UserID == "" || cmd.ChannelID == "" {
		return nil, fmt.Errorf("%w: slash command without user or channel", ErrMalformed)
	}
	fields := strings.Fields(cmd.Text)
	sub := ""
	if len(fields) > 0 {
		sub = strings.ToLower(fields[0])
	}
	arg := ""
	if len(fields) > 1 {
		arg = strings.Trim(strings.Join(fields[1:], " "), "`'\"")
	}
	var reply *Reply
	switch sub {
	case "", "help":
		return ephemeral(helpText(in.opts.Command)), nil
	case "status":
	case "digest":
		reply = ephemeral(":hourglass_flowing_sand: Posting a digest in this channel…")
	case "triage":
		if arg == "" {
			return ephemeral("Usage: `" + in.opts.Command + " triage &lt;trace-id | alert fingerprint&gt;`"), nil
		}
		if len(arg) > maxCommandArg {
			return ephemeral("That is too long for a trace id or an alert fingerprint."), nil
		}
		reply = ephemeral(":hourglass_flowing_sand: Working on it…")
	default:
		return ephemeral(":grey_question: I do not know that command.\n" + helpText(in.opts.Command)), nil
	}
	p, err := json.Marshal(commandJob{Sub: sub, Arg: arg, User: cmd.UserID, Channel: cmd.ChannelID, TeamDomain: cmd.TeamDomain, ResponseURL: cmd.ResponseURL})
	if err != nil {
		return nil, fmt.Errorf("encode command: %w", err)
	}
	var keys []string
	if cmd.TriggerID != "" {
		keys = append(keys, "slack:command:"+cmd.TriggerID)
	}
	queued, err := in.enqueueOnce(ctx, keys, oncall.Job{Kind: JobSlackCommand, Channel: cmd.ChannelID, Payload: p})
	if err != nil {
		return nil, err
	}
	in.log.Info("slack command received", "sub", sub, "channel", cmd.ChannelID, "queued", queued)
	return reply, nil
}

// command runs a queued /oncall command and answers through its
// response URL (or ephemerally when there is none).
func (a *App) command(ctx context.Context, job oncall.Job, c commandJob) error {
	var r *Reply
	var err error
	switch c.Sub {
	case "status":
		r, err = a.status(ctx, c)
	case "digest":
		r, err = a.digest(ctx, c)
	case "triage":
		r, err = a.triageCommand(ctx, job, c)
	default:
		r = ephemeral(helpText(a.opts.Command))
	}
	if err != nil {
		return err
	}
	if r == nil {
		return nil
	}
	return a.reply(ctx, c, *r)
}

func (a *App) reply(ctx context.Context, c commandJob, r Reply) error {
	if c.ResponseURL != "" && a.opts.AllowResponseURL(c.ResponseURL) {
		return a.respond(ctx, c.ResponseURL, r)
	}
	if r.ResponseType == "in_channel" {
		_, _, err := a.slack.post(ctx, c.Channel, "", r.Text, r.Blocks)
		return err
	}
	return a.slack.postEphemeral(ctx, c.Channel, c.User, "", r.Text, r.Blocks)
}

// openIncidents lists the incidents not resolved, newest first.
func (a *App) openIncidents(ctx context.Context) ([]oncall.Incident, error) {
	all, err := a.opts.Store.ListIncidents(ctx, a.now().Add(-a.opts.StatusWindow))
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	var open []oncall.Incident
	for _, inc := range all {
		if inc.Status != oncall.IncidentResolved {
			open = append(open, inc)
		}
	}
	slices.SortStableFunc(open, func(x, y oncall.Incident) int { return y.OpenedAt.Compare(x.OpenedAt) })
	return open, nil
}

func (a *App) status(ctx context.Context, c commandJob) (*Reply, error) {
	open, err := a.openIncidents(ctx)
	if err != nil {
		return nil, err
	}
	blocks := RenderStatus(open, c.TeamDomain, a.now(), a.slack.render)
	return &Reply{ResponseType: "ephemeral", Text: fmt.Sprintf("%d open incidents", len(open)), Blocks: blocks}, nil
}

func (a *App) digest(ctx context.Context, c commandJob) (*Reply, error) {
	if a.opts.Digester == nil {
		return ephemeral("Digests are not set up on this copilot."), nil
	}
	if err := a.opts.Digester.PostDigest(ctx, c.Channel); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.log.Error("digest failed", "channel", c.Channel, "err", err)
		return ephemeral(":warning: The digest could not be posted; the error is in the copilot's log."), nil
	}
	return &Reply{ResponseType: "ephemeral", Text: "Digest posted.", Blocks: noteBlocks(":white_check_mark: Digest posted."), ReplaceOriginal: true}, nil
}

// traceIDRE matches what may be a trace id: hex with optional dashes.
var traceIDRE = regexp.MustCompile(`^(?:0x)?[0-9a-fA-F][0-9a-fA-F-]{7,63}$`)

// triageCommand re-runs the triage of the newest incident with an alert
// of that fingerprint (a resolved one is said to be resolved), or else
// explains the trace with that id.
func (a *App) triageCommand(ctx context.Context, job oncall.Job, c commandJob) (*Reply, error) {
	r := renderer{a.slack.render}
	recent, err := a.opts.Store.ListIncidents(ctx, a.now().Add(-a.opts.StatusWindow))
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	slices.SortStableFunc(recent, func(x, y oncall.Incident) int { return y.OpenedAt.Compare(x.OpenedAt) })
	for _, inc := range recent {
		if !hasFingerprint(inc, c.Arg) {
			continue
		}
		msg, err := a.rerun(ctx, inc, c.User)
		if err != nil {
			return nil, err
		}
		if msg != "" {
			return ephemeral(msg), nil
		}
		where := "in its thread"
		if u := permalink(c.TeamDomain, inc.Channel, inc.ThreadTS); u != "" {
			where = link(u, "in its thread")
		}
		return ephemeral(fmt.Sprintf(":repeat: Re-running the triage of *%s*; the report follows %s.", r.line(alertName(inc.Alert), 150), where)), nil
	}
	if !traceIDRE.MatchString(c.Arg) {
		return ephemeral("No open incident has an alert with fingerprint " + r.code(c.Arg, 100) + ", and it does not look like a trace id."), nil
	}
	if a.opts.Answerer == nil {
		return ephemeral("I cannot explain traces here: no model is configured for the copilot."), nil
	}
	ans, err := a.opts.Answerer.Answer(ctx, Question{
		Text:    "Triage trace " + c.Arg + ": did it fail, where did the failure start, and why? Cite the spans.",
		User:    c.User,
		Channel: c.Channel,
	})
	if err != nil {
		if ctx.Err() != nil || job.Attempts+1 < answerAttempts {
			return nil, fmt.Errorf("explain trace: %w", err)
		}
		return ephemeral("Sorry, I could not explain that trace: something failed on my side."), nil
	}
	msgs := renderAnswer(ans, a.slack.render)
	head := section(fmt.Sprintf(":mag: %s asked for the triage of trace %s", mention(c.User, r), r.code(c.Arg, 100)))
	for i, m := range msgs {
		blocks := m.blocks
		if i == 0 {
			blocks = append([]slack.Block{head}, blocks...)
		}
		if err := a.reply(ctx, c, Reply{ResponseType: "in_channel", Text: m.text, Blocks: blocks}); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// hasFingerprint reports whether the incident is the one arg names: its
// key, or the fingerprint of one of its alerts.
func hasFingerprint(inc oncall.Incident, arg string) bool {
	if arg == "" {
		return false
	}
	if strings.EqualFold(inc.Key, arg) || strings.EqualFold(inc.Alert.Fingerprint, arg) {
		return true
	}
	for _, al := range inc.Alerts {
		if strings.EqualFold(al.Fingerprint, arg) {
			return true
		}
	}
	return false
}
