package scenario

import (
	"fmt"
	"strings"
)

// agentTemplate is a kind of agent a team runs: what it is for, the tools
// it may be given and what its users ask.
type agentTemplate struct {
	Name      string
	Purpose   string
	Tools     []string
	Retriever bool
	Requests  []func(c *callCtx) string
}

var agentTemplates = []agentTemplate{
	{Name: "support-agent", Purpose: "answer customer questions about orders and accounts", Retriever: true,
		Tools: []string{"lookup_order", "get_customer", "search_kb", "create_ticket", "send_email"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("Hi, where is my order %s? It was supposed to arrive yesterday.", orderID(c.r))
			},
			func(c *callCtx) string {
				return fmt.Sprintf("I changed my email to %s but I still get receipts at my old address, can you fix it?", c.v.email(c.p))
			},
			func(c *callCtx) string { return "How do I reset two-factor authentication? I lost my phone." },
			func(c *callCtx) string {
				return fmt.Sprintf("Please call me back at %s about the damaged blender I received.", c.v.phone(c.p))
			},
		}},
	{Name: "billing-agent", Purpose: "explain invoices and process refunds",
		Tools: []string{"lookup_invoice", "get_customer", "refund_payment", "send_email"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("I was charged twice on my card %s for invoice %s, please refund one of them.", c.v.card(), invoiceID(c.r))
			},
			func(c *callCtx) string {
				return fmt.Sprintf("Why is invoice %s higher than last month?", invoiceID(c.r))
			},
			func(c *callCtx) string { return "Can I switch to annual billing and get the discount applied now?" },
		}},
	{Name: "research-agent", Purpose: "research questions on the web and summarise findings with sources", Retriever: true,
		Tools: []string{"search_web", "fetch_url", "search_kb"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string { return "Summarise " + pick(c.r, searchTopics) + " with sources." },
			func(c *callCtx) string { return "Compare two sources on " + pick(c.r, searchTopics) + "." },
		}},
	{Name: "travel-agent", Purpose: "plan trips, search flights and book hotels",
		Tools: []string{"search_flights", "get_weather", "book_hotel", "convert_currency"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("Find me a flight to %s next month and a hotel for 3 nights, budget 1500 USD.", pick(c.r, cities))
			},
			func(c *callCtx) string {
				return fmt.Sprintf("What will the weather be in %s this weekend? Should I pack a jacket?", pick(c.r, cities))
			},
		}},
	{Name: "data-analyst-agent", Purpose: "answer business questions from the warehouse",
		Tools: []string{"sql_query", "run_python", "fetch_url"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return "What was revenue by region last quarter, and the growth versus the quarter before?"
			},
			func(c *callCtx) string { return "How many accounts churned in the last 30 days per region?" },
		}},
	{Name: "devops-agent", Purpose: "help engineers investigate production issues",
		Tools: []string{"query_metrics", "get_deployments", "search_logs", "create_ticket"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return "Checkout 5xx went up in the last hour, was there a deploy? Use key " + c.v.plant(c.v.GrafanaKey) + " if you need the dashboard."
			},
			func(c *callCtx) string { return "Any errors in payments logs since the last deploy?" },
		}},
	{Name: "sales-assistant", Purpose: "prepare account briefs and book meetings",
		Tools: []string{"crm_lookup", "search_web", "send_email", "schedule_meeting"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("Prep a brief on %s and book a renewal call with %s next week.", c.p.Company, c.v.email(c.p))
			},
			func(c *callCtx) string { return fmt.Sprintf("What's new at %s? Draft an intro email.", c.p.Company) },
		}},
	{Name: "hr-helpdesk-agent", Purpose: "answer employee questions about policies and benefits", Retriever: true,
		Tools: []string{"get_employee", "search_kb", "create_ticket"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return "How many PTO days do I have left and what's the parental leave policy?"
			},
			func(c *callCtx) string { return "My payslip shows the wrong bank account, can you open a ticket?" },
		}},
	{Name: "scheduling-agent", Purpose: "find meeting slots and send invitations",
		Tools: []string{"check_calendar", "schedule_meeting", "send_email", "get_weather"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("Find 30 minutes with %s on Thursday and send an invite.", c.v.email(c.p))
			},
			func(c *callCtx) string { return "Move my 3pm to tomorrow morning if I'm free." },
		}},
	{Name: "returns-agent", Purpose: "handle returns, exchanges and refunds for orders",
		Tools: []string{"lookup_order", "create_return_label", "refund_payment", "send_email"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("Order %s arrived damaged, I want a refund to my card ending %s.", orderID(c.r), last4(pick(c.r, c.v.Cards)))
			},
			func(c *callCtx) string {
				return fmt.Sprintf("The shoes in %s are too small, can I exchange them?", orderID(c.r))
			},
		}},
	{Name: "compliance-agent", Purpose: "screen counterparties and answer policy questions", Retriever: true,
		Tools: []string{"screen_sanctions", "sql_query", "search_kb", "create_ticket"},
		Requests: []func(c *callCtx) string{
			func(c *callCtx) string {
				return fmt.Sprintf("Screen %s before we sign the supplier contract.", c.p.Company)
			},
			func(c *callCtx) string { return "What is our data retention period for support transcripts?" },
		}},
}

func last4(card string) string {
	d := strings.NewReplacer(" ", "", "-", "").Replace(card)
	return d[len(d)-4:]
}

// routerNames are agents that only route a request to a specialist.
var routerNames = []string{"concierge-agent", "frontdesk-agent", "triage-router", "orchestrator-agent"}

func templateNamed(name string) *agentTemplate {
	for i := range agentTemplates {
		if agentTemplates[i].Name == name {
			return &agentTemplates[i]
		}
	}
	return nil
}

// agent is one deployed agent in a scenario's fleet.
type agent struct {
	Name      string
	Tmpl      *agentTemplate
	Service   string
	Version   string
	Env       string
	EnvKey    string // deployment.environment or deployment.environment.name
	Region    string
	Cloud     string
	Pods      []string
	FW        framework
	Model     model
	Tools     []*tool
	Retriever bool
	Guardrail bool
	// Structured agents ask for JSON answers and parse them.
	Structured bool
	Subs       []*agent // specialists a router hands off to
	Prompt     int      // prompt template version
	MaxIter    int
}

func (a *agent) promptVersion(v int) string { return fmt.Sprintf("v%d", v) }

func (a *agent) system() string {
	if len(a.Subs) > 0 {
		names := make([]string, len(a.Subs))
		for i, s := range a.Subs {
			names[i] = s.Name
		}
		return fmt.Sprintf("You are %s. Hand the request off to the right specialist: %s.", a.Name, strings.Join(names, ", "))
	}
	return fmt.Sprintf("You are %s. You %s. Use tools for facts; never invent data.", a.Name, a.Tmpl.Purpose)
}

func (a *agent) tool(name string) *tool {
	for _, t := range a.Tools {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// newAgent deploys an agent of template tmpl with the given framework and
// model, drawing the rest (service, version, tools, region) from r.
func newAgent(r *rng, name string, tmpl *agentTemplate, fw framework, m model, env, cloud, region string) *agent {
	a := &agent{
		Name: name, Tmpl: tmpl, FW: fw, Model: m, Env: env, Cloud: cloud, Region: region,
		Version:   fmt.Sprintf("%d.%d.%d", r.between(1, 3), r.between(0, 30), r.between(0, 9)),
		Prompt:    r.between(3, 27),
		MaxIter:   pick(r, []int{8, 10, 12, 15, 25}),
		Guardrail: fw.Guardrail != "" && r.percent(40),
		Retriever: tmpl.Retriever && fw.Retriever != "",
		EnvKey:    pick(r, []string{"deployment.environment", "deployment.environment.name"}),
	}
	switch r.intn(3) {
	case 0:
		a.Service = name
	case 1:
		a.Service = name + "-svc"
	default:
		a.Service = strings.TrimSuffix(name, "-agent") + "-api"
	}
	n := min(len(tmpl.Tools), r.between(3, 4))
	for _, tn := range sample(r, tmpl.Tools, n) {
		a.Tools = append(a.Tools, tools[tn])
	}
	a.Structured = r.percent(30)
	for i := 0; i < r.between(2, 3); i++ {
		a.Pods = append(a.Pods, fmt.Sprintf("%s-%s-%s", a.Service, r.chars(9, "bcdfghjklmnpqrstvwxz2456789"), r.chars(5, "bcdfghjklmnpqrstvwxz2456789")))
	}
	return a
}

// ensureTool gives a the named tool if it lacks it.
func (a *agent) ensureTool(name string) *tool {
	if t := a.tool(name); t != nil {
		return t
	}
	a.Tools[len(a.Tools)-1] = tools[name]
	return tools[name]
}
