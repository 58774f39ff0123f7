package llm

import "strings"

// Price is what a model charges, in USD per million tokens.
type Price struct {
	Input  float64 `json:"input" yaml:"input"`
	Output float64 `json:"output" yaml:"output"`
}

// defaultPrices are list prices of common models at the time of writing,
// so that cost shows up without configuration. Options.Prices overrides
// them; a model in neither table costs zero.
func defaultPrices() map[string]Price {
	return map[string]Price{
		"gpt-4o":            {2.50, 10.00},
		"gpt-4o-mini":       {0.15, 0.60},
		"gpt-4.1":           {2.00, 8.00},
		"gpt-4.1-mini":      {0.40, 1.60},
		"gpt-4.1-nano":      {0.10, 0.40},
		"gpt-5":             {1.25, 10.00},
		"gpt-5-mini":        {0.25, 2.00},
		"gpt-5-nano":        {0.05, 0.40},
		"o3":                {2.00, 8.00},
		"o3-mini":           {1.10, 4.40},
		"o4-mini":           {1.10, 4.40},
		"gpt-4-turbo":       {10.00, 30.00},
		"gpt-3.5-turbo":     {0.50, 1.50},
		"claude-sonnet-4":   {3.00, 15.00},
		"claude-3-5-haiku":  {0.80, 4.00},
		"claude-opus-4":     {15.00, 75.00},
		"gemini-2.5-flash":  {0.30, 2.50},
		"gemini-2.5-pro":    {1.25, 10.00},
		"deepseek-chat":     {0.27, 1.10},
		"mistral-small":     {0.10, 0.30},
		"llama-3.3-70b":     {0.59, 0.79},
		"claude-3-7-sonnet": {3.00, 15.00},
	}
}

func mergePrices(custom map[string]Price) map[string]Price {
	out := defaultPrices()
	for m, p := range custom {
		out[strings.ToLower(m)] = p
	}
	return out
}

// price finds the price of model: its exact name, else the longest known
// name it starts with, trying also the name after a provider prefix
// ("openai/gpt-4o").
func (c *Client) price(model string) (Price, bool) {
	m := strings.ToLower(model)
	names := []string{m}
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		names = append(names, m[i+1:])
	}
	for _, n := range names {
		if p, ok := c.prices[n]; ok {
			return p, true
		}
	}
	best, found := "", false
	var bp Price
	for _, n := range names {
		for k, p := range c.prices {
			if strings.HasPrefix(n, k) && len(k) > len(best) {
				best, bp, found = k, p, true
			}
		}
	}
	return bp, found
}

// cost prices a call by the model that answered, falling back to the
// configured one (gateways sometimes answer with a deployment name).
func (c *Client) cost(model string, prompt, completion int) float64 {
	p, ok := c.price(model)
	if !ok {
		if p, ok = c.price(c.model); !ok {
			return 0
		}
	}
	return (float64(prompt)*p.Input + float64(completion)*p.Output) / 1e6
}
