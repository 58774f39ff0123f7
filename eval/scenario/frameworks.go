package scenario

import (
	"fmt"
	"strings"
)

// framework is how one agent framework shapes a run: span names, wrapper
// chain spans, which semantic convention its instrumentation writes, and
// the language its errors and stack traces come from. The set is generic:
// the shapes are common to many frameworks, none is a copy of one.
type framework struct {
	Name        string
	Lang        string // python, typescript, go, dotnet
	GenAI       bool   // LLM and agent spans follow the OTel GenAI conventions; otherwise OpenInference
	ToolsGenAI  bool   // tool spans follow the GenAI conventions (a fleet mixing both within one trace)
	SDKVersion  string
	Root        func(agent string) string
	Step        string             // chain span around each model turn, "" for none
	ToolStep    func(n int) string // chain span around a batch of tool calls, nil for none
	LLM         func(m model) string
	Tool        func(name string) string
	Retriever   string
	Guardrail   string
	HandoffTool bool // a handoff is a tool call (transfer_to_x) around the sub-agent
	SubAgent    func(agent string) string
	MaxIter     func(n int) exc // the error when the run exhausts its iteration budget
	Parse       string          // chain span that parses structured model output
	// SystemContent records the system prompt (gen_ai.system_instructions);
	// GenAI content capture is opt-in and many deployments leave it off.
	SystemContent bool
}

// exc is an exception as instrumentations record it.
type exc struct {
	Type    string
	Message string
}

func (e exc) String() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

var frameworks = []framework{
	{
		Name: "graph", Lang: "python", SDKVersion: "1.27.0",
		Root:      func(a string) string { return a },
		Step:      "agent",
		ToolStep:  func(int) string { return "tools" },
		LLM:       func(m model) string { return m.Class },
		Tool:      func(n string) string { return n },
		Retriever: "VectorStoreRetriever",
		Guardrail: "output_guardrail",
		SubAgent:  func(a string) string { return a },
		MaxIter: func(n int) exc {
			return exc{"GraphRecursionError", fmt.Sprintf("Recursion limit of %d reached without hitting a stop condition. You can increase the limit by setting the `recursion_limit` config key.", n)}
		},
		Parse: "JsonOutputParser",
	},
	{
		Name: "agents-sdk", Lang: "python", GenAI: true, ToolsGenAI: true, SDKVersion: "1.31.1", SystemContent: true,
		Root:        func(a string) string { return "invoke_agent " + a },
		LLM:         func(m model) string { return "chat " + m.Name },
		Tool:        func(n string) string { return "execute_tool " + n },
		Retriever:   "retrieve knowledge_base",
		Guardrail:   "guardrail output_policy",
		HandoffTool: true,
		SubAgent:    func(a string) string { return "invoke_agent " + a },
		MaxIter: func(n int) exc {
			return exc{"MaxTurnsExceeded", fmt.Sprintf("Max turns (%d) exceeded", n)}
		},
		Parse: "parse_output",
	},
	{
		Name: "typed-agent", Lang: "python", GenAI: true, ToolsGenAI: true, SDKVersion: "1.29.0",
		Root:      func(a string) string { return strings.ReplaceAll(a, "-", "_") + " run" },
		ToolStep:  func(n int) string { return fmt.Sprintf("running %d tools", n) },
		LLM:       func(m model) string { return "chat " + m.Name },
		Tool:      func(n string) string { return "running tool: " + n },
		Retriever: "retrieve_context",
		SubAgent:  func(a string) string { return strings.ReplaceAll(a, "-", "_") + " run" },
		MaxIter: func(n int) exc {
			return exc{"UsageLimitExceeded", fmt.Sprintf("The next request would exceed the request_limit of %d", n)}
		},
		Parse: "validate_output",
	},
	{
		Name: "index-workflow", Lang: "python", SDKVersion: "1.26.0",
		Root:      func(string) string { return "FunctionAgent.run" },
		Step:      "AgentWorkflow.run_agent_step",
		LLM:       func(m model) string { return strings.TrimPrefix(m.Class, "Chat") + ".achat" },
		Tool:      func(n string) string { return n },
		Retriever: "VectorIndexRetriever.retrieve",
		Guardrail: "OutputGuard.validate",
		SubAgent:  func(string) string { return "FunctionAgent.run" },
		MaxIter: func(n int) exc {
			return exc{"WorkflowRuntimeError", fmt.Sprintf("Max iterations of %d reached!", n)}
		},
		Parse: "PydanticOutputParser.parse",
	},
	{
		Name: "crew", Lang: "python", ToolsGenAI: true, SDKVersion: "1.30.0",
		Root:     func(string) string { return "Crew.kickoff" },
		Step:     "Task._execute_core",
		LLM:      func(m model) string { return "completion" },
		Tool:     func(n string) string { return "execute_tool " + n },
		SubAgent: func(a string) string { return "Agent._execute_task " + a },
		MaxIter: func(n int) exc {
			return exc{"AgentMaxIterationsError", fmt.Sprintf("Agent stopped due to iteration limit (%d) or time limit.", n)}
		},
		Parse: "CrewOutputConverter.to_pydantic",
	},
	{
		Name: "ai-sdk", Lang: "typescript", GenAI: true, SDKVersion: "1.30.1",
		Root:      func(string) string { return "ai.generateText" },
		LLM:       func(model) string { return "ai.generateText.doGenerate" },
		Tool:      func(string) string { return "ai.toolCall" },
		Retriever: "ai.embed.retrieve",
		SubAgent:  func(string) string { return "ai.generateText" },
		MaxIter: func(n int) exc {
			return exc{"AgentStepLimitError", fmt.Sprintf("agent stopped after %d steps without producing a final answer", n)}
		},
		Parse: "ai.generateObject.parse",
	},
	{
		Name: "go-agent", Lang: "go", GenAI: true, SDKVersion: "1.35.0", SystemContent: true,
		Root:      func(string) string { return "agent.Run" },
		Step:      "agent.turn",
		LLM:       func(m model) string { return "chat " + m.Name },
		Tool:      func(n string) string { return "execute_tool " + n },
		Retriever: "retriever.Search",
		Guardrail: "guard.CheckOutput",
		SubAgent:  func(a string) string { return "invoke_agent " + a },
		MaxIter: func(n int) exc {
			return exc{"*agent.LimitError", fmt.Sprintf("agent: max iterations (%d) reached", n)}
		},
		Parse: "agent.decodeOutput",
	},
	{
		Name: "dotnet-kernel", Lang: "dotnet", GenAI: true, SDKVersion: "1.11.2",
		Root:      func(a string) string { return "invoke_agent " + a },
		LLM:       func(m model) string { return "chat.completions " + m.Name },
		Tool:      func(n string) string { return "execute_tool " + n },
		Retriever: "VectorStore.Search",
		SubAgent:  func(a string) string { return "invoke_agent " + a },
		MaxIter: func(n int) exc {
			return exc{"Microsoft.Agents.AgentException", fmt.Sprintf("Maximum auto invoke attempts (%d) reached.", n)}
		},
		Parse: "StructuredOutput.Deserialize",
	},
}
