package strapitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/strapitest"
)

// get requests path?query with an optional bearer and returns the status
// and decoded JSON body.
func get(t *testing.T, s *strapitest.Server, path string, q url.Values, bearer string) (int, any) {
	t.Helper()
	u := s.URL + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("GET %s: body is not JSON: %q", u, b)
	}
	return resp.StatusCode, v
}

func login(t *testing.T, s *strapitest.Server, path, identifier, password string) (int, map[string]any) {
	t.Helper()
	body := fmt.Sprintf(`{"identifier":%q,"password":%q}`, identifier, password)
	resp, err := s.Client().Post(s.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	json.NewDecoder(resp.Body).Decode(&v)
	return resp.StatusCode, v
}

func maria() crm.Customer {
	return crm.Customer{ID: "1", DisplayName: "Maria Sanchez", Avatar: "https://example.com/face1.jpeg",
		Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}}
}

func jo() crm.Customer {
	return crm.Customer{ID: "2", DisplayName: "Jo Anne", Avatar: "https://example.com/face2.jpeg",
		Channels: []crm.Channel{{Type: "sms", Value: "+447491000002"}}}
}

func susan() crm.Customer {
	return crm.Customer{ID: "3", DisplayName: "Susan Smith", Avatar: "https://example.com/face3.jpeg",
		Channels: []crm.Channel{{Type: "whatsapp", Value: "+5521989500003"}}}
}

func seeded(version int, opts ...strapitest.Option) *strapitest.Server {
	s := strapitest.NewServer(version, opts...)
	s.Add(maria())
	s.Add(jo())
	s.Add(susan())
	return s
}

func data(t *testing.T, body any) []any {
	t.Helper()
	m, ok := body.(map[string]any)
	if !ok {
		t.Fatalf("body is not an object: %v", body)
	}
	d, ok := m["data"].([]any)
	if !ok {
		t.Fatalf("no data array: %v", body)
	}
	return d
}

func pagination(t *testing.T, body any) map[string]any {
	t.Helper()
	return body.(map[string]any)["meta"].(map[string]any)["pagination"].(map[string]any)
}

func TestShapes(t *testing.T) {
	q := url.Values{"populate": {"channels"}, "pagination[pageSize]": {"2"}, "sort": {"customer_id:asc"}}

	t.Run("v5", func(t *testing.T) {
		s := seeded(5)
		defer s.Close()
		status, body := get(t, s, "/api/customers", q, "")
		if status != 200 {
			t.Fatalf("status %d", status)
		}
		d := data(t, body)
		if len(d) != 2 {
			t.Fatalf("got %d rows, want 2", len(d))
		}
		e := d[0].(map[string]any)
		for _, k := range []string{"id", "documentId", "display_name", "customer_id", "avatar", "createdAt", "updatedAt", "publishedAt", "channels"} {
			if _, ok := e[k]; !ok {
				t.Errorf("v5 entry lacks %q: %v", k, e)
			}
		}
		if _, ok := e["attributes"]; ok {
			t.Errorf("v5 entry is wrapped in attributes: %v", e)
		}
		if e["customer_id"] != float64(1) || e["display_name"] != "Maria Sanchez" {
			t.Errorf("first entry = %v", e)
		}
		ch := e["channels"].([]any)[0].(map[string]any)
		if ch["type"] != "sms" || ch["value"] != "+33679500001" || ch["id"] == nil {
			t.Errorf("channel = %v", ch)
		}
		want := map[string]any{"page": float64(1), "pageSize": float64(2), "pageCount": float64(2), "total": float64(3)}
		if got := pagination(t, body); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("pagination = %v, want %v", got, want)
		}
	})
	t.Run("v4", func(t *testing.T) {
		s := seeded(4)
		defer s.Close()
		_, body := get(t, s, "/api/customers", q, "")
		e := data(t, body)[0].(map[string]any)
		if _, ok := e["documentId"]; ok {
			t.Errorf("v4 entry has documentId: %v", e)
		}
		a, ok := e["attributes"].(map[string]any)
		if !ok || a["customer_id"] != float64(1) || a["channels"] == nil || e["id"] == nil {
			t.Errorf("v4 entry = %v", e)
		}
	})
	t.Run("v3", func(t *testing.T) {
		s := seeded(3)
		defer s.Close()
		status, body := get(t, s, "/customers", url.Values{"_sort": {"customer_id:ASC"}}, "")
		arr, ok := body.([]any)
		if status != 200 || !ok || len(arr) != 3 {
			t.Fatalf("v3 list = %d %v", status, body)
		}
		e := arr[2].(map[string]any)
		if e["customer_id"] != float64(3) || e["channels"] == nil || e["created_at"] == nil || e["createdAt"] != nil {
			t.Errorf("v3 entry = %v", e)
		}
		if status, body := get(t, s, "/customers/count", url.Values{"customer_id_gt": {"1"}}, ""); status != 200 || body != float64(2) {
			t.Errorf("count = %d %v, want 2", status, body)
		}
		if status, _ := get(t, s, "/api/customers", nil, ""); status != 404 {
			t.Errorf("v3 /api/customers = %d, want 404", status)
		}
	})
}

func TestPopulate(t *testing.T) {
	for _, v := range []int{4, 5} {
		s := seeded(v)
		defer s.Close()
		_, body := get(t, s, "/api/customers", nil, "")
		e := data(t, body)[0].(map[string]any)
		if a, ok := e["attributes"].(map[string]any); ok {
			e = a
		}
		if _, ok := e["channels"]; ok {
			t.Errorf("v%d: channels present without populate: %v", v, e)
		}
		for _, p := range []url.Values{{"populate": {"*"}}, {"populate": {"channels"}}, {"populate[0]": {"channels"}}} {
			_, body := get(t, s, "/api/customers", p, "")
			e := data(t, body)[0].(map[string]any)
			if a, ok := e["attributes"].(map[string]any); ok {
				e = a
			}
			if _, ok := e["channels"]; !ok {
				t.Errorf("v%d %v: channels absent: %v", v, p, e)
			}
		}
	}
}

func TestPaginationAndStrictParams(t *testing.T) {
	s := strapitest.NewServer(5, strapitest.WithCustomers(250))
	defer s.Close()
	tests := []struct {
		name     string
		q        url.Values
		status   int
		rows     int
		meta     string
		errorMsg string
	}{
		{"default 25", nil, 200, 25, "map[page:1 pageCount:10 pageSize:25 total:250]", ""},
		{"capped at 100", url.Values{"pagination[pageSize]": {"500"}}, 200, 100, "map[page:1 pageCount:3 pageSize:100 total:250]", ""},
		{"last page", url.Values{"pagination[pageSize]": {"100"}, "pagination[page]": {"3"}}, 200, 50, "map[page:3 pageCount:3 pageSize:100 total:250]", ""},
		{"offset", url.Values{"pagination[start]": {"240"}, "pagination[limit]": {"100"}}, 200, 10, "map[limit:100 start:240 total:250]", ""},
		{"without count", url.Values{"pagination[pageSize]": {"10"}, "pagination[withCount]": {"false"}}, 200, 10, "map[page:1 pageSize:10]", ""},
		{"limit -1 is one row in v5", url.Values{"pagination[limit]": {"-1"}}, 200, 1, "map[limit:1 start:0 total:250]", ""},
		{"mixing", url.Values{"pagination[page]": {"1"}, "pagination[limit]": {"10"}}, 400, 0, "", "Cannot use both page & offset pagination in the same query"},
		{"unknown key", url.Values{"foo": {"bar"}}, 400, 0, "", "Invalid key foo"},
		{"unknown filter field", url.Values{"filters[nope][$eq]": {"1"}}, 400, 0, "", "Invalid key nope"},
		{"unknown operator", url.Values{"filters[customer_id][$near]": {"1"}}, 400, 0, "", "Invalid key $near"},
		{"unknown populate", url.Values{"populate": {"nope"}}, 400, 0, "", "Invalid key nope"},
		{"unknown sort", url.Values{"sort": {"nope:asc"}}, 400, 0, "", "Invalid key nope"},
		{"v4 param on v5", url.Values{"publicationState": {"preview"}}, 400, 0, "", "Invalid key publicationState"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, s, "/api/customers", tt.q, "")
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, body)
			}
			if tt.status != 200 {
				e := body.(map[string]any)["error"].(map[string]any)
				if e["message"] != tt.errorMsg || e["status"] != float64(tt.status) {
					t.Errorf("error = %v, want message %q", e, tt.errorMsg)
				}
				return
			}
			if got := len(data(t, body)); got != tt.rows {
				t.Errorf("rows = %d, want %d", got, tt.rows)
			}
			if got := fmt.Sprint(pagination(t, body)); got != tt.meta {
				t.Errorf("pagination = %s, want %s", got, tt.meta)
			}
		})
	}
}

func ids(t *testing.T, version int, body any) []string {
	t.Helper()
	var rows []any
	if version == 3 {
		rows = body.([]any)
	} else {
		rows = data(t, body)
	}
	var out []string
	for _, r := range rows {
		e := r.(map[string]any)
		if a, ok := e["attributes"].(map[string]any); ok {
			e = a
		}
		out = append(out, fmt.Sprint(e["customer_id"]))
	}
	return out
}

func TestFiltersAndSort(t *testing.T) {
	tests := []struct {
		name string
		v45  url.Values
		v3   url.Values
		want string
	}{
		{"eq", url.Values{"filters[customer_id][$eq]": {"2"}}, url.Values{"customer_id": {"2"}}, "[2]"},
		{"gt sorted desc", url.Values{"filters[customer_id][$gt]": {"1"}, "sort": {"customer_id:desc"}},
			url.Values{"customer_id_gt": {"1"}, "_sort": {"customer_id:DESC"}}, "[3 2]"},
		{"in", url.Values{"filters[customer_id][$in][0]": {"1"}, "filters[customer_id][$in][1]": {"3"}, "sort": {"customer_id:asc"}},
			url.Values{"customer_id_in": {"1", "3"}, "_sort": {"customer_id:ASC"}}, "[1 3]"},
		{"component eq", url.Values{"filters[channels][value][$eq]": {"+447491000002"}},
			url.Values{"channels.value": {"+447491000002"}}, "[2]"},
		{"component in", url.Values{"filters[channels][value][$in][0]": {"+5521989500003"}, "filters[channels][value][$in][1]": {"whatsapp:+5521989500003"}},
			url.Values{"channels.value_in": {"+5521989500003", "whatsapp:+5521989500003"}}, "[3]"},
		{"component type", url.Values{"filters[channels][type][$eq]": {"whatsapp"}}, url.Values{"channels.type": {"whatsapp"}}, "[3]"},
		{"not null", url.Values{"filters[customer_id][$notNull]": {"true"}, "sort[0]": {"customer_id:asc"}},
			url.Values{"customer_id_null": {"false"}, "_sort": {"customer_id:ASC"}}, "[1 2 3]"},
		{"null", url.Values{"filters[customer_id][$null]": {"true"}}, url.Values{"customer_id_null": {"true"}}, "[<nil>]"},
		{"no match", url.Values{"filters[customer_id][$eq]": {"abc"}}, url.Values{"customer_id": {"abc"}}, "[]"},
	}
	for _, v := range []int{3, 4, 5} {
		s := seeded(v)
		s.Add(crm.Customer{DisplayName: "No Id"})
		defer s.Close()
		for _, tt := range tests {
			path, q := "/api/customers", tt.v45
			if v == 3 {
				path, q = "/customers", tt.v3
			}
			status, body := get(t, s, path, q, "")
			if status != 200 {
				t.Errorf("v%d %s: status %d: %v", v, tt.name, status, body)
				continue
			}
			if got := fmt.Sprint(ids(t, v, body)); got != tt.want {
				t.Errorf("v%d %s: got %s, want %s", v, tt.name, got, tt.want)
			}
		}
	}
}

func TestAuth(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			s := seeded(v, strapitest.WithAPIToken("tok"), strapitest.WithUser("sync@example.com", "pw"))
			defer s.Close()
			list, auth := "/api/customers", "/api/auth/local"
			if v == 3 {
				list, auth = "/customers", "/auth/local"
			}
			if status, _ := get(t, s, list, nil, ""); status != 403 {
				t.Errorf("no credentials: %d, want 403", status)
			}
			if status, _ := get(t, s, list, nil, "wrong"); status != 401 {
				t.Errorf("bad token: %d, want 401", status)
			}
			wantToken := 200
			if v == 3 {
				wantToken = 401 // v3 has no API tokens
			}
			if status, _ := get(t, s, list, nil, "tok"); status != wantToken {
				t.Errorf("API token: %d, want %d", status, wantToken)
			}
			if status, body := login(t, s, auth, "sync@example.com", "nope"); status != 400 || body["jwt"] != nil {
				t.Errorf("bad password: %d %v, want 400", status, body)
			}
			status, body := login(t, s, auth, "SYNC@example.com", "pw")
			jwt, _ := body["jwt"].(string)
			if status != 200 || jwt == "" {
				t.Fatalf("login: %d %v", status, body)
			}
			if status, _ := get(t, s, list, nil, jwt); status != 200 {
				t.Errorf("with JWT: %d, want 200", status)
			}
			s.ExpireSessions()
			if status, _ := get(t, s, list, nil, jwt); status != 401 {
				t.Errorf("expired JWT: %d, want 401", status)
			}
			if got := s.Requests(strapitest.RouteLogin); got != 2 {
				t.Errorf("login requests = %d, want 2", got)
			}
		})
	}
}

func TestLoginRateLimit(t *testing.T) {
	s := seeded(5, strapitest.WithUser("u", "pw"))
	defer s.Close()
	for i := range 10 {
		if status, _ := login(t, s, "/api/auth/local", "u", "bad"); status != 400 {
			t.Fatalf("attempt %d: %d, want 400", i+1, status)
		}
	}
	status, body := login(t, s, "/api/auth/local", "u", "pw")
	if status != 429 || body["error"].(map[string]any)["name"] != "RateLimitError" {
		t.Errorf("11th auth request: %d %v, want 429 RateLimitError", status, body)
	}
}

func TestV5Publish(t *testing.T) {
	s := seeded(5)
	defer s.Close()
	before, _ := s.Entry("3")
	after, err := s.Update("3", func(c *crm.Customer) { c.DisplayName = "Susan Smith-Jones" })
	if err != nil {
		t.Fatal(err)
	}
	if after.ID == before.ID || after.DocumentID != before.DocumentID {
		t.Errorf("publish: id %d → %d, documentId %s → %s; want a new id and the same documentId", before.ID, after.ID, before.DocumentID, after.DocumentID)
	}
	if status, _ := get(t, s, fmt.Sprint("/api/customers/", after.ID), nil, ""); status != 404 {
		t.Errorf("GET by numeric id in v5: %d, want 404", status)
	}
	status, body := get(t, s, "/api/customers/"+after.DocumentID, nil, "")
	if status != 200 || body.(map[string]any)["data"].(map[string]any)["display_name"] != "Susan Smith-Jones" {
		t.Errorf("GET by documentId: %d %v", status, body)
	}
	// Without a sort the order follows the row id, which the publish moved.
	_, body = get(t, s, "/api/customers", nil, "")
	if got := fmt.Sprint(ids(t, 5, body)); got != "[1 2 3]" {
		t.Errorf("default order = %s", got)
	}
	s.Update("1", func(c *crm.Customer) {})
	_, body = get(t, s, "/api/customers", nil, "")
	if got := fmt.Sprint(ids(t, 5, body)); got != "[2 3 1]" {
		t.Errorf("default order after republishing 1 = %s, want [2 3 1]", got)
	}
}

func TestDrafts(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		s := seeded(v)
		defer s.Close()
		s.AddDraft(crm.Customer{ID: "9", DisplayName: "Draft"})
		s.Unpublish("2")
		path, live, preview := "/api/customers", url.Values{"sort": {"customer_id:asc"}}, url.Values{"sort": {"customer_id:asc"}}
		switch v {
		case 3:
			path, live, preview = "/customers", url.Values{"_sort": {"customer_id:ASC"}}, url.Values{"_sort": {"customer_id:ASC"}, "_publicationState": {"preview"}}
		case 4:
			preview.Set("publicationState", "preview")
		case 5:
			preview.Set("status", "draft")
		}
		_, body := get(t, s, path, live, "")
		if got := fmt.Sprint(ids(t, v, body)); got != "[1 3]" {
			t.Errorf("v%d published = %s, want [1 3]", v, got)
		}
		_, body = get(t, s, path, preview, "")
		if got := fmt.Sprint(ids(t, v, body)); got != "[1 2 3 9]" {
			t.Errorf("v%d drafts = %s, want [1 2 3 9]", v, got)
		}
		if got := len(s.Customers()); got != 2 {
			t.Errorf("v%d Customers() has %d, want the 2 published", v, got)
		}
	}
}

func TestFaultsAndCounters(t *testing.T) {
	s := seeded(4)
	defer s.Close()
	s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 1, Times: 2, Status: 503})
	var got []int
	for range 4 {
		status, _ := get(t, s, "/api/customers", nil, "")
		got = append(got, status)
	}
	if fmt.Sprint(got) != "[200 503 503 200]" {
		t.Errorf("statuses = %v, want [200 503 503 200]", got)
	}
	if n := s.Requests(strapitest.RouteList); n != 4 {
		t.Errorf("list requests = %d, want 4", n)
	}

	s.InjectFault(strapitest.Fault{Drop: true})
	if _, err := s.Client().Get(s.URL + "/api/customers"); err == nil {
		t.Error("dropped connection: no error")
	}
	s.ClearFaults()

	s.InjectFault(strapitest.Fault{Delay: 50 * time.Millisecond, Times: 1})
	start := time.Now()
	if status, _ := get(t, s, "/api/customers", nil, ""); status != 200 {
		t.Errorf("slow request: %d", status)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("slow fault did not delay")
	}
}

func TestWebhooks(t *testing.T) {
	type call struct {
		event string
		body  map[string]any
	}
	for _, v := range []int{3, 4, 5} {
		var mu sync.Mutex
		var calls []call
		s := strapitest.NewServer(v, strapitest.WithWebhooks(func(event string, body []byte) {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Errorf("webhook body is not JSON: %s", body)
			}
			mu.Lock()
			calls = append(calls, call{event, m})
			mu.Unlock()
		}))
		defer s.Close()
		s.Add(susan())
		s.Delete("3")

		var events []string
		for _, c := range calls {
			events = append(events, c.event)
			if c.body["event"] != c.event || c.body["model"] != "customer" {
				t.Errorf("v%d %s: payload %v", v, c.event, c.body)
			}
			_, hasUID := c.body["uid"]
			if hasUID != (v != 3) {
				t.Errorf("v%d: uid present = %v", v, hasUID)
			}
			e := c.body["entry"].(map[string]any)
			if e["customer_id"] != float64(3) {
				t.Errorf("v%d %s: entry = %v", v, c.event, e)
			}
			_, hasChannels := e["channels"]
			if hasChannels != (c.event != "entry.delete") {
				t.Errorf("v%d %s: channels present = %v", v, c.event, hasChannels)
			}
		}
		want := "[entry.create entry.delete]"
		if v == 5 {
			want = "[entry.create entry.publish entry.delete entry.delete]"
			if calls[0].body["entry"].(map[string]any)["publishedAt"] != nil {
				t.Errorf("v5 entry.create is not the draft: %v", calls[0].body)
			}
			if calls[3].body["entry"].(map[string]any)["publishedAt"] == nil {
				t.Errorf("v5 second entry.delete is not the published row: %v", calls[3].body)
			}
		}
		if got := fmt.Sprint(events); got != want {
			t.Errorf("v%d events = %s, want %s", v, got, want)
		}
	}
}

func TestExtraFields(t *testing.T) {
	c := crm.Customer{ID: "7", DisplayName: "Owned", Worker: "Alice@Example.com",
		Links:   []crm.Link{{Type: "web", Value: "https://example.com", DisplayName: "Site"}},
		Details: &crm.Details{Title: "T", Content: "C"}}
	plain := strapitest.NewServer(5)
	defer plain.Close()
	plain.Add(c)
	if got := plain.Customers()[0]; got.Worker != "" || got.Links != nil || got.Details != nil {
		t.Errorf("without WithExtraFields the extras are kept: %+v", got)
	}
	if status, _ := get(t, plain, "/api/customers", url.Values{"filters[worker][$eq]": {"x"}}, ""); status != 400 {
		t.Errorf("filter on worker without the field: %d, want 400", status)
	}

	s := strapitest.NewServer(5, strapitest.WithExtraFields())
	defer s.Close()
	s.Add(c)
	_, body := get(t, s, "/api/customers", url.Values{"populate": {"*"}}, "")
	e := data(t, body)[0].(map[string]any)
	if e["worker"] != "Alice@Example.com" || e["links"] == nil || e["details"].(map[string]any)["content"] != "C" {
		t.Errorf("entry with extras = %v", e)
	}
}
