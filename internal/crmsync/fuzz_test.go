package crmsync_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/crmsync"
	"github.com/experthub/experthub/internal/inmem"
)

// FuzzHandlerWebhook sends the sync function authenticated Strapi webhooks
// with arbitrary bodies and event headers. With a store and a Strapi that
// do not fail, every answer is a 200 or a 4xx.
func FuzzHandlerWebhook(f *testing.F) {
	s := newStrapi(5, 20)
	f.Cleanup(s.Close)
	e, _ := s.Entry("3")
	for _, event := range []string{"entry.publish", "entry.update", "entry.delete", "entry.unpublish", "entry.create"} {
		f.Add(event, s.WebhookBody(event, e))
	}
	// The strapi package's webhook corpus.
	seeds, _ := filepath.Glob("../strapi/testdata/fuzz/FuzzParseWebhook/*")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		_, lit, _ := strings.Cut(string(b), "[]byte(")
		body, err := strconv.Unquote(strings.TrimSuffix(strings.TrimSpace(lit), ")"))
		if err != nil {
			f.Fatalf("%s: %v", p, err)
		}
		f.Add("entry.update", []byte(body))
	}
	f.Add("media.create", []byte(`{"event":"media.create","media":{}}`))
	c := strapiClient(s)
	h := crmsync.NewHandler(crmsync.New(crmsync.Customers(c, inmem.NewStore()), crmsync.Options{}), c, defaultConfig())
	f.Fuzz(func(t *testing.T, event string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		r.Header.Set("Authorization", "Bearer "+secret)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Strapi-Event", event)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("event %q, body %q: %d %s", event, body, rec.Code, rec.Body)
		}
	})
}
