package scenario

// model is one chat model an agent may call. Prices are in milli-dollars
// per million tokens so that costs are computed in integer nano-dollars
// (one token at price p costs p nano-dollars) and stay identical on every
// platform.
type model struct {
	Name      string // what the agent requests
	Response  string // what the provider answers with (a dated snapshot)
	Family    string // openai, anthropic, gemini, llama, mistral: selects error wording
	Provider  string // gen_ai.provider.name
	OIProv    string // llm.provider as OpenInference spells it
	Class     string // the framework client class that wraps it
	Context   int64  // context window, tokens
	PriceIn   int64  // milli-dollars per million input tokens
	PriceOut  int64  // milli-dollars per million output tokens
	MsPerTok  int    // generation speed, milliseconds per output token
	FirstByte int    // typical time to first token, milliseconds
}

var models = []model{
	{Name: "gpt-4o", Response: "gpt-4o-2024-08-06", Family: "openai", Provider: "openai", OIProv: "openai", Class: "ChatOpenAI", Context: 128000, PriceIn: 2500, PriceOut: 10000, MsPerTok: 12, FirstByte: 450},
	{Name: "gpt-4o-mini", Response: "gpt-4o-mini-2024-07-18", Family: "openai", Provider: "openai", OIProv: "openai", Class: "ChatOpenAI", Context: 128000, PriceIn: 150, PriceOut: 600, MsPerTok: 8, FirstByte: 300},
	{Name: "gpt-4.1", Response: "gpt-4.1-2025-04-14", Family: "openai", Provider: "openai", OIProv: "openai", Class: "ChatOpenAI", Context: 1047576, PriceIn: 2000, PriceOut: 8000, MsPerTok: 11, FirstByte: 420},
	{Name: "gpt-4.1-mini", Response: "gpt-4.1-mini-2025-04-14", Family: "openai", Provider: "openai", OIProv: "openai", Class: "ChatOpenAI", Context: 1047576, PriceIn: 400, PriceOut: 1600, MsPerTok: 8, FirstByte: 320},
	{Name: "claude-3-5-sonnet", Response: "claude-3-5-sonnet-20241022", Family: "anthropic", Provider: "anthropic", OIProv: "anthropic", Class: "ChatAnthropic", Context: 200000, PriceIn: 3000, PriceOut: 15000, MsPerTok: 14, FirstByte: 600},
	{Name: "claude-3-5-haiku", Response: "claude-3-5-haiku-20241022", Family: "anthropic", Provider: "anthropic", OIProv: "anthropic", Class: "ChatAnthropic", Context: 200000, PriceIn: 800, PriceOut: 4000, MsPerTok: 9, FirstByte: 380},
	{Name: "gemini-1.5-pro", Response: "gemini-1.5-pro-002", Family: "gemini", Provider: "gcp.gemini", OIProv: "google", Class: "ChatGoogleGenerativeAI", Context: 2097152, PriceIn: 1250, PriceOut: 5000, MsPerTok: 10, FirstByte: 700},
	{Name: "gemini-1.5-flash", Response: "gemini-1.5-flash-002", Family: "gemini", Provider: "gcp.gemini", OIProv: "google", Class: "ChatGoogleGenerativeAI", Context: 1048576, PriceIn: 75, PriceOut: 300, MsPerTok: 5, FirstByte: 350},
	{Name: "llama-3.1-70b", Response: "llama-3.1-70b-versatile", Family: "llama", Provider: "groq", OIProv: "groq", Class: "ChatGroq", Context: 131072, PriceIn: 590, PriceOut: 790, MsPerTok: 4, FirstByte: 250},
	{Name: "mistral-large", Response: "mistral-large-2411", Family: "mistral", Provider: "mistral_ai", OIProv: "mistralai", Class: "ChatMistralAI", Context: 131072, PriceIn: 2000, PriceOut: 6000, MsPerTok: 11, FirstByte: 500},
}

// expensiveModels are what a cost blow-up switches an agent to.
var expensiveModels = []model{
	{Name: "claude-3-opus", Response: "claude-3-opus-20240229", Family: "anthropic", Provider: "anthropic", OIProv: "anthropic", Class: "ChatAnthropic", Context: 200000, PriceIn: 15000, PriceOut: 75000, MsPerTok: 25, FirstByte: 900},
	{Name: "o1", Response: "o1-2024-12-17", Family: "openai", Provider: "openai", OIProv: "openai", Class: "ChatOpenAI", Context: 200000, PriceIn: 15000, PriceOut: 60000, MsPerTok: 20, FirstByte: 2500},
	{Name: "gpt-4.5-preview", Response: "gpt-4.5-preview-2025-02-27", Family: "openai", Provider: "openai", OIProv: "openai", Class: "ChatOpenAI", Context: 128000, PriceIn: 75000, PriceOut: 150000, MsPerTok: 22, FirstByte: 1100},
}

// costNanos is what a call costs in nano-dollars.
func (m model) costNanos(in, out int64) int64 { return in*m.PriceIn + out*m.PriceOut }

// usd converts nano-dollars to dollars with one exactly-rounded division.
func usd(nanos int64) float64 { return float64(nanos) / 1e9 }
