package bot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/slack-go/slack"

	"github.com/oncall-copilot/oncall-copilot/retry"
)

// Names of the chart file a digest uploads.
const (
	digestChartName  = "digest-chart.png"
	digestChartTitle = "Digest chart"
)

// maxAltChars is Slack's limit on a file's alternative text.
const maxAltChars = 1000

// PostDigest posts a digest message built elsewhere (blocks and their
// notification text, already safe mrkdwn) to channel, then, when chart
// is not empty, uploads the chart PNG into the message's thread with
// Slack's external upload flow (files.getUploadURLExternal, the upload,
// files.completeUploadExternal), described by chartAlt.
//
// Each step is retried on its own under the retry policy. When the chart
// fails the message stays posted and the error says so: sending it again
// would post the digest twice.
func (s *Slack) PostDigest(ctx context.Context, channel, text string, blocks []slack.Block, chart []byte, chartAlt string) error {
	if channel == "" {
		return fmt.Errorf("post digest: %w: no channel", ErrPermanent)
	}
	if strings.TrimSpace(text) == "" || len(blocks) == 0 {
		return fmt.Errorf("post digest to %s: %w: empty message", channel, ErrPermanent)
	}
	if len(blocks) > maxBlocks {
		return fmt.Errorf("post digest to %s: %w: %d blocks, Slack takes %d", channel, ErrPermanent, len(blocks), maxBlocks)
	}
	// The upload takes the channel's id, not a name: the one Slack
	// answers the post with.
	channelID, ts, err := s.post(ctx, channel, "", text, blocks)
	if err != nil {
		return fmt.Errorf("post digest to %s: %w", channel, err)
	}
	s.log.Info("digest posted", "channel", channelID, "ts", ts)
	if len(chart) == 0 {
		return nil
	}
	if err := s.uploadChart(ctx, channelID, ts, chart, chartAlt); err != nil {
		return fmt.Errorf("post digest to %s: message posted, chart not: %w", channel, err)
	}
	return nil
}

// uploadChart uploads a PNG into the thread of ts.
func (s *Slack) uploadChart(ctx context.Context, channel, ts string, png []byte, alt string) error {
	alt = renderer{}.line(alt, maxAltChars-50)
	var up *slack.GetUploadURLExternalResponse
	err := s.callUnpaced(ctx, "files.getUploadURLExternal", func(ctx context.Context) error {
		r, err := s.api.GetUploadURLExternalContext(ctx, slack.GetUploadURLExternalParameters{
			FileName: digestChartName, FileSize: len(png), AltTxt: alt,
		})
		up = r
		return err
	})
	if err != nil {
		return fmt.Errorf("upload chart: %w", err)
	}
	if up == nil || up.UploadURL == "" || up.FileID == "" {
		return fmt.Errorf("upload chart: %w: %w", ErrPermanent, errNoUploadURL)
	}
	err = s.callUnpaced(ctx, "files.upload", func(ctx context.Context) error {
		return s.api.UploadToURL(ctx, slack.UploadToURLParameters{
			UploadURL: up.UploadURL, Reader: bytes.NewReader(png), Filename: digestChartName,
		})
	})
	if err != nil {
		return fmt.Errorf("upload chart: %w", err)
	}
	var done *slack.CompleteUploadExternalResponse
	err = s.call(ctx, "files.completeUploadExternal", channel, func(ctx context.Context) error {
		r, err := s.api.CompleteUploadExternalContext(ctx, slack.CompleteUploadExternalParameters{
			Files:           []slack.FileSummary{{ID: up.FileID, Title: digestChartTitle}},
			Channel:         channel,
			ThreadTimestamp: ts,
		})
		done = r
		return err
	})
	if err != nil {
		return fmt.Errorf("share chart: %w", err)
	}
	if len(done.Files) != 1 {
		return fmt.Errorf("share chart: %w: Slack completed %d files, want 1", ErrPermanent, len(done.Files))
	}
	s.log.Info("digest chart uploaded", "channel", channel, "ts", ts, "file", done.Files[0].ID)
	return nil
}

// callUnpaced runs a Web API call that posts nothing to a channel (the
// first two upload steps) under the retry policy, without the per-channel
// pacing of messages.
func (s *Slack) callUnpaced(ctx context.Context, method string, fn func(ctx context.Context) error) error {
	attempt := 0
	return retry.Do(ctx, s.retry, func(ctx context.Context) error {
		attempt++
		err := classify(method, fn(ctx))
		if err != nil {
			err = s.scrub(err)
			s.log.Warn("slack call failed", "method", method, "attempt", attempt, "retryable", !retry.IsPermanent(err), "err", err)
		}
		return err
	})
}

// errNoUploadURL is a files.getUploadURLExternal answer without an
// upload URL or file id.
var errNoUploadURL = errors.New("slack gave no upload url")
