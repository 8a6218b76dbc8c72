package strapitest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
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

// TestShapes checks the answers against the bodies of https://docs.strapi.io/cms/api/rest (v5
// verified on 5.54), to the query the sync sends.
func TestShapes(t *testing.T) {
	q := url.Values{"populate": {"*"}, "pagination[pageSize]": {"2"}, "sort": {"customer_id:asc"}}
	for _, tt := range []struct {
		version int
		path    string
		q       url.Values
		check   func(t *testing.T, body any)
	}{
		{5, "/api/customers", q, func(t *testing.T, body any) {
			e := data(t, body)[0].(map[string]any)
			want := []string{"avatar", "channels", "createdAt", "customer_id", "display_name", "documentId", "id", "publishedAt", "updatedAt"}
			if got := slices.Sorted(maps.Keys(e)); !slices.Equal(got, want) {
				t.Errorf("v5 entry keys = %v, want %v", got, want)
			}
			if e["customer_id"] != float64(1) || e["display_name"] != "Maria Sanchez" {
				t.Errorf("first entry = %v", e)
			}
			ch := e["channels"].([]any)[0].(map[string]any)
			if ch["type"] != "sms" || ch["value"] != "+33679500001" || ch["id"] == nil {
				t.Errorf("channel = %v", ch)
			}
			want2 := "map[page:1 pageCount:2 pageSize:2 total:3]"
			if got := fmt.Sprint(pagination(t, body)); got != want2 {
				t.Errorf("pagination = %v, want %v", got, want2)
			}
		}},
		{4, "/api/customers", q, func(t *testing.T, body any) {
			e := data(t, body)[0].(map[string]any)
			if _, ok := e["documentId"]; ok {
				t.Errorf("v4 entry has documentId: %v", e)
			}
			a, ok := e["attributes"].(map[string]any)
			if !ok || a["customer_id"] != float64(1) || a["channels"] == nil || e["id"] == nil {
				t.Errorf("v4 entry = %v", e)
			}
		}},
		{3, "/customers", url.Values{"_sort": {"customer_id:ASC"}, "_limit": {"100"}}, func(t *testing.T, body any) {
			arr, ok := body.([]any)
			if !ok || len(arr) != 3 {
				t.Fatalf("v3 list = %v", body)
			}
			e := arr[2].(map[string]any)
			if e["customer_id"] != float64(3) || e["channels"] == nil || e["created_at"] == nil || e["createdAt"] != nil {
				t.Errorf("v3 entry = %v", e)
			}
		}},
	} {
		t.Run(fmt.Sprint("v", tt.version), func(t *testing.T) {
			s := seeded(tt.version)
			defer s.Close()
			status, body := get(t, s, tt.path, tt.q, "")
			if status != 200 {
				t.Fatalf("status %d: %v", status, body)
			}
			tt.check(t, body)
		})
	}
}

// TestPopulate: v4/v5 leave the components out unless asked, as the
// detection probe does not ask.
func TestPopulate(t *testing.T) {
	for _, v := range []int{4, 5} {
		s := seeded(v)
		defer s.Close()
		for _, tt := range []struct {
			q    url.Values
			want bool
		}{{url.Values{"pagination[pageSize]": {"1"}}, false}, {url.Values{"populate": {"*"}}, true}} {
			_, body := get(t, s, "/api/customers", tt.q, "")
			e := data(t, body)[0].(map[string]any)
			if a, ok := e["attributes"].(map[string]any); ok {
				e = a
			}
			if _, ok := e["channels"]; ok != tt.want {
				t.Errorf("v%d %v: channels present = %v, want %v", v, tt.q, ok, tt.want)
			}
		}
	}
}

func TestPagination(t *testing.T) {
	s := strapitest.NewServer(5, strapitest.WithCustomers(250))
	defer s.Close()
	tests := []struct {
		name string
		q    url.Values
		rows int
		meta string
	}{
		{"default 25", nil, 25, "map[page:1 pageCount:10 pageSize:25 total:250]"},
		{"capped at 100", url.Values{"pagination[pageSize]": {"500"}}, 100, "map[page:1 pageCount:3 pageSize:100 total:250]"},
		{"last page", url.Values{"pagination[pageSize]": {"100"}, "pagination[page]": {"3"}}, 50, "map[page:3 pageCount:3 pageSize:100 total:250]"},
		{"without count", url.Values{"pagination[pageSize]": {"10"}, "pagination[withCount]": {"false"}}, 10, "map[page:1 pageSize:10]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, s, "/api/customers", tt.q, "")
			if status != 200 {
				t.Fatalf("status %d: %v", status, body)
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

// TestUnsupported: what the client does not send is a 400 naming it.
func TestUnsupported(t *testing.T) {
	tests := []struct {
		version int
		path    string
		q       url.Values
		want    string // in the message
	}{
		{5, "/api/customers", url.Values{"foo": {"bar"}}, "foo=bar"},
		{5, "/api/customers", url.Values{"pagination[start]": {"0"}}, "pagination[start]"},
		{5, "/api/customers", url.Values{"pagination[pageSize]": {"0"}}, "pagination[pageSize]=0"},
		{5, "/api/customers", url.Values{"fields[0]": {"customer_id"}}, "fields[0]"},
		{5, "/api/customers", url.Values{"populate": {"channels"}}, "populate=channels"},
		{5, "/api/customers", url.Values{"sort": {"customer_id:desc"}}, "sort=customer_id:desc"},
		{5, "/api/customers", url.Values{"sort": {"display_name:asc"}}, "sort=display_name:asc"},
		{5, "/api/customers", url.Values{"status": {"draft"}}, "status=draft"},
		{5, "/api/customers", url.Values{"filters[nope][$eq]": {"1"}}, "filters[nope][$eq]"},
		{5, "/api/customers", url.Values{"filters[customer_id][$lt]": {"1"}}, "filters[customer_id][$lt]"},
		{5, "/api/customers", url.Values{"filters[customer_id][$null]": {"false"}}, "filters[customer_id][$null]=false"},
		{5, "/api/customers", url.Values{"filters[channels][type][$eq]": {"sms"}}, "filters[channels][type][$eq]"},
		{5, "/api/customers", url.Values{"filters[$or][0][customer_id][$eq]": {"1"}}, "filters[$or]"},
		{4, "/api/customers", url.Values{"filters[documentId][$gt]": {"a"}}, "filters[documentId][$gt]"},
		{4, "/api/customers", url.Values{"publicationState": {"preview"}}, "publicationState"},
		{5, "/api/customers/abc", nil, "GET /api/customers/abc"},
		{3, "/customers", url.Values{"_start": {"0"}}, "_start"},
		{3, "/customers", url.Values{"_sort": {"customer_id:DESC"}}, "_sort=customer_id:DESC"},
		{3, "/customers", url.Values{"_where[0][customer_id]": {"1"}}, "_where"},
		{3, "/customers", url.Values{"channels.type": {"sms"}}, "channels.type"},
		{3, "/customers", url.Values{"pagination[pageSize]": {"1"}}, "pagination[pageSize]"},
		{3, "/customers/count", nil, "GET /customers/count"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("v%d %s?%s", tt.version, tt.path, tt.q.Encode()), func(t *testing.T) {
			s := seeded(tt.version)
			defer s.Close()
			status, body := get(t, s, tt.path, tt.q, "")
			if status != 400 {
				t.Fatalf("status %d, want 400: %v", status, body)
			}
			var msg any
			if tt.version == 3 {
				msg = body.(map[string]any)["message"]
			} else {
				msg = body.(map[string]any)["error"].(map[string]any)["message"]
			}
			if m, _ := msg.(string); !strings.Contains(m, tt.want) {
				t.Errorf("message %q does not name %q", m, tt.want)
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

// TestFilters runs the filters the client sends (internal/strapi list.go).
func TestFilters(t *testing.T) {
	tests := []struct {
		name string
		v45  url.Values
		v3   url.Values
		want string
	}{
		{"by id", url.Values{"filters[customer_id][$eq]": {"2"}}, url.Values{"customer_id": {"2"}}, "[2]"},
		{"after an id", url.Values{"filters[customer_id][$gt]": {"1"}, "sort": {"customer_id:asc"}},
			url.Values{"customer_id_gt": {"1"}, "_sort": {"customer_id:ASC"}}, "[2 3]"},
		{"ids compare as integers", url.Values{"filters[customer_id][$gt]": {"10"}}, url.Values{"customer_id_gt": {"10"}}, "[]"},
		{"by address", url.Values{"filters[channels][value][$in][0]": {"+5521989500003"}, "filters[channels][value][$in][1]": {"+447491000002"}, "sort": {"customer_id:asc"}},
			url.Values{"channels.value_in": {"+5521989500003", "+447491000002"}, "_sort": {"customer_id:ASC"}}, "[2 3]"},
		{"with an id", url.Values{"filters[customer_id][$notNull]": {"true"}, "sort": {"customer_id:asc"}},
			url.Values{"customer_id_null": {"false"}, "_sort": {"customer_id:ASC"}}, "[1 2 3]"},
		{"without an id", url.Values{"filters[customer_id][$null]": {"true"}, "sort": {"id:asc"}},
			url.Values{"customer_id_null": {"true"}, "_sort": {"id:ASC"}}, "[<nil> <nil>]"},
		{"not an integer", url.Values{"filters[customer_id][$eq]": {"abc"}}, url.Values{"customer_id": {"abc"}}, "[]"},
	}
	for _, v := range []int{3, 4, 5} {
		s := seeded(v)
		s.Add(crm.Customer{DisplayName: "No Id"})
		s.Add(crm.Customer{DisplayName: "No Id either"})
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

// TestKeyPass pages through the records without a customer_id by their
// key, as the client's second pass does: id, or documentId in v5.
func TestKeyPass(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		s := seeded(v)
		defer s.Close()
		var keys []string
		for i := range 3 {
			keys = append(keys, s.Add(crm.Customer{DisplayName: fmt.Sprint("Nobody ", i)}).Key())
		}
		field := "id"
		if v == 5 {
			field = "documentId"
			slices.Sort(keys)
		}
		path, q := "/api/customers", url.Values{"filters[customer_id][$null]": {"true"}, "sort": {field + ":asc"},
			"filters[" + field + "][$gt]": {keys[0]}, "populate": {"*"}, "pagination[withCount]": {"false"}}
		if v == 3 {
			path, q = "/customers", url.Values{"customer_id_null": {"true"}, "_sort": {"id:ASC"}, "id_gt": {keys[0]}}
		}
		status, body := get(t, s, path, q, "")
		if status != 200 {
			t.Fatalf("v%d: status %d: %v", v, status, body)
		}
		var got []string
		rows, _ := body.([]any)
		if v != 3 {
			rows = data(t, body)
		}
		for _, r := range rows {
			e := r.(map[string]any)
			got = append(got, fmt.Sprint(e[field]))
		}
		if !slices.Equal(got, keys[1:]) {
			t.Errorf("v%d: keys after %s = %v, want %v", v, keys[0], got, keys[1:])
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
	// Without a sort the order follows the row id, which the publish moved.
	_, body := get(t, s, "/api/customers", nil, "")
	if got := fmt.Sprint(ids(t, 5, body)); got != "[1 2 3]" {
		t.Errorf("default order = %s", got)
	}
	s.Update("1", func(c *crm.Customer) {})
	_, body = get(t, s, "/api/customers", nil, "")
	if got := fmt.Sprint(ids(t, 5, body)); got != "[2 3 1]" {
		t.Errorf("default order after republishing 1 = %s, want [2 3 1]", got)
	}
}

// TestDrafts: lists and Customers show published entries only.
func TestDrafts(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		s := seeded(v)
		defer s.Close()
		s.AddDraft(crm.Customer{ID: "9", DisplayName: "Draft"})
		s.Unpublish("2")
		path, q := "/api/customers", url.Values{"sort": {"customer_id:asc"}}
		if v == 3 {
			path, q = "/customers", url.Values{"_sort": {"customer_id:ASC"}}
		}
		_, body := get(t, s, path, q, "")
		if got := fmt.Sprint(ids(t, v, body)); got != "[1 3]" {
			t.Errorf("v%d published = %s, want [1 3]", v, got)
		}
		if got := len(s.Customers()); got != 2 {
			t.Errorf("v%d Customers() has %d, want the 2 published", v, got)
		}
		s.Publish("2")
		_, body = get(t, s, path, q, "")
		if got := fmt.Sprint(ids(t, v, body)); got != "[1 2 3]" {
			t.Errorf("v%d after publishing 2 = %s, want [1 2 3]", v, got)
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
