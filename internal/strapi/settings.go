package strapi

import (
	"strings"

	"github.com/experthub/experthub/internal/config/envvar"
)

// Settings are Strapi's settings, the STRAPI_* variables (Vars). config
// lists them among the others and reads them with Read; a CRM other than
// Strapi is a package with Settings of the same methods.
type Settings struct {
	URL        string
	APIToken   string
	Identifier string
	Password   string
	Version    string
	Collection string
	Templates  string
	// WebhookSecret authenticates Strapi's webhook calls to the sync
	// function, and manual full syncs (Client.Authenticate).
	WebhookSecret string
}

// Vars documents the variables Settings are read from.
func (Settings) Vars() []envvar.Var {
	return []envvar.Var{
		{Name: "STRAPI_URL", Aliases: []string{"DB_URL"}, Help: "Strapi origin, e.g. `https://expert-hub.herokuapp.com`. Unset: no Strapi (sample CRM or cache only)."},
		{Name: "STRAPI_API_TOKEN", Secret: true, Help: "Strapi API token (v4/v5, read-only is enough). Preferred over user + password."},
		{Name: "STRAPI_IDENTIFIER", Aliases: []string{"DB_ID"}, Help: "Strapi user for `/auth/local` when there is no API token."},
		{Name: "STRAPI_PASSWORD", Aliases: []string{"DB_PASS"}, Secret: true, Help: "Password of `STRAPI_IDENTIFIER`."},
		{Name: "STRAPI_VERSION", Default: "auto", Help: "`3`, `4`, `5` or `auto` (detected at first request)."},
		{Name: "STRAPI_COLLECTION", Default: "customers", Help: "Plural API id of the customer collection."},
		{Name: "STRAPI_TEMPLATES_COLLECTION", Default: "templates", Help: "Plural API id of the message template collection (fields `category`, `content`, `whatsapp_approved`, `order`) the `templates` callback offers; its singular (without the final `s`) names it in webhooks. Without that collection in Strapi the callback offers built-in templates."},
		{Name: "STRAPI_WEBHOOK_SECRET", Secret: true, Help: "Shared secret Strapi sends as `Authorization: Bearer <secret>` to the `sync` function; also accepted for a manual full sync."},
	}
}

// Env is where Read reads the variables: config's parser, which applies
// their aliases and defaults (Vars) and collects every problem.
type Env interface {
	// Get returns a variable's trimmed value, or its default.
	Get(name string) string
	// URL returns an http(s) URL, or "" and a problem.
	URL(name string) string
	// OneOf returns the value in lower case, a problem if not allowed.
	OneOf(name string, allowed ...string) string
	// Check records problem for name unless ok.
	Check(ok bool, name, problem string)
}

// Read reads the settings from env, and checks them.
func (s *Settings) Read(env Env) {
	*s = Settings{
		URL:           strings.TrimRight(env.URL("STRAPI_URL"), "/"),
		APIToken:      env.Get("STRAPI_API_TOKEN"),
		Identifier:    env.Get("STRAPI_IDENTIFIER"),
		Password:      env.Get("STRAPI_PASSWORD"),
		Version:       env.OneOf("STRAPI_VERSION", "auto", "3", "4", "5"),
		Collection:    env.Get("STRAPI_COLLECTION"),
		Templates:     env.Get("STRAPI_TEMPLATES_COLLECTION"),
		WebhookSecret: env.Get("STRAPI_WEBHOOK_SECRET"),
	}
	env.Check(s.URL == "" || s.APIToken != "" || s.Identifier != "" && s.Password != "",
		"STRAPI_API_TOKEN", "or STRAPI_IDENTIFIER and STRAPI_PASSWORD are required with STRAPI_URL")
}

// Configured reports whether a Strapi is set: without one, the cache has
// no CRM behind it.
func (s Settings) Configured() bool { return s.URL != "" }

// Values returns the settings by variable name (secrets included: never
// log them).
func (s Settings) Values() map[string]string {
	return map[string]string{
		"STRAPI_URL":                  s.URL,
		"STRAPI_API_TOKEN":            s.APIToken,
		"STRAPI_IDENTIFIER":           s.Identifier,
		"STRAPI_PASSWORD":             s.Password,
		"STRAPI_VERSION":              s.Version,
		"STRAPI_COLLECTION":           s.Collection,
		"STRAPI_TEMPLATES_COLLECTION": s.Templates,
		"STRAPI_WEBHOOK_SECRET":       s.WebhookSecret,
	}
}

// Unchecked serves a check run without Strapi's credentials (experthub
// doctor in Cloud Build, which has the functions' plain settings and the
// Twilio token only): when env sets STRAPI_URL without them, it removes
// STRAPI_URL from env, so that the settings read as no Strapi rather than
// fail, and returns the URL, to report it as not checked.
func (Settings) Unchecked(env map[string]string) string {
	url := env["STRAPI_URL"]
	if url == "" || env["STRAPI_API_TOKEN"] != "" || env["STRAPI_IDENTIFIER"] != "" && env["STRAPI_PASSWORD"] != "" {
		return ""
	}
	delete(env, "STRAPI_URL")
	delete(env, "DB_URL")
	return url
}

// Open returns the client the settings describe, reading national
// numbers with region (crm.Customer.Localize). Without a URL it reads
// nothing, but still authenticates and decodes webhook calls.
func Open(s Settings, region string) *Client {
	return New(Config{
		BaseURL:             s.URL,
		APIToken:            s.APIToken,
		Identifier:          s.Identifier,
		Password:            s.Password,
		Version:             s.Version,
		Collection:          s.Collection,
		TemplatesCollection: s.Templates,
		TemplatesModel:      strings.TrimSuffix(s.Templates, "s"),
		DefaultRegion:       region,
		WebhookSecret:       s.WebhookSecret,
	})
}
