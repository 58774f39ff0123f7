package scenario

import (
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// persona is one end user whose requests the agents serve. A scenario has
// a handful of them, reused across runs as returning customers are.
type persona struct {
	First, Last string
	Email       string
	Phone       string
	CustomerID  string
	Company     string
	City        string
}

// vault holds the secrets and personal data a scenario plants in trace
// content and in the alert. Values are recorded only when content actually
// carries them, so every recorded value can be found in the written files.
type vault struct {
	r       *rng
	planted map[string]bool

	OpenAIKey   string
	AWSKeyID    string
	AWSSecret   string
	GitHubToken string
	SlackToken  string
	JWT         string
	DBPassword  string
	GrafanaKey  string
	Cards       []string
	People      []persona
}

var (
	firstNames = []string{"Amara", "Bjorn", "Chen", "Dalia", "Emeka", "Freya", "Gustavo", "Hana", "Idris", "Jasmin", "Kofi", "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rafael", "Sana", "Tomas", "Uma", "Viktor", "Wen", "Yusuf", "Zara"}
	lastNames  = []string{"Okafor", "Lindqvist", "Moreau", "Haddad", "Nakamura", "Fernandes", "Kowalski", "Abebe", "Schultz", "Delgado", "Ivanova", "Byrne", "Castillo", "Mensah", "Sorensen", "Tanaka", "Whitfield", "Rahman", "Novak", "Oyelaran"}
	mailHosts  = []string{"example.com", "example.org", "example.net", "mail.example.com", "inbox.example.org"}
	companies  = []string{"Northwind Traders", "Bluefin Logistics", "Cedar & Pine Outfitters", "Helios Analytics", "Kestrel Health", "Lumen Foods", "Meridian Freight", "Orchid Biotech", "Quarry Studio", "Tidewater Energy"}
	cities     = []string{"Lisbon", "Denver", "Osaka", "Nairobi", "Toronto", "Krakow", "Melbourne", "Austin", "Dublin", "Seoul", "Valencia", "Portland"}
)

func newVault(r *rng) *vault {
	v := &vault{r: r, planted: map[string]bool{}}
	v.OpenAIKey = pick(r, []string{"sk-proj-", "sk-", "sk-svcacct-"}) + r.chars(48, alnum)
	v.AWSKeyID = "AKIA" + r.chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
	v.AWSSecret = r.chars(40, alnum+"/+")
	v.GitHubToken = "ghp_" + r.chars(36, alnum)
	v.SlackToken = fmt.Sprintf("xoxb-%s-%s-%s", r.digits(12), r.digits(13), r.chars(24, alnum))
	v.JWT = jwt(r)
	v.DBPassword = r.chars(6, alnum) + pick(r, []string{"!", "#", "%", "*"}) + r.chars(8, alnum)
	v.GrafanaKey = "glsa_" + r.chars(32, alnum) + "_" + r.hex(4)
	v.Cards = []string{card(r, "4"), card(r, "5")}
	n := r.between(4, 6)
	firsts, lasts := sample(r, firstNames, n), sample(r, lastNames, n)
	for i := 0; i < n; i++ {
		p := persona{
			First:      firsts[i],
			Last:       lasts[i],
			CustomerID: "cus_" + r.chars(14, alnum),
			Company:    pick(r, companies),
			City:       pick(r, cities),
		}
		user := strings.ToLower(p.First)
		switch r.intn(3) {
		case 0:
			user += "." + strings.ToLower(p.Last)
		case 1:
			user = strings.ToLower(p.First[:1] + p.Last)
		default:
			user += r.digits(2)
		}
		p.Email = user + "@" + pick(r, mailHosts)
		p.Phone = phone(r)
		v.People = append(v.People, p)
	}
	return v
}

// plant records s as planted and returns it.
func (v *vault) plant(s string) string {
	v.planted[s] = true
	return s
}

// email and phone return a persona's contact details, recording them.
func (v *vault) email(p *persona) string { return v.plant(p.Email) }
func (v *vault) phone(p *persona) string { return v.plant(p.Phone) }

// card returns one of the scenario's card numbers, recording it.
func (v *vault) card() string { return v.plant(pick(v.r, v.Cards)) }

// Planted is every recorded value, sorted.
func (v *vault) Planted() []string {
	out := make([]string, 0, len(v.planted))
	for s := range v.planted {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// card returns a Luhn-valid 16-digit number with the given prefix, written
// the way people type them: grouped by spaces or dashes, or in one run.
func card(r *rng, prefix string) string {
	digits := prefix + r.chars(15-len(prefix), "0123456789")
	sum := 0
	for i := 0; i < len(digits); i++ {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 0 { // doubled: the check digit will sit to the right
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	digits += string(rune('0' + (10-sum%10)%10))
	switch r.intn(3) {
	case 0:
		return digits[0:4] + " " + digits[4:8] + " " + digits[8:12] + " " + digits[12:16]
	case 1:
		return digits[0:4] + "-" + digits[4:8] + "-" + digits[8:12] + "-" + digits[12:16]
	}
	return digits
}

// phone returns a number from the ranges reserved for fiction.
func phone(r *rng) string {
	switch r.intn(4) {
	case 0:
		return fmt.Sprintf("+1 %s 555 01%02d", pick(r, []string{"415", "212", "312", "206"}), r.intn(100))
	case 1:
		return fmt.Sprintf("(%s) 555-01%02d", pick(r, []string{"617", "303", "512", "971"}), r.intn(100))
	case 2:
		return fmt.Sprintf("+44 20 7946 0%03d", r.intn(1000))
	}
	return fmt.Sprintf("+61 491 570 %03d", r.intn(1000))
}

func jwt(r *rng) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	iat := 1748900000 + r.intn(100000)
	payload := enc.EncodeToString([]byte(fmt.Sprintf(`{"sub":"svc-%s","scope":"%s","iat":%d,"exp":%d}`,
		r.chars(8, lowerNum), pick(r, []string{"orders:read", "crm:read crm:write", "tickets:write", "payments:refund"}), iat, iat+3600)))
	sig := r.chars(43, alnum+"-_")
	return header + "." + payload + "." + sig
}
