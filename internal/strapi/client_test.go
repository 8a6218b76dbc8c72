package strapi_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/strapi"
	"github.com/experthub/experthub/internal/strapitest"
)

// The read path asks the client on a cache miss.
var _ crm.Source = (*strapi.Client)(nil)

// newClient returns a client for s, detecting the version unless told.
func newClient(s *strapitest.Server, cfg strapi.Config) *strapi.Client {
	cfg.BaseURL = s.URL
	cfg.HTTPClient = s.Client()
	return strapi.New(cfg)
}

// all lists every customer through Pages and checks the cursors.
func all(t *testing.T, c *strapi.Client, after string) []crm.Customer {
	t.Helper()
	var out []crm.Customer
	err := c.Pages(context.Background(), after, func(page []crm.Customer, cursor string) error {
		if len(page) == 0 {
			t.Error("empty page handed out")
		}
		if last := page[len(page)-1]; cursor != last.ID && !strings.HasSuffix(cursor, ":"+last.SourceKey) && !strings.HasPrefix(cursor, "id:") {
			t.Errorf("cursor %q does not follow the last customer %q", cursor, last.ID)
		}
		out = append(out, page...)
		return nil
	})
	if err != nil {
		t.Fatalf("Pages: %v", err)
	}
	return out
}

func TestPagesAllVersions(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		for _, version := range []string{"auto", fmt.Sprint(v)} {
			t.Run(fmt.Sprintf("v%d/%s", v, version), func(t *testing.T) {
				s := strapitest.NewServer(v, strapitest.WithCustomers(250), strapitest.WithExtraFields())
				defer s.Close()
				c := newClient(s, strapi.Config{Version: version})
				got := all(t, c, "")
				want := s.Customers()
				if len(got) != 250 {
					t.Fatalf("got %d customers, want 250", len(got))
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("customers differ; first got %+v, want %+v", got[0], want[0])
				}
				// 100 + 100 + 50, then the pass over customers without an id;
				// v3 does not report its page size, so it needs an empty page
				// to see the end.
				wantList := 4
				if v == 3 {
					wantList = 5
				}
				probe := 0
				if version == "auto" {
					probe = 1
				}
				if n := s.Requests(strapitest.RouteList); n != wantList+probe {
					t.Errorf("list requests = %d, want %d", n, wantList+probe)
				}
				// Detection is cached.
				s.ResetRequests()
				all(t, c, "")
				if n := s.Requests(strapitest.RouteList); n != wantList {
					t.Errorf("second listing made %d list requests, want %d", n, wantList)
				}
			})
		}
	}
}

func TestPagesWithoutCustomerID(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			s := strapitest.NewServer(v, strapitest.WithCustomers(120))
			defer s.Close()
			for i := range 3 {
				s.Add(crm.Customer{DisplayName: fmt.Sprint("Nobody ", i)})
			}
			s.AddDraft(crm.Customer{ID: "999", DisplayName: "Draft"})
			c := newClient(s, strapi.Config{})
			got := all(t, c, "")
			if !reflect.DeepEqual(got, s.Customers()) {
				t.Fatalf("got %d customers, want %d: %v", len(got), len(s.Customers()), got[len(got)-3:])
			}
			last := got[len(got)-1]
			wantID := "strapi-" + last.SourceKey
			if v == 5 {
				wantID = last.SourceKey
			}
			if last.ID != wantID || !strings.HasPrefix(last.DisplayName, "Nobody") {
				t.Errorf("last = %+v, want a customer with ID %s", last, wantID)
			}
		})
	}
}

func TestPagesResume(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			s := strapitest.NewServer(v, strapitest.WithCustomers(250))
			defer s.Close()
			s.Add(crm.Customer{DisplayName: "Nobody"})
			s.Add(crm.Customer{DisplayName: "Nobody either"})
			c := newClient(s, strapi.Config{})
			var cursors []string
			c.Pages(context.Background(), "", func(_ []crm.Customer, cursor string) error {
				cursors = append(cursors, cursor)
				return nil
			})
			if len(cursors) != 4 || cursors[0] != "100" || cursors[1] != "200" || cursors[2] != "250" {
				t.Fatalf("cursors = %q", cursors)
			}
			want := s.Customers()
			if got := all(t, c, "200"); !reflect.DeepEqual(got, want[200:]) {
				t.Errorf("resumed after 200: got %d customers, want %d", len(got), len(want)-200)
			}
			if got := all(t, c, cursors[3]); len(got) != 0 {
				t.Errorf("resumed after the last cursor: got %v", got)
			}
			// A cursor in the second pass skips the first.
			first := want[250]
			if got := all(t, c, cursors[3][:strings.Index(cursors[3], ":")+1]); len(got) != 2 || got[0].ID != first.ID {
				t.Errorf("second pass from its start = %v", got)
			}
		})
	}
}

func TestPagesStopsOnCallbackError(t *testing.T) {
	s := strapitest.NewServer(5, strapitest.WithCustomers(250))
	defer s.Close()
	c := newClient(s, strapi.Config{Version: "5"})
	boom := errors.New("boom")
	calls := 0
	err := c.Pages(context.Background(), "", func([]crm.Customer, string) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("err = %v after %d calls, want boom after 1", err, calls)
	}
}

// A server configured with a lower maxLimit caps our page size; the
// listing must not stop at the first "short" page.
func TestPagesSmallServerLimit(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		s := strapitest.NewServer(v, strapitest.WithCustomers(130), strapitest.WithPageLimits(10, 40))
		defer s.Close()
		c := newClient(s, strapi.Config{})
		if got := all(t, c, ""); len(got) != 130 {
			t.Errorf("v%d: got %d customers with maxLimit 40, want 130", v, len(got))
		}
	}
}

func TestAuthentication(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			s := strapitest.NewServer(v, strapitest.WithCustomers(5),
				strapitest.WithUser("sync@example.com", "s3cret-pw"), strapitest.WithAPIToken("api-token-1"))
			defer s.Close()
			ctx := context.Background()

			if v != 3 {
				c := newClient(s, strapi.Config{APIToken: "api-token-1"})
				if _, err := c.CustomerByID(ctx, "3"); err != nil {
					t.Errorf("API token: %v", err)
				}
				if n := s.Requests(strapitest.RouteLogin); n != 0 {
					t.Errorf("API token client logged in %d times", n)
				}
			}

			// Many concurrent first calls: one login, one detection.
			c := newClient(s, strapi.Config{Identifier: "sync@example.com", Password: "s3cret-pw"})
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					if _, err := c.CustomerByID(ctx, "2"); err != nil {
						t.Errorf("CustomerByID: %v", err)
					}
				})
			}
			wg.Wait()
			if n := s.Requests(strapitest.RouteLogin); n != 1 {
				t.Errorf("logins = %d, want 1", n)
			}
			if got, _ := c.Version(ctx); got != v {
				t.Errorf("Version = %d, want %d", got, v)
			}

			// An expired session: one new login, then success.
			s.ExpireSessions()
			for range 5 {
				wg.Go(func() {
					if _, err := c.CustomerByID(ctx, "2"); err != nil {
						t.Errorf("after expiry: %v", err)
					}
				})
			}
			wg.Wait()
			if n := s.Requests(strapitest.RouteLogin); n != 2 {
				t.Errorf("logins after expiry = %d, want 2", n)
			}
		})
	}
}

func TestAuthenticationErrors(t *testing.T) {
	s := strapitest.NewServer(5, strapitest.WithUser("sync@example.com", "s3cret-pw"), strapitest.WithAPIToken("good"))
	defer s.Close()
	ctx := context.Background()

	c := newClient(s, strapi.Config{Identifier: "sync@example.com", Password: "wrong-pw-123"})
	_, err := c.CustomerByID(ctx, "1")
	var se *strapi.Error
	if !errors.As(err, &se) || se.StatusCode != 400 {
		t.Fatalf("bad password: %v, want a 400 strapi.Error", err)
	}
	if strings.Contains(err.Error(), "wrong-pw-123") {
		t.Errorf("error leaks the password: %v", err)
	}

	c = newClient(s, strapi.Config{APIToken: "bad-token-xyz", Version: "5"})
	_, err = c.CustomerByID(ctx, "1")
	if !errors.As(err, &se) || se.StatusCode != 401 || strings.Contains(err.Error(), "bad-token-xyz") {
		t.Errorf("bad token: %v, want a 401 without the token", err)
	}
	if n := s.Requests(strapitest.RouteLogin); n != 1 {
		t.Errorf("logins = %d, want 1 (none for the token)", n)
	}

	c = newClient(s, strapi.Config{Version: "5"})
	if _, err := c.CustomerByID(ctx, "1"); !errors.As(err, &se) || se.StatusCode != 403 {
		t.Errorf("no credentials: %v, want 403", err)
	}
}

func TestDetectionErrors(t *testing.T) {
	s := strapitest.NewServer(5, strapitest.WithCollection("clients"))
	defer s.Close()
	c := newClient(s, strapi.Config{})
	if _, err := c.Version(context.Background()); err == nil || !strings.Contains(err.Error(), `no collection "customers"`) {
		t.Errorf("wrong collection: %v", err)
	}
	c = newClient(s, strapi.Config{Collection: "clients"})
	if v, err := c.Version(context.Background()); err != nil || v != 5 {
		t.Errorf("Version = %d, %v", v, err)
	}
}

// An empty v4 collection cannot tell v4 from v5; the client must not
// settle on v5 and then send v5-only parameters.
func TestDetectionEmptyCollection(t *testing.T) {
	s := strapitest.NewServer(4)
	defer s.Close()
	c := newClient(s, strapi.Config{})
	if got := all(t, c, ""); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
	s.AddGenerated(3)
	s.Add(crm.Customer{DisplayName: "Nobody"})
	if got := all(t, c, ""); len(got) != 4 {
		t.Fatalf("got %d customers, want 4", len(got))
	}
	if v, _ := c.Version(context.Background()); v != 4 {
		t.Errorf("Version = %d, want 4", v)
	}
}

func TestRetries(t *testing.T) {
	s := strapitest.NewServer(4, strapitest.WithCustomers(250))
	defer s.Close()
	c := newClient(s, strapi.Config{Version: "4"})

	s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 1, Times: 1, Status: 503})
	if got := all(t, c, ""); len(got) != 250 {
		t.Errorf("one 503: got %d, want 250", len(got))
	}
	s.ClearFaults()
	s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 1, Times: 1, Drop: true})
	if got := all(t, c, ""); len(got) != 250 {
		t.Errorf("one dropped connection: got %d, want 250", len(got))
	}
	s.ClearFaults()

	s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, After: 1, Status: 503})
	pages := 0
	err := c.Pages(context.Background(), "", func([]crm.Customer, string) error { pages++; return nil })
	var se *strapi.Error
	if !errors.As(err, &se) || se.StatusCode != 503 || pages != 1 {
		t.Errorf("Strapi down after one page: err %v after %d pages", err, pages)
	}
	s.ClearFaults()

	// 4xx are not retried.
	s.ResetRequests()
	s.InjectFault(strapitest.Fault{Route: strapitest.RouteList, Status: 404, Times: 1})
	if _, err := c.CustomerByID(context.Background(), "1"); err == nil || s.Requests(strapitest.RouteList) != 1 {
		t.Errorf("404: err %v after %d requests, want an error after 1", err, s.Requests(strapitest.RouteList))
	}
}

func TestContextCancel(t *testing.T) {
	s := strapitest.NewServer(5, strapitest.WithCustomers(10))
	defer s.Close()
	c := newClient(s, strapi.Config{Version: "5"})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Pages(ctx, "", func([]crm.Customer, string) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Pages with a cancelled context: %v", err)
	}
}

func TestLookups(t *testing.T) {
	for _, v := range []int{3, 4, 5} {
		t.Run(fmt.Sprint("v", v), func(t *testing.T) {
			s := strapitest.NewServer(v)
			defer s.Close()
			s.Add(crm.Customer{ID: "1", DisplayName: "Maria", Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}})
			s.Add(crm.Customer{ID: "2", DisplayName: "Jo", Channels: []crm.Channel{{Type: "sms", Value: "+447491000002"}}})
			s.Add(crm.Customer{ID: "3", DisplayName: "Susan", Channels: []crm.Channel{{Type: "whatsapp", Value: "whatsapp:+5521989500003"}}})
			s.Add(crm.Customer{ID: "4", DisplayName: "Bob", Channels: []crm.Channel{{Type: "chat", Value: "bob@example.com"}}})
			s.AddDraft(crm.Customer{ID: "5", DisplayName: "Draft", Channels: []crm.Channel{{Type: "sms", Value: "+33679500005"}}})
			s.Add(crm.Customer{ID: "6", DisplayName: "Maria's twin", Channels: []crm.Channel{{Type: "sms", Value: "+33679500001"}}})
			c := newClient(s, strapi.Config{})
			ctx := context.Background()

			for _, tt := range []struct{ id, want string }{{"2", "Jo"}, {"3", "Susan"}, {"5", ""}, {"77", ""}, {"", ""}, {"abc", ""}} {
				got, err := c.CustomerByID(ctx, tt.id)
				if tt.want == "" {
					if !errors.Is(err, crm.ErrNotFound) {
						t.Errorf("CustomerByID(%q) = %+v, %v; want ErrNotFound", tt.id, got, err)
					}
					continue
				}
				if err != nil || got.DisplayName != tt.want || got.ID != tt.id || len(got.Channels) != 1 {
					t.Errorf("CustomerByID(%q) = %+v, %v", tt.id, got, err)
				}
			}
			for _, tt := range []struct{ addr, want string }{
				{"+447491000002", "Jo"},
				{"+33679500001", "Maria"}, // the lowest customer_id of two
				{"+5521989500003", "Susan"},
				{"bob@example.com", "Bob"},
				{"+33679500005", ""}, // draft
				{"+15555550100", ""},
				{"not a number!", ""},
			} {
				got, err := c.CustomerByAddress(ctx, tt.addr)
				if tt.want == "" {
					if !errors.Is(err, crm.ErrNotFound) {
						t.Errorf("CustomerByAddress(%q) = %+v, %v; want ErrNotFound", tt.addr, got, err)
					}
					continue
				}
				if err != nil || got.DisplayName != tt.want {
					t.Errorf("CustomerByAddress(%q) = %+v, %v; want %s", tt.addr, got, err, tt.want)
				}
			}
		})
	}
}

func TestLookupFailure(t *testing.T) {
	s := strapitest.NewServer(5)
	defer s.Close()
	c := newClient(s, strapi.Config{Version: "5"})
	s.InjectFault(strapitest.Fault{Status: 503})
	if _, err := c.CustomerByID(context.Background(), "1"); err == nil || errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Strapi down: %v, want an error other than ErrNotFound", err)
	}
}

// TestErrorsHoldNoQuery checks that a failed request's error names the
// route but not its query string, which holds the number or id looked up:
// net/http's *url.Error quotes the whole URL, and the error is logged.
func TestErrorsHoldNoQuery(t *testing.T) {
	const number = "+447491000002"
	s := strapitest.NewServer(5)
	defer s.Close()
	hc := s.Client()
	hc.Timeout = 50 * time.Millisecond
	c := strapi.New(strapi.Config{BaseURL: s.URL, HTTPClient: hc, Version: "5"})
	ctx := context.Background()
	lookups := map[string]func() error{
		"by address": func() error { _, err := c.CustomerByAddress(ctx, "whatsapp:"+number); return err },
		"by id":      func() error { _, err := c.CustomerByID(ctx, number); return err },
	}
	faults := map[string]strapitest.Fault{
		"dropped connection": {Drop: true},
		"client timeout":     {Delay: time.Second},
	}
	for fname, f := range faults {
		for lname, lookup := range lookups {
			s.ClearFaults()
			s.InjectFault(f)
			err := lookup()
			if err == nil || errors.Is(err, crm.ErrNotFound) {
				t.Errorf("%s, %s: %v; want a failure", fname, lname, err)
				continue
			}
			msg := err.Error()
			for _, leak := range []string{"447491000002", "%2B44", "?", "filters"} {
				if strings.Contains(msg, leak) {
					t.Errorf("%s, %s: error holds %q: %s", fname, lname, leak, msg)
				}
			}
			if !strings.Contains(msg, "/api/customers") {
				t.Errorf("%s, %s: error no longer names the route: %s", fname, lname, msg)
			}
			if fname == "client timeout" {
				var ne interface{ Timeout() bool }
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("%s, %s: the timeout is lost: %v", fname, lname, err)
				}
			}
		}
	}
}
