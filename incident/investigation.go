package incident

import (
	"context"
	"log/slog"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// InvestigationStore keeps what a triage saw, for the incident page. A
// Store that implements it gets each triage's investigation.
type InvestigationStore interface {
	PutInvestigation(ctx context.Context, key string, inv oncall.Investigation) error
}

// keepInvestigation stores the triage's investigation when the store
// keeps them. The thread already has the report, so a failure here is
// logged, not retried: the page then shows the report without traces.
func (s *Service) keepInvestigation(ctx context.Context, log *slog.Logger, key string, rep oncall.Report, now time.Time) {
	st, ok := s.opts.Store.(InvestigationStore)
	if !ok || rep.Investigation == nil {
		return
	}
	inv := *rep.Investigation
	inv.TriagedAt = now
	if err := st.PutInvestigation(ctx, key, inv); err != nil {
		log.Warn("investigation not kept", "err", err)
	}
}
