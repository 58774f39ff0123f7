package eval

import oncall "github.com/oncall-copilot/oncall-copilot"

func scenarioCluster(kind, span, tool, errText string) oncall.Cluster {
	return oncall.Cluster{SpanKind: oncall.SpanKind(kind), SpanName: span, ToolName: tool, Error: errText, Signature: kind + " " + span + ": " + errText}
}
