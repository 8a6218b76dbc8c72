package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"golang.org/x/sync/errgroup"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/strapitest"
	"github.com/experthub/experthub/internal/webhook"
)

const (
	strapiToken    = "bench-api-token"
	strapiUser     = "seed@example.com"
	strapiPassword = "seed-password"
)

// crmFixture is one CRM of n customers as Expert Hub sees it (synced into
// an emulator project, or loaded into an in-memory store) and as the seed
// sees it (the Strapi stub, with latency), with a server for each way of
// answering the CRM callback.
//
// The ways are set up one after another, and each is torn down before
// the next: a process holding the whole CRM, as the stub and the
// in-memory store do, spends time collecting it, which would land on the
// microseconds of a cache hit in a function instance that holds none.
type crmFixture struct {
	n       int
	ids     []string // customer ids
	phones  []string // each customer's first channel, as Strapi stores it
	sample  string   // CRM_SAMPLE_FILE holding the customers
	project string   // the emulator project holding the customers
	fs      *firestore.Client
	seed    *seed
	// apps: "hit" is Firestore behind the in-process layer; "miss" reads
	// Firestore on every lookup (CACHE_TTL=0); "inmem" is the local
	// runner's in-memory store.
	apps map[string]*apptest.Harness
	// urls of the CRM callback: the apps' and "seed".
	urls map[string]string
	// strapis count the Strapi requests of each variant: for an app an
	// empty Strapi it could read through to, for "seed" the seed's.
	strapis map[string]*strapitest.Server
	// stops ends what the current phase started.
	stops []func()
}

// newCRMFixture generates the CRM, loads it into an emulator project and
// serves the Firestore apps ("hit", "miss").
func newCRMFixture(b *testing.B, n int) *crmFixture {
	b.Helper()
	ctx := context.Background()
	fx := &crmFixture{n: n, apps: map[string]*apptest.Harness{}, urls: map[string]string{}, strapis: map[string]*strapitest.Server{}}
	b.Cleanup(fx.stop)

	// The customers as the Strapi client decodes them, from a stub of
	// their own (the seed's stub, later, generates the same ones).
	stub := strapitest.NewServer(5, strapitest.WithCustomers(n))
	customers := stub.Customers()
	stub.Close()
	for _, c := range customers {
		fx.ids = append(fx.ids, c.ID)
		fx.phones = append(fx.phones, c.Channels[0].Value)
	}
	fx.sample = customersFile(b, customers)
	// Expert Hub's cache holds what a full sync writes; writing it
	// directly is quicker, and the sync has a benchmark of its own.
	fx.project = firestoreProject(b, customers)["GOOGLE_CLOUD_PROJECT"]
	client, err := fsstore.NewClient(ctx, fx.project, "")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	fx.fs = client

	fx.serveApp(b, "hit", apptest.Firestore, config.Env{
		"GOOGLE_CLOUD_PROJECT": fx.project,
		// A TTL longer than the default 30 s, so that the warm-up, which
		// at 100 000 customers takes longer than that, stays cached: the
		// TTL decides how often a lookup hits, not what a hit costs.
		"CACHE_TTL": "10m",
	})
	fx.serveApp(b, "miss", apptest.Firestore, config.Env{"GOOGLE_CLOUD_PROJECT": fx.project, "CACHE_TTL": "0"})
	return fx
}

// serveApp builds an app on store with env and serves its crm function.
func (fx *crmFixture) serveApp(b *testing.B, name string, store apptest.Store, env config.Env) {
	h := newApp(b, apptest.Options{
		Store: store,
		// An empty Strapi: the app would read through to it on a miss,
		// and it counts that the app never does.
		StrapiVersion: 5,
		StrapiOptions: []strapitest.Option{strapitest.WithLatency(strapiLatency)},
		Env: withVars(config.Env{
			"PUBLIC_BASE_URL": publicBase, // the URL requests are signed for
			// The emulator's queries take seconds at 100 000 customers
			// (see emulator-floor); measure them rather than the 4 s
			// deadline.
			"HANDLER_TIMEOUT": "2m",
		}, env),
	})
	fx.apps[name], fx.urls[name], fx.strapis[name] = h, h.Server.URL+"/crm", h.Strapi
	fx.stops = append(fx.stops, func() {
		h.Close()
		delete(fx.apps, name)
		delete(fx.urls, name)
		delete(fx.strapis, name)
	})
}

// stop ends the current phase and collects what it held.
func (fx *crmFixture) stop() {
	for _, f := range slices.Backward(fx.stops) {
		f()
	}
	fx.stops = nil
	runtime.GC()
}

// inmemPhase replaces the Firestore apps with the in-memory one.
func (fx *crmFixture) inmemPhase(b *testing.B) {
	fx.stop()
	fx.serveApp(b, "inmem", apptest.InMemory, config.Env{"CRM_SAMPLE_FILE": fx.sample, "CACHE_TTL": "0"})
}

// seedPhase replaces the apps with the seed and its Strapi.
func (fx *crmFixture) seedPhase(b *testing.B) {
	fx.stop()
	stub := strapitest.NewServer(5,
		strapitest.WithCustomers(fx.n),
		strapitest.WithAPIToken(strapiToken),
		strapitest.WithUser(strapiUser, strapiPassword),
		strapitest.WithLatency(strapiLatency),
		// The seed logs in on every request; Strapi's 10 logins a minute
		// would stop it after the tenth.
		strapitest.WithAuthRateLimit(0))
	fx.seed = &seed{base: stub.URL, identifier: strapiUser, password: strapiPassword}
	v := webhook.NewVerifier(authToken, logging.New(io.Discard, "error"), publicBase+"/crm")
	srv := httptest.NewServer(v.Wrap(fx.seed))
	fx.urls["seed"], fx.strapis["seed"] = srv.URL, stub
	fx.stops = append(fx.stops, stub.Close, srv.Close)
}

// bulkLoad writes customers to the store in parallel batches.
func bulkLoad(ctx context.Context, store *fsstore.Store, customers []crm.Customer) error {
	now := time.Now()
	var g errgroup.Group
	g.SetLimit(8)
	for i := 0; i < len(customers); i += 500 {
		batch := customers[i:min(i+500, len(customers))]
		for j := range batch {
			batch[j].SyncedAt = now
		}
		g.Go(func() error { return store.Upsert(ctx, batch...) })
	}
	return g.Wait()
}

// randomIndexes returns k indexes in [0, n), the same for every run.
func randomIndexes(n, k int) []int {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	out := make([]int, k)
	for i := range out {
		out[i] = r.IntN(n)
	}
	return out
}

// hotIndexes returns up to 20 indexes spread over [0, n): the customers a
// worker keeps opening, which the in-process layer holds.
func hotIndexes(n int) []int {
	h := min(n, 20)
	out := make([]int, h)
	for i := range out {
		out[i] = i * n / h
	}
	return out
}

// BenchmarkCRM compares, for each CRM size, the CRM callback (details and
// list) and the post-event address lookup answered by Expert Hub's cache
// with the seed's way: log in, download every page, search.
//
// Variants: seed; hit (Firestore behind the in-process layer, and the
// customer is in it); miss (every lookup reads the Firestore emulator);
// inmem (the local runner's in-memory store); firestore (list: one
// Firestore query); emulator-floor (a bare one-document query on the
// emulator: what any query costs there, whatever it asks).
func BenchmarkCRM(b *testing.B) {
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			fx := newCRMFixture(b, n)
			random := randomIndexes(n, 256)
			hot := hotIndexes(n)

			details := func(idx []int) []signed {
				out := make([]signed, len(idx))
				for i, j := range idx {
					out[i] = detailsRequest(fx.ids[j])
				}
				return out
			}
			list := []signed{listRequest()}
			// The cache first, the seed last: at 100 000 customers the seed
			// allocates for minutes, which must not weigh on the cache's
			// microseconds.
			b.Run("details/hit", func(b *testing.B) { fx.benchPosts(b, "hit", details(hot), warmAll) })
			b.Run("details/miss", func(b *testing.B) { fx.benchPosts(b, "miss", details(random), warmBrief) })
			b.Run("list/firestore", func(b *testing.B) { fx.benchPosts(b, "hit", list, warmBrief) })
			for _, v := range []string{"hit", "miss"} {
				idx, w := random, warmBrief
				if v == "hit" {
					idx, w = hot, warmAll
				}
				b.Run("address/"+v, func(b *testing.B) {
					fx.benchLookups(b, v, idx, fx.apps[v].App.Customers.CustomerByAddress, w)
				})
			}
			b.Run("emulator-floor", func(b *testing.B) {
				q := fx.fs.Collection(fsstore.DefaultCollection).Limit(1)
				timed(b, nil, func(int) {
					if _, err := q.Documents(context.Background()).GetAll(); err != nil {
						b.Fatal(err)
					}
				})
			})

			fx.inmemPhase(b)
			b.Run("details/inmem", func(b *testing.B) { fx.benchPosts(b, "inmem", details(random), warmBrief) })
			b.Run("list/inmem", func(b *testing.B) { fx.benchPosts(b, "inmem", list, warmBrief) })
			b.Run("address/inmem", func(b *testing.B) {
				fx.benchLookups(b, "inmem", random, fx.apps["inmem"].App.Customers.CustomerByAddress, warmBrief)
			})

			fx.seedPhase(b)
			b.Run("details/seed", func(b *testing.B) { fx.benchPosts(b, "seed", details(random), warmNone) })
			b.Run("list/seed", func(b *testing.B) { fx.benchPosts(b, "seed", list, warmNone) })
			b.Run("address/seed", func(b *testing.B) {
				fx.benchLookups(b, "seed", random, func(ctx context.Context, phone string) (crm.Customer, error) {
					return fx.seed.fetchByPhoneNumber(ctx, phone)
				}, warmNone)
			})
		})
	}
}

// benchPosts posts reqs in turn to the variant's CRM callback.
func (fx *crmFixture) benchPosts(b *testing.B, variant string, reqs []signed, w warmth) {
	target := fx.urls[variant]
	warmUp(w, len(reqs), func(i int) { mustPost(b, target, reqs[i]) })
	timed(b, fx.strapis[variant], func(i int) { mustPost(b, target, reqs[i%len(reqs)]) })
}

// benchLookups finds the customers at idx by their phone number in turn,
// as the variant does.
func (fx *crmFixture) benchLookups(b *testing.B, variant string, idx []int, find func(context.Context, string) (crm.Customer, error), w warmth) {
	ctx := context.Background()
	lookup := func(j int) {
		c, err := find(ctx, fx.phones[j])
		if err != nil {
			b.Fatalf("lookup %s: %v", fx.phones[j], err)
		}
		if c.ID != fx.ids[j] {
			b.Fatalf("lookup %s = customer %s, want %s", fx.phones[j], c.ID, fx.ids[j])
		}
	}
	warmUp(w, len(idx), func(i int) { lookup(idx[i]) })
	timed(b, fx.strapis[variant], func(i int) { lookup(idx[i%len(idx)]) })
}

// warmth is what runs, untimed, before a benchmark.
type warmth int

const (
	// warmNone: the seed has nothing to warm.
	warmNone warmth = iota
	// warmBrief: a few requests, at most 2 s' worth, for connections and
	// the emulator's JIT.
	warmBrief
	// warmAll: every request once, so that the in-process layer holds
	// them all.
	warmAll
)

func warmUp(w warmth, n int, do func(i int)) {
	switch w {
	case warmAll:
		for i := range n {
			do(i)
		}
	case warmBrief:
		deadline := time.Now().Add(2 * time.Second)
		for i := 0; i < min(n, 20) && time.Now().Before(deadline); i++ {
			do(i)
		}
	}
}

// timed runs op(0), op(1)… as the benchmark's loop. Besides the mean
// time it reports the median (p50-ms: the machine is shared, and a median
// shrugs off another process's burst), the requests made per operation
// to strapi (nil: one nothing asks), and the CPU this process spent per
// operation (client, handler and the Strapi stub; not the emulator,
// another process).
func timed(b *testing.B, strapi *strapitest.Server, op func(i int)) {
	if strapi != nil {
		strapi.ResetRequests()
	}
	runtime.GC() // not the garbage of the benchmark before
	var took []time.Duration
	cpu := cpuTime()
	for b.Loop() {
		start := time.Now()
		op(len(took))
		took = append(took, time.Since(start))
	}
	cpu = cpuTime() - cpu
	n := float64(len(took))
	total := 0
	for _, r := range []string{strapitest.RouteLogin, strapitest.RouteList, strapitest.RouteOne} {
		if strapi != nil {
			total += strapi.Requests(r)
		}
	}
	b.ReportMetric(float64(total)/n, "strapi-req/op")
	b.ReportMetric(ms(cpu)/n, "cpu-ms/op")
	b.ReportMetric(ms(median(took)), "p50-ms")
}

// cpuTime returns the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
