package doctor

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
	"github.com/experthub/experthub/internal/twilio"
)

// probe is what one function must answer: a signed request with params
// (none: the function is not Twilio-facing) must get signedStatus, and
// an unsigned one a status of unsigned. Every probe is safe: it changes
// nothing and reaches no customer.
type probe struct {
	params       url.Values
	signedStatus int
	unsigned     []int
}

// probes are the known functions' probes. A function not listed (one
// added since) is probed unsigned only, as the deployment's smoke test
// does: it must refuse the caller itself.
var probes = map[function.Name]probe{
	// An event pre-event does not handle: 200 and no change, the answer
	// that lets a customer's message through.
	function.PreEvent:  {url.Values{"EventType": {"onExpertHubDoctorProbe"}}, http.StatusOK, []int{http.StatusForbidden}},
	function.PostEvent: {url.Values{"EventType": {"onExpertHubDoctorProbe"}}, http.StatusOK, []int{http.StatusForbidden}},
	// No ConversationSid: refused before anything is queued.
	function.Routing: {url.Values{"EventType": {"onExpertHubDoctorProbe"}}, http.StatusBadRequest, []int{http.StatusForbidden}},
	// A Location Frontline never sends.
	function.CRM:       {url.Values{"Location": {"ExpertHubDoctorProbe"}}, http.StatusUnprocessableEntity, []int{http.StatusForbidden}},
	function.Outgoing:  {url.Values{"Location": {"ExpertHubDoctorProbe"}}, http.StatusUnprocessableEntity, []int{http.StatusForbidden}},
	function.Templates: {url.Values{"Location": {"ExpertHubDoctorProbe"}}, http.StatusUnprocessableEntity, []int{http.StatusForbidden}},
	// An event that is not a worker's: 204, the waiting line untouched.
	// No bearer token, so it is never taken for the scheduler's sweep.
	function.TaskRouterEvents: {url.Values{"EventType": {"expertHubDoctor.probe"}}, http.StatusNoContent, []int{http.StatusForbidden}},
	// An event that is not a task's: 204, nothing settled.
	function.FlexEvents: {url.Values{"EventType": {"expertHubDoctor.probe"}}, http.StatusNoContent, []int{http.StatusForbidden}},
}

// flexSigned are the functions the Flex account calls: their signed
// probe is signed with FLEX_AUTH_TOKEN.
var flexSigned = map[function.Name]bool{function.FlexEvents: true}

// unsignedRefusals are what a function that is not Twilio-facing answers
// a caller without credentials.
var unsignedRefusals = []int{http.StatusUnauthorized, http.StatusForbidden}

func (d *Doctor) probes(ctx context.Context) []Result {
	var out []Result
	for _, name := range d.Functions {
		out = append(out, d.probe(ctx, name))
	}
	return out
}

func (d *Doctor) probe(ctx context.Context, name function.Name) Result {
	check := "function " + string(name)
	u := d.Config.PublicURL(name)
	p, known := probes[name]
	if !known {
		p = probe{unsigned: unsignedRefusals}
	}
	params := p.params
	if params == nil {
		params = url.Values{}
	}
	status, err := d.post(ctx, u, params, "")
	if err != nil {
		return Result{check, Fail, u + ": " + err.Error()}
	}
	if !slices.Contains(p.unsigned, status) {
		return Result{check, Fail, fmt.Sprintf("%s: an unauthenticated request got %d, want %s", u, status, statuses(p.unsigned))}
	}
	if p.params == nil {
		return Result{check, OK, fmt.Sprintf("%s refuses an unauthenticated request (%d)", u, status)}
	}
	token := d.Config.TwilioAuthToken
	if flexSigned[name] {
		if token = d.Config.FlexAuthToken; token == "" {
			return Result{check, OK, fmt.Sprintf("%s refuses an unsigned request (%d); no contact center configured", u, status)}
		}
	}
	if token == "" {
		return Result{check, Warn, fmt.Sprintf("%s refuses an unsigned request (%d); signed probe skipped: no auth token", u, status)}
	}
	signed, err := d.post(ctx, u, params, sign(token, u, params))
	switch {
	case err != nil:
		return Result{check, Fail, u + ": " + err.Error()}
	case signed == http.StatusForbidden:
		return Result{check, Fail, fmt.Sprintf("%s refused a request signed for this URL (403): the function checks signatures against "+
			"another URL (its PUBLIC_BASE_URL or %s) or another auth token — Twilio's calls are refused", u, config.PublicURLVar(name))}
	case signed != p.signedStatus:
		return Result{check, Fail, fmt.Sprintf("%s: a signed probe got %d, want %d", u, signed, p.signedStatus)}
	}
	return Result{check, OK, fmt.Sprintf("%s signed %d, unsigned %d", u, signed, status)}
}

// post sends a form POST as Twilio would, signed when sig is set.
func (d *Doctor) post(ctx context.Context, u string, params url.Values, sig string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(params.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", UserAgent)
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	resp, err := d.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// sign computes X-Twilio-Signature for a form POST to u
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security): base64
// HMAC-SHA1, keyed by the auth token, of the URL followed by each
// parameter name and value, names sorted.
func sign(authToken, u string, params url.Values) string {
	var b strings.Builder
	b.WriteString(u)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range slices.Sorted(slices.Values(params[k])) {
			b.WriteString(k + v)
		}
	}
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(b.String()))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func statuses(s []int) string {
	var out []string
	for _, v := range s {
		out = append(out, strconv.Itoa(v))
	}
	return strings.Join(out, " or ")
}

// describe explains a Twilio failure in a line.
func describe(err error) string {
	switch {
	case errors.Is(err, twilio.ErrUnauthorized):
		return "refused (401): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or the API key)"
	case errors.Is(err, twilio.ErrNotFound):
		return "not found (404)"
	}
	return err.Error()
}
