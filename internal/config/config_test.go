package config

import (
	"bufio"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/function"
)

// seedDotEnv is the seed tutorial's .env, unchanged (plus the two TaskRouter
// lines its later section adds).
const seedDotEnv = `DB_URL=https://expert-hub.herokuapp.com
DB_ID=frontline_app
DB_PASS=XXXX
FRONTLINE_PROXY_NUMBER=+4478285**** 
FRONTLINE_PROXY_NUMBER_UK=+4478285****
FRONTLINE_PROXY_NUMBER_FR=+337575****
FRONTLINE_MESSAGING_SERVICE=MGaabc851414764527f5cd13542xxxxxx
FRONTLINE_WORKSPACE=WSxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
FRONTLINE_DEFAULT_POOL_QUEUE=WQxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
`

func TestParseSeedDotEnv(t *testing.T) {
	env, err := ParseDotEnv(bufio.NewScanner(strings.NewReader(seedDotEnv)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(env)
	if err != nil {
		t.Fatalf("seed .env rejected: %v", err)
	}
	checks := map[string][2]string{
		"CRM.URL":        {c.CRM.URL, "https://expert-hub.herokuapp.com"},
		"CRM.Identifier": {c.CRM.Identifier, "frontline_app"},
		"CRM.Password":   {c.CRM.Password, "XXXX"},
		"CRM.Version":    {c.CRM.Version, "auto"},
		"ProxyNumber":    {c.ProxyNumber, "+4478285****"},
		"GB":             {c.ProxyNumbers["GB"], "+4478285****"},
		"FR":             {c.ProxyNumbers["FR"], "+337575****"},
		"PoolQueue":      {c.PoolQueue, "WQxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		"PublicBaseURL":  {c.PublicBaseURL, "http://localhost:8080"},
		"sync URL":       {c.PublicURL("sync"), "http://localhost:8080/sync"},
	}
	for name, got := range checks {
		if got[0] != got[1] {
			t.Errorf("%s = %q, want %q", name, got[0], got[1])
		}
	}
	if c.HasTwilio() || !c.CRM.Configured() || c.UsesFirestore() {
		t.Errorf("HasTwilio=%v CRM.Configured=%v UsesFirestore=%v", c.HasTwilio(), c.CRM.Configured(), c.UsesFirestore())
	}
	if c.TwilioTimeout != 2*time.Second || c.HandlerTimeout != 4*time.Second {
		t.Errorf("defaults: TwilioTimeout=%v HandlerTimeout=%v", c.TwilioTimeout, c.HandlerTimeout)
	}
}

func TestParseAliasesAndOverrides(t *testing.T) {
	c, err := Parse(Env{
		"ACCOUNT_SID":               "AC" + strings.Repeat("a", 32),
		"AUTH_TOKEN":                "tok",
		"FRONTLINE_WORKSPACE":       "WS1",
		"DEFAULT_POOL_QUEUE_SID":    "WQ1",
		"PUBLIC_BASE_URL":           "https://r-p.cloudfunctions.net/",
		"PUBLIC_URL_PRE_EVENT":      "https://pre-event-x.a.run.app",
		"FRONTLINE_PROXY_NUMBER_UK": "+441",
		"FRONTLINE_PROXY_NUMBER_GB": "+442",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.TwilioAuthToken != "tok" || c.PoolQueue != "WQ1" || !c.HasTwilio() {
		t.Errorf("aliases not read: %+v", c)
	}
	if got := c.PublicURL(function.CRM); got != "https://r-p.cloudfunctions.net/crm" {
		t.Errorf("PublicURL(crm) = %q", got)
	}
	if got := c.PublicURL(function.PreEvent); got != "https://pre-event-x.a.run.app" {
		t.Errorf("PublicURL(pre-event) = %q", got)
	}
	if c.ProxyNumbers["GB"] != "+442" {
		t.Errorf("GB = %q, want the explicit GB number", c.ProxyNumbers["GB"])
	}
}

// TestPublicURLVar: PUBLIC_URL_<FUNCTION>, as deploy writes it for each
// function (PublicURLVar), is the URL Parse gives that function.
func TestPublicURLVar(t *testing.T) {
	env := Env{}
	for _, f := range function.All() {
		env[PublicURLVar(f)] = "https://" + string(f) + "-x.a.run.app"
	}
	c, err := Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range function.All() {
		if got, want := c.PublicURL(f), env[PublicURLVar(f)]; got != want {
			t.Errorf("%s is set to %s, PublicURL(%s) = %s", PublicURLVar(f), want, f, got)
		}
	}
}

func TestParseNamesEveryProblem(t *testing.T) {
	_, err := Parse(Env{
		"TWILIO_ACCOUNT_SID": "nope",
		"STRAPI_URL":         "ftp://x",
		"TWILIO_TIMEOUT":     "soon",
		"TWILIO_API_KEY":     "SK1",
		"STRAPI_VERSION":     "6",
		"CACHE_SIZE":         "-3",
	})
	if err == nil {
		t.Fatal("Parse accepted a broken environment")
	}
	for _, name := range []string{"TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "STRAPI_URL", "TWILIO_TIMEOUT", "TWILIO_API_KEY", "STRAPI_VERSION", "CACHE_SIZE", "FRONTLINE_WORKSPACE"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// TestParseCRM: the CRM's settings (Strapi's) are read, defaulted and
// checked by its package, and named in the one error with the others.
func TestParseCRM(t *testing.T) {
	c, err := Parse(Env{"DB_URL": "https://cms.example.com/", "STRAPI_API_TOKEN": "t", "STRAPI_VERSION": "4"})
	if err != nil {
		t.Fatal(err)
	}
	if c.CRM.URL != "https://cms.example.com" || c.CRM.Version != "4" || c.CRM.Collection != "customers" || c.CRM.Templates != "templates" {
		t.Errorf("CRM = %+v", c.CRM)
	}
	_, err = Parse(Env{"STRAPI_URL": "https://cms.example.com", "STRAPI_IDENTIFIER": "me", "TWILIO_TIMEOUT": "soon"})
	for _, name := range []string{"STRAPI_API_TOKEN", "TWILIO_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	for _, name := range []string{"STRAPI_URL", "STRAPI_WEBHOOK_SECRET"} {
		if !slices.ContainsFunc(Vars, func(v Var) bool { return v.Name == name }) {
			t.Errorf("Vars has no %s", name)
		}
	}
}

func TestParseDotEnvSyntax(t *testing.T) {
	env, err := ParseDotEnv(bufio.NewScanner(strings.NewReader("# c\n\nexport A=1\nB=\"two words\"\nC=3 # note\n")))
	if err != nil {
		t.Fatal(err)
	}
	if env["A"] != "1" || env["B"] != "two words" || env["C"] != "3" {
		t.Errorf("got %v", env)
	}
	if _, err := ParseDotEnv(bufio.NewScanner(strings.NewReader("novalue\n"))); err == nil {
		t.Error("a line without = was accepted")
	}
}

func TestParseRoutingPolicy(t *testing.T) {
	tests := []struct {
		policy, returning string
		want              []string
		problem           string
	}{
		{"", "", []string{"bot"}, ""},
		{"", "route", []string{"last", "bot"}, ""},
		{"", "offer", []string{"bot"}, ""},
		{"advisor,last,bot", "", []string{"advisor", "last", "bot"}, ""},
		{" Advisor , LAST ", "", []string{"advisor", "last", "bot"}, ""},
		{"last,advisor", "", []string{"last", "advisor", "bot"}, ""},
		{"advisor", "route", []string{"advisor", "last", "bot"}, ""},
		{"last,bot", "route", []string{"last", "bot"}, ""},
		{"bot", "", []string{"bot"}, ""},
		{"advisor,boss", "", nil, `"boss" is not one of`},
		{"advisor,advisor", "", nil, "advisor is given twice"},
		{"bot,advisor", "", nil, "advisor comes after bot"},
	}
	for _, tt := range tests {
		c, err := Parse(Env{"ROUTING_POLICY": tt.policy, "RETURNING_CUSTOMER": tt.returning})
		if tt.problem != "" {
			if err == nil || !strings.Contains(err.Error(), "ROUTING_POLICY: ") || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("ROUTING_POLICY=%q: error %v, want %q", tt.policy, err, tt.problem)
			}
			continue
		}
		if err != nil {
			t.Errorf("ROUTING_POLICY=%q RETURNING_CUSTOMER=%q: %v", tt.policy, tt.returning, err)
			continue
		}
		if got := fmt.Sprint(c.RoutingPolicy); got != fmt.Sprint(tt.want) {
			t.Errorf("ROUTING_POLICY=%q RETURNING_CUSTOMER=%q: %v, want %v", tt.policy, tt.returning, c.RoutingPolicy, tt.want)
		}
	}
}

func TestParseExpertiseAreas(t *testing.T) {
	c, err := Parse(Env{"EXPERTISE_AREAS": "watches=Watches|montre;bridal"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.ExpertiseAreas) != 2 || c.ExpertiseAreas[1].Label != "Bridal" {
		t.Errorf("areas = %+v", c.ExpertiseAreas)
	}
	if _, err := Parse(Env{"EXPERTISE_AREAS": "watches;watches"}); err == nil || !strings.Contains(err.Error(), "EXPERTISE_AREAS: ") {
		t.Errorf("a key given twice: %v", err)
	}
}

// TestParseFlexUIOrigins: the Flex UI's origin by default; a list of
// origins, with :* for any port; anything else refused.
func TestParseFlexUIOrigins(t *testing.T) {
	c, err := Parse(Env{})
	if err != nil || !slices.Equal(c.FlexUIOrigins, []string{DefaultFlexUIOrigins}) {
		t.Errorf("default FlexUIOrigins = %q, %v; want %q", c.FlexUIOrigins, err, DefaultFlexUIOrigins)
	}
	c, err = Parse(Env{"FLEX_UI_ORIGINS": "https://flex.twilio.com, http://localhost:*,https://agents.example.com:8443"})
	if want := []string{"https://flex.twilio.com", "http://localhost:*", "https://agents.example.com:8443"}; err != nil || !slices.Equal(c.FlexUIOrigins, want) {
		t.Errorf("FlexUIOrigins = %q, %v; want %q", c.FlexUIOrigins, err, want)
	}
	for _, bad := range []string{"*", "flex.twilio.com", "https://flex.twilio.com/", "https://flex.twilio.com/path", "ftp://x.example.com", "https://user@flex.twilio.com", "https://flex.twilio.com?x"} {
		if _, err := Parse(Env{"FLEX_UI_ORIGINS": bad}); err == nil || !strings.Contains(err.Error(), "FLEX_UI_ORIGINS") {
			t.Errorf("FLEX_UI_ORIGINS=%q: %v, want refused", bad, err)
		}
	}
}

// TestParseHandoffContent: a Content API template SID and its variables
// (customer placeholders only) are taken; anything else is refused
// naming the setting.
func TestParseHandoffContent(t *testing.T) {
	const sid = "HX0123456789abcdef0123456789abcdef"
	tests := []struct {
		sid, vars string
		problem   string // the setting refused; "" accepted
	}{
		{"", "", ""},
		{sid, "", ""},
		{sid, `{"1": "{{customer.first_name}}", "2": "the boutique"}`, ""},
		{"HX123", "", "HANDOFF_WHATSAPP_CONTENT_SID"},
		{"MG0123456789abcdef0123456789abcdef", "", "HANDOFF_WHATSAPP_CONTENT_SID"},
		{"", `{"1": "x"}`, "HANDOFF_WHATSAPP_CONTENT_VARIABLES"},
		{sid, `["x"]`, "HANDOFF_WHATSAPP_CONTENT_VARIABLES"},
		{sid, `{"1": 2}`, "HANDOFF_WHATSAPP_CONTENT_VARIABLES"},
		{sid, `{"1": "{{worker.name}}"}`, "HANDOFF_WHATSAPP_CONTENT_VARIABLES"},
	}
	for _, tt := range tests {
		c, err := Parse(Env{"HANDOFF_WHATSAPP_CONTENT_SID": tt.sid, "HANDOFF_WHATSAPP_CONTENT_VARIABLES": tt.vars})
		switch {
		case tt.problem == "" && (err != nil || c.HandoffContentSID != tt.sid || c.HandoffContentVariables != tt.vars):
			t.Errorf("%q %q: %+v, %v; want taken", tt.sid, tt.vars, c.HandoffContentSID, err)
		case tt.problem != "" && (err == nil || !strings.Contains(err.Error(), tt.problem+": ")):
			t.Errorf("%q %q: %v, want %s refused", tt.sid, tt.vars, err, tt.problem)
		}
	}
}

func TestParseConversationTimers(t *testing.T) {
	tests := []struct {
		inactive, closed         string
		wantInactive, wantClosed time.Duration
		problem                  string
	}{
		{"", "", DefaultConversationInactiveAfter, DefaultConversationCloseAfter, ""},
		{"off", "OFF", 0, 0, ""},
		{"1m", "10m", time.Minute, 10 * time.Minute, ""},
		{"30s", "", 0, 0, "CONVERSATION_INACTIVE_AFTER: must be off or at least 1m0s"},
		{"", "9m", 0, 0, "CONVERSATION_CLOSE_AFTER: must be off or at least 10m0s"},
		{"", "never", 0, 0, "CONVERSATION_CLOSE_AFTER: \"never\" is not a duration"},
	}
	for _, tt := range tests {
		c, err := Parse(Env{"CONVERSATION_INACTIVE_AFTER": tt.inactive, "CONVERSATION_CLOSE_AFTER": tt.closed})
		if tt.problem != "" {
			if err == nil || !strings.Contains(err.Error(), tt.problem) {
				t.Errorf("%q, %q: error %v, want %q", tt.inactive, tt.closed, err, tt.problem)
			}
			continue
		}
		if err != nil || c.InactiveAfter != tt.wantInactive || c.CloseAfter != tt.wantClosed {
			t.Errorf("%q, %q: %v, %v, %v; want %v, %v", tt.inactive, tt.closed, c.InactiveAfter, c.CloseAfter, err, tt.wantInactive, tt.wantClosed)
		}
	}
}
