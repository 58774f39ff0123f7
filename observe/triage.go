// Package observe measures and traces the copilot's own units of work:
// each triage becomes a self trace with its steps, and is counted by how
// it was diagnosed.
package observe

import (
	"context"
	"log/slog"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
	"github.com/oncall-copilot/oncall-copilot/metrics"
	"github.com/oncall-copilot/oncall-copilot/selftrace"
	"github.com/oncall-copilot/oncall-copilot/triage"
)

// TriageOptions configure a Triage.
type TriageOptions struct {
	Service *triage.Service   // required
	Tracer  *selftrace.Tracer // nil: no self traces
	Metrics *metrics.Metrics  // required
	Logger  *slog.Logger      // nil: discard
	ModelOn bool              // whether triage has a model to call
}

// Triage runs a triage in its two steps, each a chain span under the
// triage's root agent span, and counts it by outcome. It is safe for
// concurrent use.
type Triage struct {
	svc     *triage.Service
	tracer  *selftrace.Tracer
	metrics *metrics.Metrics
	log     *slog.Logger
	modelOn bool
}

// NewTriage wraps opts.Service.
func NewTriage(opts TriageOptions) *Triage {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Triage{svc: opts.Service, tracer: opts.Tracer, metrics: opts.Metrics, log: log, modelOn: opts.ModelOn}
}

// Triage triages req, as triage.Service.Triage does.
func (o *Triage) Triage(ctx context.Context, req oncall.TriageRequest) (oncall.Report, error) {
	start := time.Now()
	tr := o.tracer
	ctx, root := tr.Start(ctx, "triage", oncall.KindAgent)
	defer root.End()
	root.Set("oncall.alert.name", req.Alert.Name, "oncall.alert.kind", string(req.Alert.Kind()), "oncall.route", req.Route)
	done := func(outcome string, rep oncall.Report, err error) {
		root.Set("triage.outcome", outcome)
		if err != nil {
			root.Fail(err)
		} else {
			root.OK()
		}
		o.metrics.TriageDone(outcome, rep.TracesExamined, time.Since(start))
		b := selftrace.Baggage(ctx)
		o.log.InfoContext(ctx, "triage finished", "incident", b["oncall.incident.key"], "job", b["oncall.job.id"],
			"outcome", outcome, "traces", rep.TracesExamined, "clusters", len(rep.Clusters), "took", time.Since(start).Round(time.Millisecond))
	}

	pctx, prep := tr.Start(ctx, "triage.prepare", oncall.KindChain)
	p, err := o.svc.Prepare(pctx, req)
	if err != nil {
		prep.Fail(err)
		prep.End()
		done("error", oncall.Report{}, err)
		return oncall.Report{}, err
	}
	prep.SetInt("triage.traces", len(p.Traces))
	prep.SetInt("triage.failing_traces", p.Report.FailingTraces)
	prep.SetInt("triage.clusters", len(p.Report.Clusters))
	prep.SetInt("triage.missing", len(p.Report.Missing))
	prep.SetInt("triage.evidence_tokens", p.Evidence.Tokens)
	prep.SetInt("triage.evidence_cut", len(p.Evidence.Cut))
	prep.OK()
	prep.End()

	fctx, fin := tr.Start(ctx, "triage.finish", oncall.KindChain)
	rep, err := o.svc.Finish(fctx, p)
	if err != nil {
		fin.Fail(err)
		fin.End()
		done("error", oncall.Report{}, err)
		return rep, err
	}
	outcome := Outcome(rep, req, o.modelOn)
	fin.Set("triage.diagnosis", outcome)
	fin.OK()
	fin.End()
	done(outcome, rep, nil)
	return rep, nil
}

// Outcome says how a finished triage was diagnosed: by the model
// (diagnosed), deterministically by choice (offline), or
// deterministically because the model failed (model_failed).
func Outcome(rep oncall.Report, req oncall.TriageRequest, modelOn bool) string {
	switch {
	case rep.Diagnosis != nil && rep.Diagnosis.Offline == "":
		return "diagnosed"
	case modelOn && !req.Options.Offline():
		return "model_failed"
	}
	return "offline"
}
