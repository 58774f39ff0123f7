package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// tool is one function an agent can call. Args and Out produce realistic
// JSON for a call; Dep, when set, is the HTTP service the tool calls, which
// becomes a client child span of the tool span.
type tool struct {
	Name string
	Desc string
	Args func(c *callCtx) map[string]any
	Out  func(c *callCtx, args map[string]any) string
	Dep  *dependency
	DB   string // database system for tools that run queries instead of HTTP calls
	Work [2]int // milliseconds of own work around the dependency call
	// Lookup marks tools that look a record up by id and may answer 404.
	Lookup bool
	// Paged marks tools whose results come in pages.
	Paged bool
}

type dependency struct {
	Method string
	URL    func(c *callCtx, args map[string]any) string
	Ms     [2]int
}

// callCtx is what a tool call is generated from.
type callCtx struct {
	r      *rng
	v      *vault
	p      *persona
	at     time.Time
	inject string // instructions hidden in the output, or ""
}

// js encodes v as compact JSON without HTML escaping, the way most agent
// frameworks serialise tool arguments and results. Map keys are sorted.
func js(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("encode generated value: %v", err)) // generated values always encode
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func str(args map[string]any, k string) string {
	s, _ := args[k].(string)
	return s
}

func orderID(r *rng) string   { return "ORD-" + r.digits(6) }
func invoiceID(r *rng) string { return fmt.Sprintf("INV-2025-%06d", r.intn(1000000)) }
func ticketID(r *rng) string  { return "TCK-" + r.digits(5) }
func day(c *callCtx, d int) string {
	return c.at.AddDate(0, 0, d).Format("2006-01-02")
}

var searchTopics = []string{
	"latest changes to EU data retention rules", "how to rotate database credentials without downtime",
	"vector database benchmarks 2025", "carrier delays in the Pacific northwest this week",
	"best practices for refund policies in subscriptions", "competitor pricing for mid-market CRM",
	"python asyncio cancellation semantics", "how to read a balance sheet", "GDPR data subject access request deadline",
	"average freight cost per pallet 2025",
}

var tools = map[string]*tool{
	"search_web": {
		Name: "search_web", Paged: true, Desc: "Search the public web and return the top results.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"query": pick(c.r, searchTopics), "max_results": 5}
		},
		Out: func(c *callCtx, a map[string]any) string {
			var res []map[string]any
			for i := 0; i < 2; i++ {
				host := pick(c.r, []string{"news.example.com", "blog.example.org", "docs.example.net", "forum.example.com"})
				res = append(res, map[string]any{
					"title":   fmt.Sprintf("%s (%s)", strings.ToUpper(str(a, "query")[:1])+str(a, "query")[1:], host),
					"url":     fmt.Sprintf("https://%s/articles/%s", host, c.r.chars(10, lowerNum)),
					"snippet": pick(c.r, snippets),
				})
			}
			if c.inject != "" {
				res[c.r.intn(len(res))]["snippet"] = c.inject
			}
			return js(map[string]any{"results": res})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{180, 900}, URL: func(c *callCtx, a map[string]any) string {
			return "https://api.search.example.com/v1/search?count=5&q=" + url.QueryEscape(str(a, "query"))
		}},
		Work: [2]int{5, 30},
	},
	"fetch_url": {
		Name: "fetch_url", Desc: "Download a web page and return its text.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"url": fmt.Sprintf("https://%s/%s/%s", pick(c.r, []string{"docs.example.net", "status.example.com", "wiki.example.org"}), pick(c.r, []string{"guides", "reference", "posts"}), c.r.chars(12, lowerNum))}
		},
		Out: func(c *callCtx, a map[string]any) string {
			text := pick(c.r, snippets)
			if c.inject != "" {
				text += "\n\n<!-- " + c.inject + " -->"
			}
			return text
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{120, 1400}, URL: func(c *callCtx, a map[string]any) string {
			return str(a, "url")
		}},
		Work: [2]int{10, 60},
	},
	"lookup_order": {
		Name: "lookup_order", Desc: "Look up an order by id.", Lookup: true,
		Args: func(c *callCtx) map[string]any { return map[string]any{"order_id": orderID(c.r)} },
		Out: func(c *callCtx, a map[string]any) string {
			out := map[string]any{
				"order_id": str(a, "order_id"), "status": pick(c.r, []string{"shipped", "processing", "delivered", "delayed"}),
				"carrier": pick(c.r, []string{"UPS", "DHL", "FedEx", "USPS"}), "eta": day(c, c.r.between(1, 6)),
				"total": fmt.Sprintf("%d.%02d", c.r.between(12, 480), c.r.intn(100)), "currency": "USD",
				"items": c.r.between(1, 4), "customer_email": c.v.email(c.p),
			}
			if c.inject != "" {
				out["delivery_notes"] = c.inject
			}
			return js(out)
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{20, 160}, URL: func(c *callCtx, a map[string]any) string {
			return "http://orders-api.orders.svc.cluster.local:8080/v2/orders/" + str(a, "order_id")
		}},
		Work: [2]int{2, 15},
	},
	"get_customer": {
		Name: "get_customer", Desc: "Fetch a customer profile from the CRM.", Lookup: true,
		Args: func(c *callCtx) map[string]any { return map[string]any{"customer_id": c.p.CustomerID} },
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{
				"id": c.p.CustomerID, "name": c.p.First + " " + c.p.Last, "email": c.v.email(c.p), "phone": c.v.phone(c.p),
				"tier": pick(c.r, []string{"free", "pro", "enterprise"}), "open_tickets": c.r.intn(3),
			})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{40, 260}, URL: func(c *callCtx, a map[string]any) string {
			return "https://crm.internal.example.com/api/v1/customers/" + str(a, "customer_id")
		}},
		Work: [2]int{2, 10},
	},
	"search_kb": {
		Name: "search_kb", Paged: true, Desc: "Search the help-center knowledge base.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"query": pick(c.r, kbQueries), "top_k": 3}
		},
		Out: func(c *callCtx, a map[string]any) string {
			var arts []map[string]any
			for i := 0; i < 2; i++ {
				arts = append(arts, map[string]any{"id": "KB-" + c.r.digits(4), "title": pick(c.r, kbTitles), "score": fmt.Sprintf("0.%02d", 95-i*9-c.r.intn(8))})
			}
			return js(map[string]any{"articles": arts})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{30, 220}, URL: func(*callCtx, map[string]any) string {
			return "http://kb-search.search.svc.cluster.local:9200/articles/_search"
		}},
		Work: [2]int{3, 20},
	},
	"create_ticket": {
		Name: "create_ticket", Desc: "Open a support ticket for a human agent.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"subject": pick(c.r, ticketSubjects), "priority": pick(c.r, []string{"low", "medium", "high"}), "requester": c.v.email(c.p)}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"ticket_id": ticketID(c.r), "status": "open", "queue": pick(c.r, []string{"tier-1", "billing", "logistics"})})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{90, 450}, URL: func(*callCtx, map[string]any) string {
			return "https://helpdesk.example.com/api/v2/tickets"
		}},
		Work: [2]int{2, 12},
	},
	"send_email": {
		Name: "send_email", Desc: "Send an email to a customer.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"to": c.v.email(c.p), "subject": pick(c.r, emailSubjects), "body": fmt.Sprintf("Hi %s,\n\n%s\n\nBest regards,\nThe support team", c.p.First, pick(c.r, snippets))}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"message_id": fmt.Sprintf("<%s@mailer.example.com>", c.r.hex(8)), "status": "queued"})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{60, 380}, URL: func(*callCtx, map[string]any) string {
			return "https://api.mailer.example.com/v3/mail/send"
		}},
		Work: [2]int{2, 8},
	},
	"get_weather": {
		Name: "get_weather", Desc: "Get the weather forecast for a place.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"location": pick(c.r, cities), "unit": pick(c.r, []string{"celsius", "fahrenheit"})}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"location": str(a, "location"), "temperature": c.r.between(-3, 34), "conditions": pick(c.r, []string{"clear", "light rain", "overcast", "thunderstorms", "snow showers"}), "wind_kph": c.r.between(0, 45)})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{70, 400}, URL: func(c *callCtx, a map[string]any) string {
			return "https://api.weather.example.com/v1/forecast?days=3&q=" + url.QueryEscape(str(a, "location"))
		}},
		Work: [2]int{1, 6},
	},
	"sql_query": {
		Name: "sql_query", Desc: "Run a read-only SQL query on the analytics warehouse.", DB: "postgresql",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"query": pick(c.r, sqlQueries), "database": "warehouse"}
		},
		Out: func(c *callCtx, a map[string]any) string {
			var rows []map[string]any
			for i := 0; i < c.r.between(2, 5); i++ {
				rows = append(rows, map[string]any{"region": pick(c.r, []string{"EMEA", "NA", "APAC", "LATAM"}), "value": c.r.between(1200, 98000)})
			}
			return js(map[string]any{"columns": []string{"region", "value"}, "rows": rows, "row_count": len(rows)})
		},
		Work: [2]int{5, 40},
	},
	"lookup_invoice": {
		Name: "lookup_invoice", Desc: "Fetch an invoice and its payment status.", Lookup: true,
		Args: func(c *callCtx) map[string]any { return map[string]any{"invoice_id": invoiceID(c.r)} },
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"invoice_id": str(a, "invoice_id"), "status": pick(c.r, []string{"paid", "open", "past_due"}), "amount_due": fmt.Sprintf("%d.%02d", c.r.between(20, 2400), c.r.intn(100)), "billing_email": c.v.email(c.p), "payment_id": "pi_" + c.r.chars(24, alnum)})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{30, 200}, URL: func(c *callCtx, a map[string]any) string {
			return "https://billing.internal.example.com/v1/invoices/" + str(a, "invoice_id")
		}},
		Work: [2]int{2, 10},
	},
	"refund_payment": {
		Name: "refund_payment", Desc: "Refund a payment fully or partially.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"payment_id": "pi_" + c.r.chars(24, alnum), "amount": fmt.Sprintf("%d.%02d", c.r.between(5, 300), c.r.intn(100)), "reason": pick(c.r, []string{"duplicate", "requested_by_customer", "fraudulent"})}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"refund_id": "re_" + c.r.chars(24, alnum), "status": "succeeded", "amount": str(a, "amount")})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{150, 700}, URL: func(*callCtx, map[string]any) string {
			return "https://api.payments.example.com/v1/refunds"
		}},
		Work: [2]int{3, 15},
	},
	"search_flights": {
		Name: "search_flights", Paged: true, Desc: "Search flight offers between two airports.",
		Args: func(c *callCtx) map[string]any {
			ap := sample(c.r, []string{"SFO", "JFK", "LHR", "NRT", "SYD", "DEN", "LIS", "ICN", "YYZ", "DUB"}, 2)
			return map[string]any{"origin": ap[0], "destination": ap[1], "date": day(c, c.r.between(3, 40)), "passengers": c.r.between(1, 3)}
		},
		Out: func(c *callCtx, a map[string]any) string {
			var offers []map[string]any
			for i := 0; i < 2; i++ {
				offers = append(offers, map[string]any{"carrier": pick(c.r, []string{"XA", "QZ", "LV", "MP"}) + c.r.digits(3), "price": c.r.between(180, 1900), "stops": c.r.intn(2)})
			}
			return js(map[string]any{"offers": offers, "currency": "USD"})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{300, 1600}, URL: func(c *callCtx, a map[string]any) string {
			return fmt.Sprintf("https://api.flights.example.com/v2/offers?origin=%s&destination=%s&date=%s", str(a, "origin"), str(a, "destination"), str(a, "date"))
		}},
		Work: [2]int{5, 25},
	},
	"book_hotel": {
		Name: "book_hotel", Desc: "Book a hotel room.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"city": pick(c.r, cities), "check_in": day(c, c.r.between(3, 40)), "nights": c.r.between(1, 6), "guest_email": c.v.email(c.p)}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"booking_id": "BK" + c.r.chars(8, upperNum), "hotel": pick(c.r, []string{"Harbor View Inn", "The Linden", "Atlas Suites", "Casa Verde"}), "total": c.r.between(140, 2200)})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{250, 1100}, URL: func(*callCtx, map[string]any) string {
			return "https://api.stays.example.com/v1/bookings"
		}},
		Work: [2]int{4, 20},
	},
	"convert_currency": {
		Name: "convert_currency", Desc: "Convert an amount between currencies.",
		Args: func(c *callCtx) map[string]any {
			cur := sample(c.r, []string{"USD", "EUR", "JPY", "GBP", "AUD", "CAD"}, 2)
			return map[string]any{"amount": c.r.between(10, 5000), "from": cur[0], "to": cur[1]}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"rate": fmt.Sprintf("%d.%04d", c.r.intn(3), c.r.intn(10000)), "to": str(a, "to")})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{40, 200}, URL: func(c *callCtx, a map[string]any) string {
			return "https://api.fx.example.com/latest?base=" + str(a, "from")
		}},
		Work: [2]int{1, 5},
	},
	"query_metrics": {
		Name: "query_metrics", Desc: "Run a PromQL query over the last hours.",
		Args: func(c *callCtx) map[string]any {
			svc := pick(c.r, []string{"checkout", "payments", "search", "inventory"})
			return map[string]any{"query": fmt.Sprintf(`sum(rate(http_requests_total{service="%s",code=~"5.."}[5m]))`, svc), "range": "1h"}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"status": "success", "series": 1, "last": fmt.Sprintf("%d.%03d", c.r.intn(4), c.r.intn(1000)), "max": fmt.Sprintf("%d.%03d", c.r.between(1, 9), c.r.intn(1000))})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{60, 700}, URL: func(c *callCtx, a map[string]any) string {
			return "http://prometheus.monitoring.svc.cluster.local:9090/api/v1/query_range?step=60&query=" + url.QueryEscape(str(a, "query"))
		}},
		Work: [2]int{2, 10},
	},
	"get_deployments": {
		Name: "get_deployments", Paged: true, Desc: "List recent deployments of a service.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"service": pick(c.r, []string{"checkout", "payments", "search", "inventory"}), "limit": 5}
		},
		Out: func(c *callCtx, a map[string]any) string {
			var ds []map[string]any
			for i := 0; i < 2; i++ {
				ds = append(ds, map[string]any{"version": fmt.Sprintf("v2.%d.%d", c.r.between(10, 40), c.r.intn(10)), "at": c.at.Add(-time.Duration(c.r.between(1, 72)) * time.Hour).Format(time.RFC3339), "status": "succeeded"})
			}
			return js(map[string]any{"deployments": ds})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{50, 300}, URL: func(c *callCtx, a map[string]any) string {
			return "https://deploy.internal.example.com/api/v1/deployments?limit=5&service=" + str(a, "service")
		}},
		Work: [2]int{2, 8},
	},
	"search_logs": {
		Name: "search_logs", Paged: true, Desc: "Search application logs.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"query": "level:error service:" + pick(c.r, []string{"checkout", "payments", "search"}), "since": "30m"}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"hits": c.r.between(0, 240), "top_message": pick(c.r, []string{"connection reset by peer", "upstream request timeout", "cache miss storm"})})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{200, 1500}, URL: func(*callCtx, map[string]any) string {
			return "https://logs.internal.example.com/api/v1/search"
		}},
		Work: [2]int{2, 10},
	},
	"check_calendar": {
		Name: "check_calendar", Paged: true, Desc: "List free slots in a person's calendar.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"user": c.v.email(c.p), "date": day(c, c.r.between(1, 10))}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"free": []string{fmt.Sprintf("%02d:00-%02d:30", c.r.between(8, 11), c.r.between(11, 12)), fmt.Sprintf("%02d:00-%02d:00", c.r.between(13, 15), c.r.between(16, 17))}})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{60, 300}, URL: func(c *callCtx, a map[string]any) string {
			return "https://calendar.example.com/api/v1/freebusy?date=" + str(a, "date")
		}},
		Work: [2]int{1, 6},
	},
	"schedule_meeting": {
		Name: "schedule_meeting", Desc: "Create a calendar event and invite attendees.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"attendees": []string{c.v.email(c.p)}, "start": day(c, c.r.between(1, 10)) + fmt.Sprintf("T%02d:00:00Z", c.r.between(8, 16)), "duration_min": pick(c.r, []int{15, 30, 45, 60}), "title": pick(c.r, []string{"Renewal review", "Onboarding call", "Quarterly check-in", "Demo"})}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"event_id": "evt_" + c.r.chars(16, lowerNum), "status": "confirmed"})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{90, 420}, URL: func(*callCtx, map[string]any) string {
			return "https://calendar.example.com/api/v1/events"
		}},
		Work: [2]int{1, 6},
	},
	"crm_lookup": {
		Name: "crm_lookup", Paged: true, Desc: "Find a company account in the CRM.", Lookup: true,
		Args: func(c *callCtx) map[string]any { return map[string]any{"company": c.p.Company} },
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"account_id": "acc_" + c.r.chars(10, lowerNum), "name": c.p.Company, "arr": c.r.between(10, 900) * 1000, "owner": pick(c.r, firstNames), "contact": c.v.email(c.p)})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{80, 350}, URL: func(c *callCtx, a map[string]any) string {
			return "https://crm.example.com/api/v3/accounts?q=" + url.QueryEscape(str(a, "company"))
		}},
		Work: [2]int{2, 10},
	},
	"get_employee": {
		Name: "get_employee", Desc: "Fetch an employee record.", Lookup: true,
		Args: func(c *callCtx) map[string]any { return map[string]any{"employee_id": "E" + c.r.digits(5)} },
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"employee_id": str(a, "employee_id"), "name": c.p.First + " " + c.p.Last, "email": c.v.email(c.p), "department": pick(c.r, []string{"Finance", "Engineering", "Sales", "Operations"}), "pto_balance_days": c.r.between(0, 25)})
		},
		Dep: &dependency{Method: "GET", Ms: [2]int{40, 250}, URL: func(c *callCtx, a map[string]any) string {
			return "https://hris.internal.example.com/api/employees/" + str(a, "employee_id")
		}},
		Work: [2]int{2, 8},
	},
	"run_python": {
		Name: "run_python", Desc: "Execute Python code in a sandbox and return stdout.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"code": pick(c.r, pythonSnippets)}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"stdout": fmt.Sprintf("%d.%02d\n", c.r.between(1, 9000), c.r.intn(100)), "exit_code": 0})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{400, 2600}, URL: func(*callCtx, map[string]any) string {
			return "http://sandbox.tools.svc.cluster.local:8000/v1/execute"
		}},
		Work: [2]int{2, 10},
	},
	"create_return_label": {
		Name: "create_return_label", Desc: "Create a prepaid return shipping label.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"order_id": orderID(c.r), "reason": pick(c.r, []string{"damaged", "wrong_size", "not_as_described"})}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"label_url": "https://labels.shipping.example.com/" + c.r.chars(20, lowerNum) + ".pdf", "tracking": "1Z" + c.r.chars(16, upperNum)})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{200, 900}, URL: func(*callCtx, map[string]any) string {
			return "https://api.shipping.example.com/v1/labels"
		}},
		Work: [2]int{3, 12},
	},
	"screen_sanctions": {
		Name: "screen_sanctions", Desc: "Screen a person or company against sanctions lists.",
		Args: func(c *callCtx) map[string]any {
			return map[string]any{"name": c.p.Company, "country": pick(c.r, []string{"DE", "US", "JP", "KE", "BR", "PL"})}
		},
		Out: func(c *callCtx, a map[string]any) string {
			return js(map[string]any{"match": false, "score": fmt.Sprintf("0.%02d", c.r.intn(30)), "lists_checked": 14})
		},
		Dep: &dependency{Method: "POST", Ms: [2]int{150, 800}, URL: func(*callCtx, map[string]any) string {
			return "https://api.screening.example.com/v2/screen"
		}},
		Work: [2]int{2, 10},
	},
}
