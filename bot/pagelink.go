package bot

import oncall "github.com/oncall-copilot/oncall-copilot"

// reportURL is the address of the incident's full report page, when
// pages are linked.
func (r renderer) reportURL(inc oncall.Incident) string {
	if r.opts.ReportURL == nil || inc.Key == "" {
		return ""
	}
	return linkURL(r.opts.ReportURL(inc.Key))
}
