package selftrace

import (
	"context"
	"time"

	oncall "github.com/oncall-copilot/oncall-copilot"
)

// enqueue hands a finished trace to the exporter without waiting: a full
// queue drops it.
func (t *Tracer) enqueue(tr oncall.Trace) {
	tr.Source = SourceName
	tr.Finish()
	select {
	case t.queue <- tr:
	default:
		t.drop(len(tr.Spans))
	}
}

func (t *Tracer) drop(n int) {
	t.dropped.Add(int64(n))
	t.opts.Observer.SelfTraceSpans("dropped", n)
}

// Run exports finished traces in batches until ctx ends, then exports
// what is still queued within the export timeout. It returns nil; export
// failures are logged and counted, never returned, because tracing must
// not stop the server.
func (t *Tracer) Run(ctx context.Context) error {
	if t == nil {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(t.opts.FlushInterval)
	defer tick.Stop()
	batch := make([]oncall.Trace, 0, t.opts.BatchSize)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), t.opts.ExportTimeout)
			defer cancel()
			t.export(fctx, batch)
			_ = t.Flush(fctx)
			return nil
		case tr := <-t.queue:
			batch = append(batch, tr)
			if len(batch) >= t.opts.BatchSize {
				t.export(ctx, batch)
				batch = batch[:0]
			}
		case <-tick.C:
			if len(batch) > 0 {
				t.export(ctx, batch)
				batch = batch[:0]
			}
		}
	}
}

// Flush exports every trace queued now, in batches, and returns ctx's
// error if it ends first. Tests and one-shot commands call it; a server
// lets Run do it.
func (t *Tracer) Flush(ctx context.Context) error {
	if t == nil {
		return nil
	}
	for {
		batch := make([]oncall.Trace, 0, t.opts.BatchSize)
	fill:
		for len(batch) < t.opts.BatchSize {
			select {
			case tr := <-t.queue:
				batch = append(batch, tr)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return nil
		}
		t.export(ctx, batch)
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// export sends one batch under the export timeout.
func (t *Tracer) export(ctx context.Context, batch []oncall.Trace) {
	if len(batch) == 0 {
		return
	}
	spans := 0
	for i := range batch {
		spans += len(batch[i].Spans)
	}
	t.exportMu.Lock()
	defer t.exportMu.Unlock()
	ectx, cancel := context.WithTimeout(ctx, t.opts.ExportTimeout)
	defer cancel()
	if err := t.opts.Sink.Export(ectx, batch); err != nil {
		t.failed.Add(int64(spans))
		t.opts.Observer.SelfTraceSpans("failed", spans)
		t.log.Warn("self-trace export failed", "traces", len(batch), "spans", spans, "err", err)
		return
	}
	t.exported.Add(int64(spans))
	t.opts.Observer.SelfTraceSpans("exported", spans)
}
