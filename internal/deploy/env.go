package deploy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/experthub/experthub/internal/config"
)

var (
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	familyPattern  = regexp.MustCompile(`^[A-Z0-9_]+$`)
)

// Lookup resolves an environment variable name to its config.Var: the name
// itself, an alias, or a member of a family such as
// FRONTLINE_PROXY_NUMBER_<CC> (FRONTLINE_PROXY_NUMBER_FR) or
// PUBLIC_URL_<FUNCTION> (PUBLIC_URL_PRE_EVENT, for a function in Functions).
func Lookup(name string) (config.Var, bool) {
	for _, v := range config.Vars {
		if v.Name == name || slices.Contains(v.Aliases, name) {
			return v, true
		}
	}
	for _, v := range config.Vars {
		prefix, placeholder, ok := strings.Cut(v.Name, "<")
		if !ok || !strings.HasPrefix(name, prefix) {
			continue
		}
		suffix := strings.TrimPrefix(name, prefix)
		switch placeholder {
		case "CC>":
			ok = countryPattern.MatchString(suffix)
		case "FUNCTION>":
			ok = slices.ContainsFunc(Functions, func(f Function) bool { return envSuffix(f.Name) == suffix })
		default:
			ok = familyPattern.MatchString(suffix)
		}
		if ok {
			return v, true
		}
	}
	return config.Var{}, false
}

// envSuffix is how a function name appears in PUBLIC_URL_<FUNCTION>.
func envSuffix(function string) string {
	return strings.ToUpper(strings.ReplaceAll(function, "-", "_"))
}

// environment returns the plain environment variables and the secret
// variables of every function, and the configuration they amount to.
// s.Env holds the operator's non-secret settings; deploy adds those it
// owns (project, scheduler identity, URLs).
func (s Settings) environment() (map[string]string, []string, *config.Config, error) {
	var problems []string
	env := map[string]string{}
	from := map[string]string{} // canonical name → name used in s.Env
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		value := strings.TrimSpace(s.Env[k])
		v, ok := Lookup(k)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: not a setting Expert Hub reads (see config.Vars)", k))
			continue
		case v.Secret:
			problems = append(problems, fmt.Sprintf("%s: is a secret; store it with `gcloud secrets versions add %s --data-file=-` and remove it from the file", k, SecretID(v.Name)))
			continue
		case v.Local:
			problems = append(problems, fmt.Sprintf("%s: applies to local runs only", k))
			continue
		case strings.ContainsAny(value, "\r\n"):
			problems = append(problems, fmt.Sprintf("%s: must be one line", k))
			continue
		case value == "":
			continue
		}
		name := k
		if !strings.Contains(v.Name, "<") {
			name = v.Name // an alias such as DB_URL is deployed as STRAPI_URL
		}
		if prev, dup := from[name]; dup {
			problems = append(problems, fmt.Sprintf("%s: set twice (as %s and %s)", name, prev, k))
			continue
		}
		from[name] = k
		env[name] = value
	}

	for _, owned := range []struct{ name, value string }{
		{"GOOGLE_CLOUD_PROJECT", s.Project},
		{"SYNC_SCHEDULER_SERVICE_ACCOUNT", s.account(SchedulerAccount)},
	} {
		if got, ok := env[owned.name]; ok && got != owned.value {
			problems = append(problems, fmt.Sprintf("%s: deploy sets it to %s; remove %q", owned.name, owned.value, got))
		}
		env[owned.name] = owned.value
	}
	if env["TWILIO_ACCOUNT_SID"] == "" {
		// Config accepts its absence (local sandbox); a deployment cannot.
		problems = append(problems, "TWILIO_ACCOUNT_SID: is required to deploy")
	}
	if env["PUBLIC_BASE_URL"] == "" {
		env["PUBLIC_BASE_URL"] = s.functionsOrigin()
	}

	secrets := WiredSecrets(env)
	// Let the product's own validation judge the values, with stand-ins
	// for the secrets it will read from Secret Manager.
	check := config.Env{}
	for k, v := range env {
		check[k] = v
	}
	for _, name := range secrets {
		check[name] = "from-secret-manager"
	}
	c, err := config.Parse(check)
	if err != nil {
		problems = append(problems, err.Error())
	} else if env["SYNC_OIDC_AUDIENCE"] == "" {
		// Explicit, so that the scheduler job and the function agree even
		// if the product's default changes.
		env["SYNC_OIDC_AUDIENCE"] = c.SyncAudience
	}
	if len(problems) > 0 {
		return nil, nil, nil, errors.New("deploy settings:\n  " + strings.Join(problems, "\n  "))
	}
	return env, secrets, c, nil
}
