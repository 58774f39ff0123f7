// Package scenario generates realistic synthetic agent traces and labelled
// triage scenarios: the example that oncall-copilot's quick start triages
// and the scenarios its eval harness scores the triage on. Everything is
// invented (agents, tools, users, secrets) and deterministic: a Spec's seed
// fixes every byte of the output.
//
// A scenario is a fleet of agents running in one environment. Each run is
// one trace: a root agent span (OpenInference AGENT or GenAI invoke_agent),
// framework chain spans, model calls with model, provider, tokens, cost
// and messages, tool calls with arguments and results, HTTP and database
// client spans under the tools, retrievers, guardrails, output parsers and
// handoffs to specialist agents, some of them in other services. Agents
// built on different frameworks name their spans differently and write
// the OpenInference or the OTel GenAI conventions, or both within a trace.
//
// The cause of the incident starts at an onset and shows only in runs
// after it. The alert fires at T (its startsAt) a few minutes later, at
// the first evaluation at which its rule has held long enough. The
// incident window is [T-30m, T+30m) and the baseline window [T-90m,
// T-30m). The store holds a fleet: other services' agents, one of which,
// in about half the scenarios, has its own louder incident in the same
// window; agents write deployment.environment or the newer
// deployment.environment.name, and the alert names service, agent and
// environment with labels of its own (service_name, app, stage…). Steady
// background failures (client disconnects, 404s from lookups, empty
// retrievals, guardrail warnings, one-off 429s, arguments or answers
// corrected on retry) hit
// both windows at the same rate; in noisy scenarios one of them is more
// frequent in the incident window than the cause. Errors propagate the way
// they do in real frameworks: the failing span records an exception event,
// its HTTP child carries the status, and the chain and agent spans above
// end in error, often with a wrapped message.
//
// Trace content is untrusted on purpose: tool outputs and user messages
// carry prompt-injection text, and credentials and personal data (API
// keys, tokens, JWTs, passwords, emails, phone numbers, Luhn-valid card
// numbers) are planted in arguments, outputs, prompts, span attributes,
// exception messages and alert annotations. Expected.PlantedSecrets lists
// every planted value.
//
// On disk a scenario directory holds alert.json (an Alertmanager webhook,
// version 4), traces/<service>.jsonl (one OTLP/JSON export request per
// line, one trace per line, grouped by the service of the root span) and
// expected.json (Expected); the bundled scenarios' trace files are
// gzipped. WriteExamples writes the quickstart and the
// Catalog; Load and LoadAll read directories back. examples/README.md
// describes the layout for readers. Every function is safe for concurrent
// use: the package's pools of names are read-only.
package scenario
