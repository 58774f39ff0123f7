package digest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"
)

// OnDemandOptions configure an OnDemand.
type OnDemandOptions struct {
	// Build computes a digest, usually (*Builder).Build. Required.
	Build  func(ctx context.Context, req Request) (Digest, error)
	Poster Poster // required
	// Window is how far back a digest looks; 24h when zero.
	Window   time.Duration
	Location *time.Location // zone times are shown in; UTC when nil
	Now      func() time.Time
}

// OnDemand posts the digest of the last Window when someone asks for it
// (/oncall digest), quiet or not, with no idempotency: each request
// posts. It is safe for concurrent use.
type OnDemand struct{ opts OnDemandOptions }

// NewOnDemand checks opts and returns an OnDemand.
func NewOnDemand(opts OnDemandOptions) (*OnDemand, error) {
	var errs []error
	if opts.Build == nil {
		errs = append(errs, errors.New("a build function is required"))
	}
	if opts.Poster == nil {
		errs = append(errs, errors.New("a poster is required"))
	}
	if opts.Window < 0 {
		errs = append(errs, errors.New("window must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("digest on demand: %w", err)
	}
	opts.Window = cmp.Or(opts.Window, 24*time.Hour)
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &OnDemand{opts: opts}, nil
}

// PostDigest builds the digest of the window that ends now and posts it
// to channel with its chart.
func (o *OnDemand) PostDigest(ctx context.Context, channel string) error {
	end := o.opts.Now()
	d, err := o.opts.Build(ctx, Request{Name: "on demand", Start: end.Add(-o.opts.Window), End: end, Location: o.opts.Location})
	if err != nil {
		return fmt.Errorf("digest for %s: %w", channel, err)
	}
	chart, err := Chart(d)
	if err != nil {
		return fmt.Errorf("digest for %s: %w", channel, err)
	}
	if err := o.opts.Poster.SendDigest(ctx, channel, d, chart, ChartAlt(d)); err != nil {
		return fmt.Errorf("digest for %s: %w", channel, err)
	}
	return nil
}
