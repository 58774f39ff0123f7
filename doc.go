// Package oncall holds the domain types of oncall-copilot: alerts, traces and
// spans, incidents, jobs, clusters and diagnoses, and the small request types
// that cross package boundaries (trace queries, model chats).
//
// It imports only the standard library. Every adapter (Slack, Redis, bbolt,
// Langfuse, OpenAI, ...) converts to and from these types at its edge.
package oncall
