// Package assistant answers engineers' questions about an incident, or
// ad-hoc questions about agent traces, with a model that may call tools:
// search traces, read a condensed trace or one span in full, list failure
// clusters, compare two windows.
//
// The loop is bounded: a step budget (the last step has no tools), no
// identical repeated tool call, every tool result capped (an oversized
// result becomes a "narrow your query" answer, never a silent cut), and
// the conversation compacted under a token budget. Everything taken from
// traces, alerts and the thread is redacted before the model sees it. A
// question the budget does not cover gets an honest partial answer that
// says what was tried.
package assistant

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/redact"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// Model is what the assistant needs of a language model: one chat call
// that may ask for tools. The llm package's Client satisfies it.
type Model interface {
	Chat(ctx context.Context, req oncall.ChatRequest) (oncall.ChatResponse, error)
}

// TraceSource is what the tools read traces from.
type TraceSource interface {
	Search(ctx context.Context, q oncall.TraceQuery) (oncall.TraceSearchResult, error)
	Get(ctx context.Context, traceID string) (oncall.Trace, error)
}

// Defaults of Options.
const (
	DefaultMaxSteps     = 6
	DefaultBudget       = 12000
	DefaultResultTokens = 2500
	DefaultAnswerTokens = 1500
	DefaultWindow       = time.Hour
	DefaultMaxTraces    = 500
)

// Options configure an Assistant.
type Options struct {
	Model    Model            // required
	Source   TraceSource      // required
	Redactor *redact.Redactor // required
	// ModelName picks the tokenizer that measures prompts.
	ModelName string
	// MaxSteps caps the model calls per question; the last has no tools.
	// Default DefaultMaxSteps; at least 2.
	MaxSteps int
	// Budget caps the prompt of every model call, in tokens: older tool
	// results and thread history are dropped to stay under it. Default
	// DefaultBudget; at least three times ResultTokens.
	Budget int
	// ResultTokens caps one tool result. Default DefaultResultTokens.
	ResultTokens int
	// AnswerTokens caps the model's completion. Default DefaultAnswerTokens.
	AnswerTokens int
	// Window is how far back a tool looks when neither the question nor
	// an incident names a window. Default DefaultWindow.
	Window time.Duration
	// MaxTraces caps the traces read per window by the analysis tools.
	// Default DefaultMaxTraces.
	MaxTraces int
	// Filters names trace attributes the trace source filters on, such as
	// service.name or gen_ai.agent.name; the tool descriptions show them.
	Filters []string
	Now     func() time.Time
	Logger  *slog.Logger
}

// Assistant answers questions. It is safe for concurrent use.
type Assistant struct {
	opts    Options
	counter triage.TokenCounter
	tools   []tool
	log     *slog.Logger
}

// New checks opts and returns an Assistant. It calls nothing.
func New(opts Options) (*Assistant, error) {
	var errs []error
	if opts.Model == nil {
		errs = append(errs, errors.New("a model is required"))
	}
	if opts.Source == nil {
		errs = append(errs, errors.New("a trace source is required"))
	}
	if opts.Redactor == nil {
		errs = append(errs, errors.New("a redactor is required"))
	}
	if opts.MaxSteps == 0 {
		opts.MaxSteps = DefaultMaxSteps
	}
	if opts.Budget == 0 {
		opts.Budget = DefaultBudget
	}
	if opts.ResultTokens == 0 {
		opts.ResultTokens = DefaultResultTokens
	}
	if opts.AnswerTokens == 0 {
		opts.AnswerTokens = DefaultAnswerTokens
	}
	if opts.Window == 0 {
		opts.Window = DefaultWindow
	}
	if opts.MaxTraces == 0 {
		opts.MaxTraces = DefaultMaxTraces
	}
	switch {
	case opts.MaxSteps < 2:
		errs = append(errs, fmt.Errorf("max steps %d: at least 2 (one with tools, one to answer)", opts.MaxSteps))
	case opts.ResultTokens < 200:
		errs = append(errs, fmt.Errorf("result tokens %d: at least 200", opts.ResultTokens))
	case opts.Budget < 3*opts.ResultTokens:
		errs = append(errs, fmt.Errorf("budget %d tokens: at least three tool results (%d)", opts.Budget, 3*opts.ResultTokens))
	}
	if opts.AnswerTokens < 0 || opts.Window < 0 || opts.MaxTraces < 0 {
		errs = append(errs, errors.New("answer tokens, window and max traces must not be negative"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("assistant: %w", errors.Join(errs...))
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Assistant{opts: opts, counter: triage.NewTokenCounter(opts.ModelName), log: opts.Logger.With("component", "assistant")}
	a.tools = a.toolset()
	return a, nil
}

// Question is one question from an engineer.
type Question struct {
	Text string
	// Incident is the incident whose thread the question was asked in;
	// nil for ad-hoc questions.
	Incident *oncall.Incident
	// History is the thread before the question, oldest first.
	History []Turn
}

// Turn is one earlier message of the thread.
type Turn struct {
	Assistant bool // said by the copilot
	Text      string
}

// Answer is the assistant's reply.
type Answer struct {
	// Text is the answer in Slack mrkdwn, redacted. A partial answer ends
	// with what was tried; ids no tool showed are removed.
	Text string
	// Partial is set when the step budget ran out or the model failed
	// before a final answer.
	Partial bool
	Steps   int       // model calls made
	Tried   []ToolUse // tool calls, in order
	// Unverified are trace or span ids the model wrote that neither the
	// incident nor any tool result showed; Text has them replaced by
	// triage.UnverifiedIDMarker.
	Unverified []string
	Model      string
	Usage      oncall.Usage
}

// ToolUse is one tool call and what came of it.
type ToolUse struct {
	Name    string
	Args    string // canonical JSON
	Outcome string // a few words: "12 traces", "not found", "too large"
}

// Answer runs the tool loop for one question. Model failures and an
// exhausted budget give a partial answer, not an error; the error is
// ctx's when it ends.
func (a *Assistant) Answer(ctx context.Context, q Question) (Answer, error) {
	if strings.TrimSpace(q.Text) == "" {
		return Answer{}, errors.New("assistant: empty question")
	}
	c := a.newConversation(q)
	ans := Answer{}
	var final string
	forced := false
	var failure error
	for step := 1; step <= a.opts.MaxSteps; step++ {
		last := step == a.opts.MaxSteps
		req := oncall.ChatRequest{MaxTokens: a.opts.AnswerTokens}
		if last {
			c.add(oncall.ChatMessage{Role: oncall.RoleSystem, Content: lastStepNote}, kindNote)
		} else {
			req.Tools = a.specs()
		}
		req.Messages = c.compact(a.toolTokens(req.Tools))
		resp, err := a.opts.Model.Chat(ctx, req)
		ans.Steps++
		ans.Usage = ans.Usage.Add(callUsage(resp.Usage))
		if resp.Model != "" {
			ans.Model = resp.Model
		}
		if err != nil {
			if ctx.Err() != nil {
				return ans, ctx.Err()
			}
			a.log.Warn("model call failed", "step", step, "err", err)
			failure = err
			break
		}
		if len(resp.ToolCalls) == 0 || last {
			final = resp.Content
			// Reaching the last step means the model was still calling
			// tools when the budget ran out.
			forced = last
			break
		}
		c.add(oncall.ChatMessage{Role: oncall.RoleAssistant, Content: resp.Content, ToolCalls: resp.ToolCalls}, kindTurn)
		for i, call := range resp.ToolCalls {
			a.runTool(ctx, c, call, i)
		}
		if ctx.Err() != nil {
			return ans, ctx.Err()
		}
	}
	ans.Tried = c.tried
	ans.Partial = forced || failure != nil || strings.TrimSpace(final) == ""
	ans.Text, ans.Unverified = c.finish(final, failure, forced, a.opts.MaxSteps)
	return ans, nil
}

// callUsage counts a call even when the model did not report one.
func callUsage(u oncall.Usage) oncall.Usage {
	if u.Calls == 0 {
		u.Calls = 1
	}
	return u
}
