package deployment

import (
	"regexp"
	"slices"
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
// PUBLIC_URL_<FUNCTION> (PUBLIC_URL_PRE_EVENT, for a function of d).
func (d *Description) Lookup(name string) (config.Var, bool) {
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
			ok = slices.ContainsFunc(d.Functions, func(f Function) bool { return config.PublicURLVar(f.Name) == name })
		default:
			ok = familyPattern.MatchString(suffix)
		}
		if ok {
			return v, true
		}
	}
	return config.Var{}, false
}
