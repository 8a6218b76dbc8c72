package twiliotest_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// get does an authenticated GET of path (or of an absolute Twilio URL,
// redirected to the fake) and decodes the JSON answer.
func get(t *testing.T, s *twiliotest.Server, path string) (int, http.Header, map[string]any) {
	t.Helper()
	return do(t, s, http.MethodGet, path, nil, true)
}

func do(t *testing.T, s *twiliotest.Server, method, path string, form url.Values, auth bool) (int, http.Header, map[string]any) {
	t.Helper()
	if u, err := url.Parse(path); err == nil && u.IsAbs() {
		path = u.RequestURI()
	}
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if auth {
		req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode, resp.Header, out
}

func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

// Property names from twilio_conversations_v1.yaml and
// twilio_taskrouter_v1.yaml.
var (
	conversationFields = []string{"account_sid", "chat_service_sid", "messaging_service_sid", "sid", "friendly_name",
		"unique_name", "attributes", "state", "date_created", "date_updated", "timers", "url", "links", "bindings"}
	participantFields = []string{"account_sid", "conversation_sid", "sid", "identity", "attributes", "messaging_binding",
		"role_sid", "date_created", "date_updated", "url", "last_read_message_index", "last_read_timestamp"}
	messageFields = []string{"account_sid", "conversation_sid", "sid", "index", "author", "body", "media", "attributes",
		"participant_sid", "date_created", "date_updated", "url", "delivery", "links", "content_sid"}
	workerFields = []string{"account_sid", "activity_name", "activity_sid", "attributes", "available", "date_created",
		"date_status_changed", "date_updated", "friendly_name", "sid", "workspace_sid", "url", "links"}
	metaFields  = []string{"first_page_url", "key", "next_page_url", "page", "page_size", "previous_page_url", "url"}
	errorFields = []string{"code", "message", "more_info", "status"}
)

func TestJSONShapes(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	res, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	wk := s.AddWorker("ann@example.com", true, nil, s.QueueSID())
	convPath := "/v1/Conversations/" + res.ConversationSID
	wsPath := "/v1/Workspaces/" + s.WorkspaceSID()

	tests := []struct {
		method, path string
		form         url.Values
		key          string // list key; "" for a single resource
		fields       []string
	}{
		{"POST", convPath, url.Values{"FriendlyName": {"Ann"}}, "", conversationFields},
		{"GET", convPath + "/Participants", nil, "participants", participantFields},
		{"GET", convPath + "/Participants/" + res.ParticipantSID, nil, "", participantFields},
		{"POST", convPath + "/Participants/" + res.ParticipantSID, url.Values{"Attributes": {"{}"}}, "", participantFields},
		{"POST", convPath + "/Participants", url.Values{"Identity": {"ann@example.com"}}, "", participantFields},
		{"GET", convPath + "/Messages", nil, "messages", messageFields},
		{"POST", convPath + "/Messages", url.Values{"Body": {"hello"}}, "", messageFields},
		{"GET", wsPath + "/Workers", nil, "workers", workerFields},
		{"GET", wsPath + "/Workers/" + wk, nil, "", workerFields},
		{"POST", wsPath + "/Workers/" + wk, url.Values{"Attributes": {"{}"}}, "", workerFields},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			status, _, body := do(t, s, tt.method, tt.path, tt.form, true)
			if status/100 != 2 {
				t.Fatalf("status %d: %v", status, body)
			}
			item := body
			if tt.key != "" {
				if got := keys(body); !slices.Equal(got, sortedCopy([]string{tt.key, "meta"})) {
					t.Fatalf("list keys = %v", got)
				}
				meta := body["meta"].(map[string]any)
				if got := keys(meta); !slices.Equal(got, sortedCopy(metaFields)) || meta["key"] != tt.key {
					t.Errorf("meta = %v", meta)
				}
				items := body[tt.key].([]any)
				if len(items) == 0 {
					t.Fatal("no items")
				}
				item = items[0].(map[string]any)
			}
			if got := keys(item); !slices.Equal(got, sortedCopy(tt.fields)) {
				t.Errorf("fields = %v\nwant     %v", got, sortedCopy(tt.fields))
			}
			if u, _ := item["url"].(string); !strings.HasPrefix(u, "https://") || !strings.HasSuffix(u, item["sid"].(string)) {
				t.Errorf("url = %q", u)
			}
		})
	}

	_, _, p := get(t, s, convPath+"/Participants/"+res.ParticipantSID)
	binding := p["messaging_binding"].(map[string]any)
	if binding["type"] != "sms" || binding["address"] != "+15550001111" || binding["proxy_address"] != "+15559990000" || p["identity"] != nil {
		t.Errorf("customer participant = %v", p)
	}
	_, _, ms := get(t, s, convPath+"/Messages")
	m := ms["messages"].([]any)[0].(map[string]any)
	if m["index"] != 0.0 || m["author"] != "+15550001111" || m["participant_sid"] != res.ParticipantSID {
		t.Errorf("message = %v", m)
	}
}

func TestErrors(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	convSID := s.AddConversation("", "")
	sms, err := s.CustomerTexts(context.Background(), "+15550001111", "+15559990000", "hi")
	if err != nil {
		t.Fatal(err)
	}
	smsMessages := "/v1/Conversations/" + sms.ConversationSID + "/Messages"
	wk := s.AddWorker("ann@example.com", true, nil)
	ws := "/v1/Workspaces/" + s.WorkspaceSID()

	conv := "/v1/Conversations/" + convSID
	tests := []struct {
		name         string
		method, path string
		form         url.Values
		noAuth       bool
		status, code int
		// named is in the message of a 400 for what the fake does not serve.
		named string
	}{
		{"no auth", "GET", conv + "/Messages", nil, true, 401, 20003, ""},
		{"unknown conversation", "GET", "/v1/Conversations/CH0000000000000000000000000000dead/Messages", nil, false, 404, 20404, ""},
		{"participant exists", "POST", conv + "/Participants", url.Values{"Identity": {"a"}}, false, 0, 0, ""},
		{"participant exists again", "POST", conv + "/Participants", url.Values{"Identity": {"a"}}, false, 409, 50433, ""},
		{"unknown participant", "GET", conv + "/Participants/MB0000000000000000000000000000dead", nil, false, 404, 20404, ""},
		{"invalid attributes", "POST", conv + "/Messages", url.Values{"Attributes": {"{"}}, false, 400, 20001, ""},
		{"participant attributes too long", "POST", conv + "/Participants",
			url.Values{"Identity": {"b"}, "Attributes": {`{"x":"` + strings.Repeat("x", 4096) + `"}`}}, false, 400, 20001, ""},
		{"bad state", "POST", conv, url.Values{"State": {"open"}}, false, 400, 20001, ""},
		{"bad page size", "GET", conv + "/Messages?PageSize=0", nil, false, 400, 20001, ""},
		{"bad page token", "GET", conv + "/Messages?PageToken=PAnope", nil, false, 400, 20001, ""},
		{"unknown workspace", "GET", "/v1/Workspaces/WS0000000000000000000000000000dead/Workers", nil, false, 404, 20404, ""},
		{"stale If-Match", "POST", ws + "/Workers/" + wk, url.Values{"Attributes": {"{}"}}, false, 0, 0, ""},
		// Not served: internal/twilio does not call these.
		{"unknown path", "GET", "/v1/Nope", nil, false, 400, 20001, "GET /v1/Nope"},
		{"conversation list", "GET", "/v1/Conversations", nil, false, 400, 20001, "GET /v1/Conversations"},
		{"conversation create with timers, no state", "POST", "/v1/Conversations", url.Values{"Timers.Inactive": {"PT1M"}}, false, 400, 50382, "State"},
		{"conversation timer under Twilio's minimum", "POST", "/v1/Conversations", url.Values{"State": {"active"}, "Timers.Closed": {"PT9M"}}, false, 400, 20001, "Timers.Closed"},
		{"conversation timer not ISO 8601", "POST", conv, url.Values{"Timers.Inactive": {"7d"}}, false, 400, 20001, "Timers.Inactive"},
		{"conversation create", "POST", "/v1/Conversations", url.Values{"UniqueName": {"u1"}}, false, 0, 0, ""},
		{"unique name taken", "POST", "/v1/Conversations", url.Values{"UniqueName": {"u1"}}, false, 409, 50353, ""},
		{"other messaging service", "POST", "/v1/Conversations", url.Values{"MessagingServiceSid": {"MG0000000000000000000000000000dead"}}, false, 404, 20404, ""},
		{"customer bound", "POST", "/v1/Conversations/u1/Participants",
			url.Values{"MessagingBinding.Address": {"+15550004444"}, "MessagingBinding.ProxyAddress": {"+15550000000"}}, false, 0, 0, ""},
		{"binding in use", "POST", conv + "/Participants",
			url.Values{"MessagingBinding.Address": {"+15550004444"}, "MessagingBinding.ProxyAddress": {"+15550000000"}}, false, 409, 50416, ""},
		{"participant conversations of both", "GET", "/v1/ParticipantConversations?Address=%2B1&Identity=a", nil, false, 400, 20001, "exactly one"},
		{"task expression", "GET", ws + "/Tasks?EvaluateTaskAttributes=a%3E1", nil, false, 400, 20001, "EvaluateTaskAttributes"},
		{"task of another workflow", "POST", ws + "/Tasks", url.Values{"WorkflowSid": {"WW0000000000000000000000000000dead"}}, false, 404, 20404, ""},
		{"task priority", "POST", ws + "/Tasks", url.Values{"Priority": {"1"}}, false, 400, 20001, "Priority"},
		{"participant delete", "DELETE", conv + "/Participants/a", nil, false, 400, 20001, "DELETE " + conv + "/Participants/a"},
		{"worker create", "POST", ws + "/Workers", url.Values{"FriendlyName": {"bob"}}, false, 400, 20001, "POST " + ws + "/Workers"},
		{"customer participant", "POST", conv + "/Participants",
			url.Values{"MessagingBinding.Address": {"+15550003333"}}, false, 400, 20001, "MessagingBinding.Address"},
		{"message order", "GET", conv + "/Messages?Order=up", nil, false, 400, 20001, "Order"},
		{"message attributes too long", "POST", conv + "/Messages",
			url.Values{"Attributes": {`{"x":"` + strings.Repeat("x", 4096) + `"}`}}, false, 400, 20001, ""},
		{"friendly name update too long", "POST", conv, url.Values{"FriendlyName": {strings.Repeat("a", 257)}}, false, 400, 20001, ""},
		{"1,600 characters to SMS", "POST", smsMessages, url.Values{"Body": {strings.Repeat("é", 1600)}}, false, 0, 0, ""},
		{"body too long for SMS", "POST", smsMessages, url.Values{"Body": {strings.Repeat("a", 1601)}}, false, 400, 20001, ""},
		{"unique name", "POST", conv, url.Values{"UniqueName": {"x"}}, false, 400, 20001, "UniqueName"},
		{"worker expression", "GET", ws + "/Workers?TargetWorkersExpression=1==1", nil, false, 400, 20001, "TargetWorkersExpression"},
		{"worker activity", "POST", ws + "/Workers/" + wk, url.Values{"ActivitySid": {"WA1"}}, false, 400, 20001, "ActivitySid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := do(t, s, tt.method, tt.path, tt.form, !tt.noAuth)
			if tt.status == 0 {
				if status >= 300 {
					t.Fatalf("status %d: %v", status, body)
				}
				return
			}
			if status != tt.status || body["code"] != float64(tt.code) || body["status"] != float64(tt.status) {
				t.Errorf("got %d %v, want %d code %d", status, body, tt.status, tt.code)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, tt.named) {
				t.Errorf("message %q does not name %q", msg, tt.named)
			}
			if got := keys(body); !slices.Equal(got, errorFields) {
				t.Errorf("error fields = %v", got)
			}
		})
	}
}

func TestWorkerETags(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	wk := s.AddWorker("ann@example.com", true, nil, s.QueueSID())
	path := "/v1/Workspaces/" + s.WorkspaceSID() + "/Workers/" + wk

	_, h, _ := get(t, s, path)
	etag := h.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on fetch")
	}
	if _, h, _ := get(t, s, "/v1/Workspaces/"+s.WorkspaceSID()+"/Workers"); h.Get("ETag") == "" {
		t.Error("no ETag on list")
	}
	status, h2, _ := doIfMatch(t, s, path, url.Values{"Attributes": {`{"a":1}`}}, etag)
	if status != 200 || h2.Get("ETag") == "" || h2.Get("ETag") == etag {
		t.Fatalf("update with the fetched ETag: %d, ETag %q (was %q)", status, h2.Get("ETag"), etag)
	}
	if status, _, body := doIfMatch(t, s, path, url.Values{"Attributes": {`{"a":2}`}}, etag); status != 412 || body["code"] != 20412.0 {
		t.Errorf("update with a stale ETag: %d %v, want 412/20412", status, body)
	}
	if w, _ := s.Worker(wk); w.Attributes != `{"a":1}` || w.ETag != h2.Get("ETag") {
		t.Errorf("worker = %+v after a refused update", w)
	}
	// Availability changes are changes too.
	s.SetWorkerAvailable("ANN@example.com", false)
	if status, _, _ := doIfMatch(t, s, path, url.Values{"Attributes": {`{"a":3}`}}, h2.Get("ETag")); status != 412 {
		t.Errorf("update after an activity change: %d, want 412", status)
	}
}

func doIfMatch(t *testing.T, s *twiliotest.Server, path string, form url.Values, ifMatch string) (int, http.Header, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("If-Match", ifMatch)
	req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, resp.Header, body
}

func TestWorkerFilters(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	q, other := s.QueueSID(), "WQ0000000000000000000000000000beef"
	s.AddWorker("ann@example.com", true, nil, q)
	s.AddWorker("bob@example.com", false, nil, q)
	s.AddWorker("cid@example.com", true, nil, other)
	s.AddWorker("dan@example.com", true, nil, q, other)
	ws := "/v1/Workspaces/" + s.WorkspaceSID() + "/Workers"

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"ann", "bob", "cid", "dan"}},
		{"Available=true", []string{"ann", "cid", "dan"}},
		{"Available=1", []string{"ann", "cid", "dan"}},
		{"Available=yes", []string{"ann", "cid", "dan"}},
		{"Available=false", []string{"bob"}},
		{"Available=nope", []string{"bob"}},
		{"TaskQueueSid=" + q, []string{"ann", "bob", "dan"}},
		{"TaskQueueSid=" + q + "&Available=true", []string{"ann", "dan"}},
		{"FriendlyName=BOB@EXAMPLE.COM", []string{"bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			_, _, body := get(t, s, ws+"?"+tt.query)
			var got []string
			for _, w := range body["workers"].([]any) {
				name, _, _ := strings.Cut(w.(map[string]any)["friendly_name"].(string), "@")
				got = append(got, name)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	for i := range 5 {
		s.AddWorker(string(rune('a'+i))+"@example.com", true, nil, s.QueueSID())
	}
	var names []string
	next := "/v1/Workspaces/" + s.WorkspaceSID() + "/Workers?Available=true&PageSize=2"
	pages := 0
	for next != "" {
		pages++
		_, _, body := get(t, s, next)
		for _, w := range body["workers"].([]any) {
			names = append(names, w.(map[string]any)["friendly_name"].(string))
		}
		meta := body["meta"].(map[string]any)
		if meta["page_size"] != 2.0 || meta["page"] != float64(pages-1) {
			t.Errorf("page %d meta = %v", pages, meta)
		}
		next, _ = meta["next_page_url"].(string)
		if next != "" && (!strings.HasPrefix(next, "https://taskrouter.twilio.com/") || !strings.Contains(next, "Available=true")) {
			t.Errorf("next_page_url = %q, want the real host and the filters kept", next)
		}
	}
	want := []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com", "e@example.com"}
	if pages != 3 || !slices.Equal(names, want) {
		t.Errorf("%d pages of %v, want 3 of %v", pages, names, want)
	}
}

func TestSequentialRoundTrips(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(start, end int) twiliotest.Request {
		return twiliotest.Request{Start: t0.Add(time.Duration(start) * time.Millisecond), End: t0.Add(time.Duration(end) * time.Millisecond)}
	}
	tests := []struct {
		name string
		reqs []twiliotest.Request
		want int
	}{
		{"none", nil, 0},
		{"one", []twiliotest.Request{at(0, 10)}, 1},
		{"sequential", []twiliotest.Request{at(0, 10), at(10, 20), at(25, 30)}, 3},
		{"parallel", []twiliotest.Request{at(0, 10), at(1, 9), at(2, 12)}, 1},
		// 15-30 was sent once 0-10 had ended, 5-20 still in flight.
		{"chained overlap", []twiliotest.Request{at(0, 10), at(5, 20), at(15, 30), at(30, 40)}, 3},
		{"next round before the last of this one ends", []twiliotest.Request{at(0, 10), at(0, 11), at(10, 20), at(21, 30)}, 3},
		{"out of order", []twiliotest.Request{at(30, 40), at(0, 10), at(5, 8)}, 2},
	}
	for _, tt := range tests {
		if got := twiliotest.SequentialRoundTrips(tt.reqs); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestFaults(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	convSID := s.AddConversation("", "")
	path := "/v1/Conversations/" + convSID

	s.FailNext(http.MethodPost, path, 503, 0)
	s.FailNext("", "/v1/Conversations", 429, 1500*time.Millisecond)
	if status, _, _ := get(t, s, path+"/Messages"); status != 429 {
		t.Errorf("first GET = %d, want 429 (the 503 is for POSTs)", status)
	}
	status, h, body := do(t, s, http.MethodPost, path, url.Values{"FriendlyName": {"x"}}, true)
	if status != 503 || body["code"] != 20503.0 {
		t.Errorf("POST = %d %v, want 503/20503", status, body)
	}
	if h.Get("Retry-After") != "" {
		t.Errorf("Retry-After %q on a fault without one", h.Get("Retry-After"))
	}
	if status, _, _ := get(t, s, path+"/Messages"); status != 200 {
		t.Errorf("third request = %d, want 200: faults apply once", status)
	}
	s.FailNext("", "/", 429, 1500*time.Millisecond)
	if _, h, _ := get(t, s, path+"/Messages"); h.Get("Retry-After") != "2" {
		t.Errorf("Retry-After = %q, want whole seconds rounded up", h.Get("Retry-After"))
	}
	if c, _ := s.Conversation(convSID); c.FriendlyName != "" {
		t.Errorf("a failed update changed the conversation: %+v", c)
	}
}

func TestHangReleasedByClose(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	s.HangNext("", "/")
	done := make(chan int)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/Conversations", nil)
		req.SetBasicAuth(s.AccountSID(), s.AuthToken())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	select {
	case <-done:
		t.Fatal("a hung request was answered")
	case <-time.After(200 * time.Millisecond):
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a hung request")
	}
	<-done
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Status != 0 {
		t.Errorf("requests = %+v, want one unanswered", reqs)
	}
}

func TestLatency(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	s.SetLatency(100 * time.Millisecond)
	start := time.Now()
	get(t, s, "/v1/Workspaces/"+s.WorkspaceSID()+"/Workers")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered in %v with 100ms latency", d)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].End.Sub(reqs[0].Start) < 100*time.Millisecond {
		t.Errorf("logged %+v", reqs)
	}
}

// TestFrontlineUsers: every worker is a Frontline user, by identity (with
// case) or US… SID, in twilio_frontline_v1.yaml's shape; nothing else of
// /v1/Users is served.
func TestFrontlineUsers(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	s.AddWorker("ann@example.com", true, nil)
	s.SetDisplayName("ann@example.com", "Ann Lee")
	s.AddWorker("bob@example.com", false, nil)
	if !s.SetUserActive("bob@example.com", false) || s.SetDisplayName("zoe@example.com", "Zoe") {
		t.Fatal("the controls do not find workers by identity")
	}
	ann, _ := s.Worker("ann@example.com")
	userFields := []string{"avatar", "friendly_name", "identity", "is_available", "sid", "state", "url"}
	for _, key := range []string{"ann@example.com", ann.UserSID} {
		status, _, u := get(t, s, "/v1/Users/"+key)
		if status != http.StatusOK || !slices.Equal(keys(u), userFields) {
			t.Fatalf("GET /v1/Users/%s: %d %v, want 200 with %v", key, status, keys(u), userFields)
		}
		want := map[string]any{"sid": ann.UserSID, "identity": "ann@example.com", "friendly_name": "Ann Lee", "avatar": nil,
			"state": "active", "is_available": true, "url": "https://frontline-api.twilio.com/v1/Users/" + ann.UserSID}
		if !maps.Equal(u, want) {
			t.Errorf("GET /v1/Users/%s = %v, want %v", key, u, want)
		}
	}
	if _, _, u := get(t, s, "/v1/Users/bob@example.com"); u["state"] != "deactivated" || u["friendly_name"] != nil || u["is_available"] != false {
		t.Errorf("bob = %v, want deactivated, no display name, not available", u)
	}
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/v1/Users/Ann@Example.com", http.StatusNotFound}, // identities are case-sensitive
		{http.MethodGet, "/v1/Users/zoe@example.com", http.StatusNotFound},
		{http.MethodGet, "/v1/Users", http.StatusBadRequest},                  // no list
		{http.MethodPost, "/v1/Users/ann@example.com", http.StatusBadRequest}, // no update
	} {
		if status, _, _ := do(t, s, tt.method, tt.path, url.Values{}, true); status != tt.status {
			t.Errorf("%s %s = %d, want %d", tt.method, tt.path, status, tt.status)
		}
	}
}

// TestHoldNext: a held request is carried out after the hold even though
// its client gave up before: the message exists, and the client saw only
// a timeout.
func TestHoldNext(t *testing.T) {
	s := twiliotest.NewServer(twiliotest.Config{})
	t.Cleanup(s.Close)
	conv := s.AddConversation("", "")
	path := "/v1/Conversations/" + conv + "/Messages"
	s.HoldNext(http.MethodPost, path, 300*time.Millisecond)
	req, err := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(url.Values{"Body": {"late"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID(), s.AuthToken())
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("held request answered %d before the hold ended", resp.StatusCode)
	}
	if n := len(s.Messages(conv)); n != 0 {
		t.Fatalf("%d messages while the request is held, want 0", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Messages(conv)) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if ms := s.Messages(conv); len(ms) != 1 || ms[0].Body != "late" {
		t.Errorf("messages after the hold = %+v, want the held one", ms)
	}
	if status, _, _ := do(t, s, http.MethodPost, path, url.Values{"Body": {"next"}}, true); status != http.StatusCreated {
		t.Errorf("next POST = %d, want 201: a hold applies once", status)
	}
}
