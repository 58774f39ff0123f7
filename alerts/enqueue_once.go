package alerts

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// OnceEnqueuer is a queue that can queue a delivery's jobs and record its
// dedupe key in one atomic step (store/redisdb does it in one round trip
// where Once, Enqueue, Forget and Once take four). It reports false for a
// replay of a delivery already queued.
type OnceEnqueuer interface {
	EnqueueOnce(ctx context.Context, key string, ttl time.Duration, jobs []oncall.Job) (bool, error)
}

// onceQueue returns the queue as an OnceEnqueuer when the same store is
// also the Deduper, so that the key it records is the one Once reads.
func (h *Handler) onceQueue() (OnceEnqueuer, bool) {
	oq, ok := h.opts.Queue.(OnceEnqueuer)
	if !ok {
		return nil, false
	}
	return oq, sameValue(h.opts.Queue, h.opts.Deduper)
}

// sameValue reports whether a and b are the same value; values of a type
// that cannot be compared are not.
func sameValue(a, b any) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// enqueueOnce queues a delivery that carries a dedupe key in one step and
// answers it: accepted, duplicate, or 503 (nothing was recorded, so the
// sender's retry gets through).
func (h *Handler) enqueueOnce(ctx context.Context, w http.ResponseWriter, log *slog.Logger, oq OnceEnqueuer, key string, n Notification, jobs []oncall.Job, outcome *string) {
	queued, err := oq.EnqueueOnce(ctx, key, h.opts.DedupeTTL, jobs)
	switch {
	case err != nil:
		log.Error("enqueue failed", "route", jobs[0].Route, "err", err)
		*outcome = "unavailable"
		unavailable(w)
		return
	case !queued:
		log.Info("webhook replay ignored", "group", n.GroupKey)
		*outcome = "duplicate"
		writeJSON(w, http.StatusOK, map[string]any{"status": "duplicate"})
		return
	}
	*outcome = "accepted"
	accepted(w, log, n, jobs)
}
