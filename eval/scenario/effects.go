package scenario

// effects is what a scenario does to one run beyond the healthy path: the
// cause of its incident when the run is affected, and the steady
// background noise every fleet has.
type effects struct {
	// Causes.
	tool       map[string]*toolFault // tool name: how its calls fail
	llm        *llmFault
	loopTool   string // the model keeps calling this tool until the iteration budget runs out
	handoff    *handoffFault
	badArgs    *badArgs
	parseFail  bool           // the model's structured output does not parse
	slow       map[string]int // "llm", "retriever", "tool:<name>": latency multiplier
	inflate    int64          // extra prompt tokens per model call (a bloated prompt)
	reflect    int            // extra critique/revise model turns per run
	model      *model         // model override for the run
	prompt     int            // prompt version override, 0 for the agent's own
	topK       int            // retriever returns this many long documents
	history    int            // earlier conversation turns carried in the prompt
	bigOutput  int            // bytes of one tool output recorded in full; -1 records a huge output truncated
	pod        string         // run on this pod
	causeLabel string         // "cause" for affected runs, or ""
	costly     bool           // the cause is what model calls cost: mark every model call

	// Background.
	emptyRetrieval bool
	guardWarn      bool
	notFound       string // lookup tool answering 404, handled by the agent
	parseRetry     bool   // the first structured output fails to parse, a retry succeeds
	argRetry       string // tool whose first call has invalid arguments, corrected on retry
	rateLimitOnce  bool   // one 429 then success
	cancel         bool   // the caller disconnects mid-run
	inject         string // instructions hidden in a tool output
	injectUser     string // instructions pasted into the user message
}

type faultKind int

const (
	faultTimeout faultKind = iota
	faultStatus
	faultStatementTimeout
	faultConnect
)

type toolFault struct {
	kind    faultKind
	code    int    // HTTP status for faultStatus
	secs    int    // timeout for faultTimeout
	retries int    // extra attempts the HTTP client makes before giving up
	body    string // upstream response body
}

type llmFaultKind int

const (
	llmRateLimit llmFaultKind = iota
	llmContext
	llmAuth
)

type llmFault struct {
	kind     llmFaultKind
	failures int   // rate limit: attempts that fail before one succeeds
	attempts int   // rate limit: attempts the framework makes at most
	tokens   int64 // context: the prompt size the provider reports
	turn     int   // context: the model turn that overflows, or afterBigOutput
}

// afterBigOutput makes a context overflow hit the first model call after
// a huge tool output.
const afterBigOutput = -2

type handoffKind int

const (
	handoffConnect handoffKind = iota // the specialist's service refuses connections
	handoffPayload                    // the specialist rejects the handoff input
	handoffMissing                    // the specialist is not registered
)

type handoffFault struct {
	to    string
	kind  handoffKind
	field string
}

type badArgs struct {
	tool  string
	field string // required field the model leaves out
	wrong string // name the model uses instead
	tries int    // rejected calls so far in the run
}

func (fx *effects) slowBy(key string) int {
	if fx.slow == nil || fx.slow[key] == 0 {
		return 1
	}
	return fx.slow[key]
}
