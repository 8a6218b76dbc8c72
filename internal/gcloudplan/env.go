package gcloudplan

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/deployment"
	"github.com/experthub/experthub/internal/function"
)

// environment is what the functions are given: the plain variables all
// of them get, the secret variables, and the configuration they amount to.
// s.Env holds the operator's non-secret settings; deploy adds PUBLIC_BASE_URL,
// PUBLIC_URL_<FUNCTION> and SYNC_OIDC_AUDIENCE when they are missing. The variables deploy owns
// (d.Env) are not in common: functionEnv adds them per function.
type environment struct {
	common  map[string]string
	secrets []string
	config  *config.Config
}

func newEnvironment(d *deployment.Description, s Settings) (environment, error) {
	env, problems := operatorSettings(d, s.Env)
	// Deploy sets its own variables, on the functions the description
	// names; the same value in the file is tolerated and left to deploy.
	owned := map[string]string{}
	for _, fn := range d.FunctionNames() {
		maps.Copy(owned, d.OwnedEnv(fn, s.Project, s.Region))
	}
	for _, name := range slices.Sorted(maps.Keys(owned)) {
		if got, ok := env[name]; ok && got != owned[name] {
			problems = append(problems, fmt.Sprintf("%s: deploy sets it to %s; remove %q", name, owned[name], got))
		}
		delete(env, name)
	}
	if env["TWILIO_ACCOUNT_SID"] == "" {
		// Config accepts its absence (local sandbox); a deployment cannot.
		problems = append(problems, "TWILIO_ACCOUNT_SID: is required to deploy")
	}
	if env["PUBLIC_BASE_URL"] == "" {
		env["PUBLIC_BASE_URL"] = s.functionsOrigin()
	}
	// A function is served at /<deployed name> (eh-staging-crm), not at
	// /<entry point>, the URL config would derive from PUBLIC_BASE_URL:
	// every function gets the URL of each, which signatures, the work
	// queue's tasks and the sync audience are checked against.
	for _, f := range d.Functions {
		if name := config.PublicURLVar(f.Name); env[name] == "" {
			env[name] = env["PUBLIC_BASE_URL"] + "/" + f.Deployed
		}
	}

	secrets := d.WiredSecrets(env)
	// Let the product's own validation judge the values, with stand-ins
	// for the secrets it will read from Secret Manager.
	check := config.Env{}
	maps.Copy(check, env)
	maps.Copy(check, owned)
	for _, name := range secrets {
		// Long enough for the shared secrets' minimum (HANDOFF_SECRET).
		check[name] = "from-secret-manager-" + strings.Repeat("x", config.MinHandoffSecret)
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
		return environment{}, errors.New("deploy settings:\n  " + strings.Join(problems, "\n  "))
	}
	return environment{common: env, secrets: secrets, config: c}, nil
}

// functionEnv is the plain environment of function fn.
func (p *planner) functionEnv(fn function.Name) map[string]string {
	env := maps.Clone(p.e.common)
	maps.Copy(env, p.d.OwnedEnv(fn, p.s.Project, p.s.Region))
	return env
}

// operatorSettings checks the operator's settings and returns them under
// their canonical names (an alias such as DB_URL becomes STRAPI_URL),
// without the empty ones, with a line for each one refused: unknown,
// secret, local-only, multi-line, or set twice.
func operatorSettings(d *deployment.Description, settings map[string]string) (env map[string]string, problems []string) {
	env = map[string]string{}
	from := map[string]string{} // canonical name → name used in settings
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		value := strings.TrimSpace(settings[k])
		v, ok := d.Lookup(k)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: not a setting Expert Hub reads (see config.Vars)", k))
			continue
		case v.Secret:
			problems = append(problems, fmt.Sprintf("%s: is a secret; store it with `gcloud secrets versions add %s --data-file=-` and remove it from the file", k, d.SecretID(v.Name)))
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
	return env, problems
}
