package bench

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
)

// freshnessPoll is how often BenchmarkFreshness asks each instance's CRM
// callback for the changed customer.
const freshnessPoll = 20 * time.Millisecond

// freshnessAnswers is how many CRM answers one operation of
// BenchmarkFreshness/crm/… times, so that a run of ten operations (the
// ten changes) still averages a few hundred answers.
const freshnessAnswers = 25

// BenchmarkFreshness measures how soon a Strapi change shows in the CRM
// callback, with the production freshness mechanism: the sync webhook
// drops the changed customer from the in-process layer of the instance it
// reaches (crm.Service.Forget), and the other instances' entries expire
// after CACHE_TTL (its default, 2 s). Two instances share the Firestore
// emulator, as Cloud Run runs them.
//
// change: each operation renames a customer in the Strapi stub, whose
// webhook reaches instance 0; both instances have just cached the old
// name (the worst case for the other one: a whole TTL to wait). From the
// webhook's answer, both CRM callbacks are polled every 20 ms until they
// answer the new name: ms-receiving and ms-other are the medians,
// ms-…-max the maxima over the operations.
//
// crm/hit and crm/after-forget: the CRM callback's cost of the mechanism,
// a cached answer against the first one after a Forget (a Firestore
// read); µs/answer is the mean, an operation being freshnessAnswers
// answers.
//
// Nothing is asserted about time; a change that does not show within a
// minute fails the benchmark.
func BenchmarkFreshness(b *testing.B) {
	h := newApp(b, apptest.Options{
		Store: apptest.Firestore, Instances: 2, CloudTasks: true,
		StrapiVersion: 5, StrapiCustomers: 5, StrapiWebhooks: true,
		// "": CACHE_TTL's default, as deployed (apptest turns it off).
		Env: config.Env{"CACHE_TTL": ""},
	})
	h.FullSync(b)
	const id = "2"

	b.Run("change", func(b *testing.B) {
		var receiving, other []time.Duration
		for b.Loop() {
			n := len(receiving)
			for i := range 2 {
				crmName(b, h, i, id) // cached just before the change
			}
			want := fmt.Sprintf("Renamed %d-%d", time.Now().UnixNano(), n)
			// Update returns once the webhook is answered: the sync
			// function has written Firestore and forgotten the customer.
			if _, err := h.Strapi.Update(id, func(c *crm.Customer) { c.DisplayName = want }); err != nil {
				b.Fatal(err)
			}
			took := waitNames(b, h, id, want)
			receiving, other = append(receiving, took[0]), append(other, took[1])
		}
		b.ReportMetric(ms(median(receiving)), "ms-receiving")
		b.ReportMetric(ms(slicesMax(receiving)), "ms-receiving-max")
		b.ReportMetric(ms(median(other)), "ms-other")
		b.ReportMetric(ms(slicesMax(other)), "ms-other-max")
		b.ReportMetric(float64(h.Config.CacheTTL.Milliseconds()), "ms-ttl")
		b.ReportMetric(float64(len(receiving)), "changes")
	})

	req := func() *http.Request {
		return h.SignedForm("crm", url.Values{"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {id}, "Worker": {worker}})
	}
	customer, err := h.App.Store.Get(b.Context(), id)
	if err != nil {
		b.Fatal(err)
	}
	for _, v := range []string{"hit", "after-forget"} {
		b.Run("crm/"+v, func(b *testing.B) {
			crmName(b, h, 0, id)
			var took []time.Duration
			for b.Loop() {
				for range freshnessAnswers {
					if v == "after-forget" {
						b.StopTimer()
						h.App.Customers.Forget(customer)
						b.StartTimer()
					}
					start := time.Now()
					if rec := h.ServeOn(0, "crm", req()); rec.Code != http.StatusOK {
						b.Fatalf("crm: %d %s", rec.Code, rec.Body)
					}
					took = append(took, time.Since(start))
				}
			}
			var sum time.Duration
			for _, d := range took {
				sum += d
			}
			b.ReportMetric(float64(sum.Microseconds())/float64(len(took)), "µs/answer")
			b.ReportMetric(ms(median(took)), "p50-ms")
		})
	}
}

// waitNames polls both instances' CRM callbacks for customer id every
// freshnessPoll until each answers want, and returns how long each took.
func waitNames(b *testing.B, h *apptest.Harness, id, want string) [2]time.Duration {
	start := time.Now()
	var took [2]time.Duration
	done := [2]bool{}
	for !done[0] || !done[1] {
		if time.Since(start) > time.Minute {
			b.Fatalf("customer %s not renamed to %q within a minute (instances done: %v)", id, want, done)
		}
		for i := range 2 {
			if !done[i] && crmName(b, h, i, id) == want {
				took[i], done[i] = time.Since(start), true
			}
		}
		time.Sleep(freshnessPoll)
	}
	return took
}

// crmName asks instance i's CRM callback for customer id's name.
func crmName(b *testing.B, h *apptest.Harness, i int, id string) string {
	rec := h.ServeOn(i, "crm", h.SignedForm("crm", url.Values{
		"Location": {"GetCustomerDetailsByCustomerId"}, "CustomerId": {id}, "Worker": {worker},
	}))
	var out struct {
		Objects struct {
			Customer crm.Customer `json:"customer"`
		} `json:"objects"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &out) != nil {
		b.Fatalf("crm on instance %d: %d %s", i, rec.Code, rec.Body)
	}
	return out.Objects.Customer.DisplayName
}

func slicesMax(d []time.Duration) time.Duration {
	var m time.Duration
	for _, x := range d {
		m = max(m, x)
	}
	return m
}
