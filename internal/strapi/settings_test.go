package strapi_test

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// env is config's parser as Settings.Read sees it: variables with their
// aliases and defaults, and the problems found.
type env struct {
	vars     map[string]string
	problems []string
}

func (e *env) lookup(name string) (string, bool) {
	for _, v := range (strapi.Settings{}).Vars() {
		if v.Name != name {
			continue
		}
		for _, n := range append([]string{v.Name}, v.Aliases...) {
			if s := strings.TrimSpace(e.vars[n]); s != "" {
				return s, true
			}
		}
		return v.Default, true
	}
	return "", false
}

func (e *env) Get(name string) string {
	s, ok := e.lookup(name)
	if !ok {
		e.problems = append(e.problems, name+": not a Strapi variable")
	}
	return s
}

func (e *env) URL(name string) string {
	s := e.Get(name)
	if s != "" && !strings.HasPrefix(s, "http://") && !strings.HasPrefix(s, "https://") {
		e.problems = append(e.problems, name+": not a URL")
		return ""
	}
	return s
}

func (e *env) OneOf(name string, allowed ...string) string {
	s := strings.ToLower(e.Get(name))
	if !slices.Contains(allowed, s) {
		e.problems = append(e.problems, name+": not allowed")
	}
	return s
}

func (e *env) Check(ok bool, name, problem string) {
	if !ok {
		e.problems = append(e.problems, name+": "+problem)
	}
}

func TestSettingsRead(t *testing.T) {
	tests := []struct {
		name     string
		vars     map[string]string
		want     strapi.Settings
		problems []string // variables named
	}{
		{"none", nil, strapi.Settings{Version: "auto", Collection: "customers", Templates: "templates"}, nil},
		{"the seed's names", map[string]string{"DB_URL": "https://cms.example.com/", "DB_ID": "me", "DB_PASS": "pw"},
			strapi.Settings{URL: "https://cms.example.com", Identifier: "me", Password: "pw", Version: "auto", Collection: "customers", Templates: "templates"}, nil},
		{"token and secret", map[string]string{"STRAPI_URL": "https://cms.example.com", "STRAPI_API_TOKEN": "t", "STRAPI_VERSION": "5",
			"STRAPI_COLLECTION": "clients", "STRAPI_TEMPLATES_COLLECTION": "snippets", "STRAPI_WEBHOOK_SECRET": "s"},
			strapi.Settings{URL: "https://cms.example.com", APIToken: "t", Version: "5", Collection: "clients", Templates: "snippets", WebhookSecret: "s"}, nil},
		{"no credentials", map[string]string{"STRAPI_URL": "https://cms.example.com", "STRAPI_IDENTIFIER": "me"}, strapi.Settings{}, []string{"STRAPI_API_TOKEN"}},
		{"bad version", map[string]string{"STRAPI_VERSION": "6"}, strapi.Settings{}, []string{"STRAPI_VERSION"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{vars: tt.vars}
			var s strapi.Settings
			s.Read(e)
			if tt.problems == nil && (len(e.problems) > 0 || s != tt.want) {
				t.Errorf("Read = %+v, problems %v; want %+v", s, e.problems, tt.want)
			}
			for _, name := range tt.problems {
				if !slices.ContainsFunc(e.problems, func(p string) bool { return strings.HasPrefix(p, name+":") }) {
					t.Errorf("problems %v do not name %s", e.problems, name)
				}
			}
			if s.Configured() != (s.URL != "") {
				t.Errorf("Configured = %v with URL %q", s.Configured(), s.URL)
			}
		})
	}
}

// TestSettingsDocumented: every setting has its variable documented, and
// Values names them all.
func TestSettingsDocumented(t *testing.T) {
	var names []string
	for _, v := range (strapi.Settings{}).Vars() {
		names = append(names, v.Name)
		if !strings.HasPrefix(v.Name, "STRAPI_") || v.Help == "" {
			t.Errorf("%s: a STRAPI_ variable with help, please", v.Name)
		}
	}
	if got := slices.Sorted(maps.Keys(strapi.Settings{}.Values())); !slices.Equal(got, slices.Sorted(slices.Values(names))) {
		t.Errorf("Values names %v, Vars %v", got, names)
	}
}

func TestSettingsUnchecked(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string // "" leaves env as it is
	}{
		{map[string]string{}, ""},
		{map[string]string{"STRAPI_URL": "https://cms.example.com", "STRAPI_API_TOKEN": "t"}, ""},
		{map[string]string{"STRAPI_URL": "https://cms.example.com", "STRAPI_IDENTIFIER": "me", "STRAPI_PASSWORD": "pw"}, ""},
		{map[string]string{"STRAPI_URL": "https://cms.example.com"}, "https://cms.example.com"},
		{map[string]string{"STRAPI_URL": "https://cms.example.com", "DB_URL": "https://cms.example.com", "STRAPI_IDENTIFIER": "me"}, "https://cms.example.com"},
	}
	for _, tt := range tests {
		before := maps.Clone(tt.env)
		got := strapi.Settings{}.Unchecked(tt.env)
		if got != tt.want {
			t.Errorf("Unchecked(%v) = %q, want %q", before, got, tt.want)
		}
		switch {
		case got == "" && !maps.Equal(tt.env, before):
			t.Errorf("Unchecked(%v) changed env to %v", before, tt.env)
		case got != "" && (tt.env["STRAPI_URL"] != "" || tt.env["DB_URL"] != ""):
			t.Errorf("Unchecked(%v) left the URL in env: %v", before, tt.env)
		}
	}
}

// TestAuthenticate: the webhook secret, and nothing else, authenticates
// a call to the sync function.
func TestAuthenticate(t *testing.T) {
	const secret = "hook-secret-123"
	c := strapi.Open(strapi.Settings{WebhookSecret: secret}, "")
	tests := []struct {
		auth string
		ok   bool
	}{
		{"Bearer " + secret, true},
		{"bearer " + secret, true},
		{"Bearer  " + secret + " ", true},
		{"", false},
		{"Bearer ", false},
		{"Bearer nope", false},
		{"Bearer " + secret[:len(secret)-1], false},
		{"Bearer " + secret + "4", false},
		{"Bearer " + strings.ToUpper(secret), false},
		{secret, false},
		{"Basic " + secret, false},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.auth != "" {
			h.Set("Authorization", tt.auth)
		}
		err := c.Authenticate(h)
		if (err == nil) != tt.ok {
			t.Errorf("Authorization %q: %v, want ok %v", tt.auth, err, tt.ok)
		}
		if err != nil && strings.Contains(err.Error(), secret[:6]) {
			t.Errorf("the error holds the secret: %v", err)
		}
	}
	// Without a secret configured nothing gets in.
	none := strapi.Open(strapi.Settings{}, "")
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		if err := none.Authenticate(http.Header{"Authorization": {auth}}); err == nil {
			t.Errorf("no secret configured, Authorization %q: accepted", auth)
		}
	}
}

// TestCheck: doctor's look at Strapi reads its version and first page,
// says the webhook is not checked (a warning), and fails when Strapi
// refuses the token.
func TestCheck(t *testing.T) {
	s := strapitest.NewServer(4, strapitest.WithCustomers(7), strapitest.WithAPIToken("tok"))
	defer s.Close()
	const hook = "https://functions.example.com/sync"
	found, complete, err := strapi.Open(strapi.Settings{URL: s.URL, APIToken: "tok"}, "").Check(context.Background(), hook)
	if err != nil || complete || !strings.Contains(found, "v4") || !strings.Contains(found, "(7 on the first page)") || !strings.Contains(found, hook) {
		t.Errorf("Check = %q, %v, %v; want v4, 7 customers, the webhook not checked", found, complete, err)
	}
	const wrong = "not-the-token-x9"
	_, _, err = strapi.Open(strapi.Settings{URL: s.URL, APIToken: wrong}, "").Check(context.Background(), hook)
	if err == nil || !strings.Contains(err.Error(), s.URL) {
		t.Errorf("Check with a wrong token: %v, want an error naming %s", err, s.URL)
	}
	if err != nil && strings.Contains(err.Error(), wrong) {
		t.Errorf("the error holds the token: %v", err)
	}
}
