package conversation

import (
	"slices"
	"strings"

	"github.com/experthub/experthub/internal/twilio"
)

// expertiseKey is the worker attribute listing a worker's areas, e.g.
// {"expertise": ["watches", "bridal"]}. TaskRouter leaves attributes to
// the account, so this is our convention, documented in the README.
const expertiseKey = "expertise"

// workerAreas returns the expertise areas in a worker's TaskRouter
// attributes, lower-cased and trimmed; none when the attributes are
// missing, not JSON, or carry no list of strings under expertiseKey.
func workerAreas(attributes string) []string {
	m, err := parseObject(attributes)
	if err != nil {
		return nil
	}
	list, _ := m[expertiseKey].([]any)
	var out []string
	for _, v := range list {
		s, ok := v.(string)
		if s = strings.ToLower(strings.TrimSpace(s)); ok && s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// workerHasArea reports whether w lists area (compared case-insensitively)
// among its expertise. An empty area is anyone's.
func workerHasArea(w twilio.Worker, area string) bool {
	area = strings.ToLower(strings.TrimSpace(area))
	return area == "" || slices.Contains(workerAreas(w.Attributes), area)
}
