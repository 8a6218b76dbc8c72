package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/function"
)

// flexAgentLogin is the Flex user the tests' tokens are minted for.
const flexAgentLogin = "agent@contact-center.example.com"

// flexCall sends the named function a request as the Flex plugin does,
// the token in the body (Token), Authorization: Bearer or X-Flex-JWE, and
// returns the status, the headers and the body.
func flexCall(t *testing.T, h *apptest.Harness, method string, name function.Name, body, contentType string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, h.URL(name), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// validations counts the Flex account's token validations.
func validations(h *apptest.Harness) int {
	n := 0
	for _, r := range h.Flex.Requests() {
		if strings.HasSuffix(r.Path, "/Tokens/validate") {
			n++
		}
	}
	return n
}

// TestHandoffByFlexUser: a Flex agent hands a customer over with their own
// Flex token, sent each way the plugin may send it: the handoff is done,
// the answer names the expert, and the conversation records the agent.
// Each token is validated once, however many requests carry it.
func TestHandoffByFlexUser(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	h.Twilio.SetDisplayName("ann@example.com", "Ann Lee")
	agent := h.Flex.MintFlexToken(flexAgentLogin, []string{"agent"}, time.Hour)
	supervisor := h.Flex.MintFlexToken("lead@contact-center.example.com", []string{"wfo.team_leader", "supervisor"}, time.Hour)
	for _, tt := range []struct {
		name, token, login string
		send               func(id, token string) (body, contentType string, header http.Header)
	}{
		{"Token in a JSON body", agent, flexAgentLogin, func(id, token string) (string, string, http.Header) {
			b, _ := json.Marshal(map[string]string{"Token": token, "handoff_id": id, "customer_id": joAnneID, "area": "watches"})
			return string(b), "application/json", nil
		}},
		{"Token in a form", agent, flexAgentLogin, func(id, token string) (string, string, http.Header) {
			return url.Values{"Token": {token}, "handoff_id": {id}, "customer_id": {joAnneID}, "area": {"watches"}}.Encode(), "application/x-www-form-urlencoded", nil
		}},
		{"Authorization: Bearer", agent, flexAgentLogin, func(id, token string) (string, string, http.Header) {
			return `{"handoff_id":"` + id + `","customer_id":"` + joAnneID + `","area":"watches"}`, "application/json", http.Header{"Authorization": {"Bearer " + token}}
		}},
		{"X-Flex-JWE", supervisor, "lead@contact-center.example.com", func(id, token string) (string, string, http.Header) {
			return `{"handoff_id":"` + id + `","customer_id":"` + joAnneID + `","area":"watches"}`, "application/json", http.Header{"X-Flex-Jwe": {token}}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := "WT" + strings.ReplaceAll(tt.name, " ", "") + "-1"
			id = strings.Map(func(r rune) rune {
				if strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", r) {
					return r
				}
				return -1
			}, id)
			body, ct, header := tt.send(id, tt.token)
			status, _, got := flexCall(t, h, http.MethodPost, function.Handoff, body, ct, header)
			var ans struct {
				HandoffID    string `json:"handoff_id"`
				Conversation string `json:"conversation_sid"`
				Status       string `json:"status"`
				Expert       struct{ Identity, Name string }
			}
			if status != http.StatusOK || json.Unmarshal([]byte(got), &ans) != nil || ans.HandoffID != id || ans.Status != "done" {
				t.Fatalf("handoff = %d %s, want 200 done", status, got)
			}
			if ans.Expert.Identity != "ann@example.com" || ans.Expert.Name != "Ann Lee" {
				t.Errorf("expert %+v, want ann, by her display name", ans.Expert)
			}
			c, ok := h.Twilio.Conversation(ans.Conversation)
			var attrs struct {
				Handoff struct {
					Agent string `json:"agent"`
					ID    string `json:"handoff_id"`
				} `json:"handoff"`
			}
			if !ok || json.Unmarshal([]byte(c.Attributes), &attrs) != nil || attrs.Handoff.Agent != tt.login || attrs.Handoff.ID != id {
				t.Errorf("conversation attributes %s, want handoff.agent %s", c.Attributes, tt.login)
			}
		})
	}
	if n := validations(h); n != 2 {
		t.Errorf("%d token validations for 2 tokens in 4 requests, want 2 (cached)", n)
	}
	// A server caller's handoff records no agent.
	status, ans, body := handoff(t, h, url.Values{"handoff_id": {"server-1"}, "customer_id": {"1"}})
	if status != http.StatusOK {
		t.Fatalf("bearer-secret handoff = %d %s", status, body)
	}
	if c, _ := h.Twilio.Conversation(ans.Conversation); strings.Contains(c.Attributes, `"agent"`) {
		t.Errorf("server caller's handoff attributes %s name an agent", c.Attributes)
	}
}

// TestFlexUserRefused: a token Twilio does not vouch for is 401, one of a
// user who is no agent 403; none reaches the customer, and an invalid
// answer is not cached.
func TestFlexUserRefused(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	agent := h.Flex.MintFlexToken(flexAgentLogin, []string{"agent"}, time.Hour)
	for _, tt := range []struct {
		name  string
		token string
		want  int
	}{
		{"expired", h.Flex.MintFlexToken(flexAgentLogin, []string{"agent"}, -time.Minute), http.StatusUnauthorized},
		{"the Frontline account's", h.Twilio.MintFlexToken(flexAgentLogin, []string{"agent"}, time.Hour), http.StatusUnauthorized},
		{"never issued", agent[:len(agent)-4] + "AAAA", http.StatusUnauthorized},
		{"guest", h.Flex.MintFlexToken("guest@example.com", []string{"guest"}, time.Hour), http.StatusForbidden},
		{"no role", h.Flex.MintFlexToken("nobody@example.com", nil, time.Hour), http.StatusForbidden},
		{"a custom role only", h.Flex.MintFlexToken("wfo@example.com", []string{"wfo.quality_manager"}, time.Hour), http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"Token":"` + tt.token + `","handoff_id":"refused-1","customer_id":"` + joAnneID + `"}`
			for _, fn := range []struct {
				name          function.Name
				method, body  string
				header        http.Header
				contentType   string
				wantValidated int
			}{
				{function.Handoff, http.MethodPost, body, nil, "application/json", 1},
				{function.Handoff, http.MethodPost, `{"handoff_id":"refused-1","customer_id":"2"}`, http.Header{"Authorization": {"Bearer " + tt.token}}, "application/json", 1},
				{function.Experts, http.MethodGet, "", http.Header{"X-Flex-Jwe": {tt.token}}, "", 1},
			} {
				before := validations(h)
				status, _, got := flexCall(t, h, fn.method, fn.name, fn.body, fn.contentType, fn.header)
				if status != tt.want || !strings.Contains(got, `"error"`) {
					t.Errorf("%s %s = %d %s, want %d with an error", fn.method, fn.name, status, got, tt.want)
				}
				if n := validations(h) - before; tt.want == http.StatusUnauthorized && n != fn.wantValidated {
					t.Errorf("%s: %d validations, want %d (an invalid answer is never cached)", fn.name, n, fn.wantValidated)
				}
			}
		})
	}
	// Twilio cannot tell: 503, retry later; the answer is not kept.
	fresh := h.Flex.MintFlexToken(flexAgentLogin, []string{"agent"}, time.Hour)
	h.Flex.SetOutage(http.StatusServiceUnavailable)
	status, _, got := flexCall(t, h, http.MethodGet, function.Experts, "", "", http.Header{"X-Flex-Jwe": {fresh}})
	h.Flex.SetOutage(0)
	if status != http.StatusServiceUnavailable || strings.Contains(got, fresh) {
		t.Errorf("experts with Twilio down = %d %s, want 503 without the token", status, got)
	}
	if status, _, got := flexCall(t, h, http.MethodGet, function.Experts, "", "", http.Header{"X-Flex-Jwe": {fresh}}); status != http.StatusOK {
		t.Errorf("experts with Twilio back = %d %s, want 200", status, got)
	}
	if n := len(h.Twilio.Conversations()); n != 0 {
		t.Errorf("refused handoffs created %d conversations", n)
	}
}

// TestExpertsFunction: the panel's list: the pool's areas and its
// available experts by display name (identity when none) and areas; no
// phone number, no customer. Unavailable workers and deactivated
// Frontline users are left out. Read with a Flex token or the secret;
// refused without.
func TestExpertsFunction(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, nil)
	q := h.Twilio.QueueSID()
	h.Twilio.AddWorker("carol@example.com", false, map[string]any{"expertise": []string{"bridal"}}, q)
	h.Twilio.AddWorker("dan@example.com", true, map[string]any{"expertise": []string{"shoes"}, "contact": "+447491000099"}, q)
	h.Twilio.SetDisplayName("ann@example.com", "Ann Lee")
	h.Twilio.SetUserActive("dan@example.com", false)
	agent := h.Flex.MintFlexToken(flexAgentLogin, []string{"agent"}, time.Hour)

	for _, tt := range []struct {
		name   string
		header http.Header
	}{
		{"Bearer Flex token", http.Header{"Authorization": {"Bearer " + agent}}},
		{"X-Flex-JWE", http.Header{"X-Flex-Jwe": {agent}}},
		{"HANDOFF_SECRET", http.Header{"Authorization": {"Bearer " + apptest.HandoffSecret}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := flexCall(t, h, http.MethodGet, function.Experts, "", "", tt.header)
			type expert struct {
				Identity string   `json:"identity"`
				Name     string   `json:"name"`
				Areas    []string `json:"areas"`
			}
			var got struct {
				Areas   []string `json:"areas"`
				Experts []expert `json:"experts"`
			}
			if status != http.StatusOK || json.Unmarshal([]byte(body), &got) != nil {
				t.Fatalf("experts = %d %s", status, body)
			}
			wantAreas := []string{"bridal", "jewellery", "shoes", "watches"}
			if !slices.Equal(got.Areas, wantAreas) {
				t.Errorf("areas %q, want %q", got.Areas, wantAreas)
			}
			// ann was never assigned: longest idle first.
			want := []expert{
				{"ann@example.com", "Ann Lee", []string{"watches"}},
				{"bob@example.com", "bob@example.com", []string{"jewellery"}},
			}
			if len(got.Experts) != len(want) {
				t.Fatalf("experts %+v, want %+v", got.Experts, want)
			}
			for i := range want {
				if got.Experts[i].Identity != want[i].Identity || got.Experts[i].Name != want[i].Name || !slices.Equal(got.Experts[i].Areas, want[i].Areas) {
					t.Errorf("expert %d = %+v, want %+v", i, got.Experts[i], want[i])
				}
			}
			var raw map[string]any
			_ = json.Unmarshal([]byte(body), &raw)
			if strings.Contains(body, "+44") || strings.Contains(body, "+33") || len(raw) != 2 {
				t.Errorf("experts answered %s: want areas and experts only, no phone number", body)
			}
		})
	}
	if n := validations(h); n != 1 {
		t.Errorf("%d validations for one token in 2 requests, want 1", n)
	}
	for _, tt := range []struct {
		name   string
		method string
		header http.Header
		want   int
	}{
		{"no credentials", http.MethodGet, nil, http.StatusUnauthorized},
		{"wrong secret", http.MethodGet, http.Header{"Authorization": {"Bearer not-the-secret"}}, http.StatusUnauthorized},
		{"oversized token", http.MethodGet, http.Header{"X-Flex-Jwe": {strings.Repeat("a.", 5000)}}, http.StatusUnauthorized},
		{"POST", http.MethodPost, http.Header{"X-Flex-Jwe": {agent}}, http.StatusMethodNotAllowed},
	} {
		if status, _, body := flexCall(t, h, tt.method, function.Experts, "", "", tt.header); status != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, status, body, tt.want)
		}
	}
	if n := validations(h); n != 1 {
		t.Errorf("%d validations after refused callers, want still 1: a wrong secret or an oversized token is not sent to Twilio", n)
	}
}

// TestFlexCORS: handoff and experts answer the browser's CORS checks for
// FLEX_UI_ORIGINS, and only for them; every other function sends no CORS
// header, so no page can read it.
func TestFlexCORS(t *testing.T) {
	h := flexHarness(t, apptest.InMemory, config.Env{"FLEX_UI_ORIGINS": "https://flex.twilio.com, http://localhost:*"})
	agent := h.Flex.MintFlexToken(flexAgentLogin, []string{"agent"}, time.Hour)
	preflight := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type,x-flex-jwe"}}
	}
	for _, name := range []function.Name{function.Handoff, function.Experts} {
		for _, tt := range []struct {
			origin string
			ok     bool
		}{
			{"https://flex.twilio.com", true},
			{"http://localhost:5173", true},
			{"https://flex.twilio.com.evil.example", false},
			{"http://localhost.evil.example:80", false},
			{"https://evil.example", false},
			{"null", false},
		} {
			status, hd, _ := flexCall(t, h, http.MethodOptions, name, "", "", preflight(tt.origin))
			switch {
			case tt.ok && (status != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != tt.origin ||
				!strings.Contains(hd.Get("Access-Control-Allow-Methods"), "POST") ||
				!strings.Contains(hd.Get("Access-Control-Allow-Headers"), "X-Flex-JWE") ||
				hd.Get("Access-Control-Max-Age") == "" || hd.Get("Vary") != "Origin"):
				t.Errorf("%s preflight from %s = %d %v, want 204 allowing it", name, tt.origin, status, hd)
			case !tt.ok && (status != http.StatusForbidden || hd.Get("Access-Control-Allow-Origin") != ""):
				t.Errorf("%s preflight from %s = %d %v, want 403 without CORS headers", name, tt.origin, status, hd)
			}
			// The request itself: allowed origins may read the answer.
			_, hd, _ = flexCall(t, h, http.MethodGet, function.Experts, "", "", http.Header{"Origin": {tt.origin}, "X-Flex-Jwe": {agent}})
			if got := hd.Get("Access-Control-Allow-Origin"); tt.ok != (got == tt.origin) || !tt.ok && got != "" {
				t.Errorf("experts from %s: Access-Control-Allow-Origin %q", tt.origin, got)
			}
		}
	}
	for _, name := range function.All() {
		if name == function.Handoff || name == function.Experts {
			continue
		}
		for _, method := range []string{http.MethodOptions, http.MethodPost, http.MethodGet} {
			_, hd, _ := flexCall(t, h, method, name, "", "", preflight("https://flex.twilio.com"))
			for k := range hd {
				if strings.HasPrefix(strings.ToLower(k), "access-control-") {
					t.Errorf("%s %s sent %s: only handoff and experts answer browsers", method, name, k)
				}
			}
		}
	}
}
