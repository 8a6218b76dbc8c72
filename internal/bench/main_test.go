package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

func TestMain(m *testing.M) { firestoretest.Main(m) }

// Settings read from the environment, so that `go test ./...` needs no
// flags and the table command can set them.
const (
	envFull          = "EXPERTHUB_BENCH_FULL"
	envStrapiLatency = "EXPERTHUB_BENCH_STRAPI_LATENCY"
	envTwilioLatency = "EXPERTHUB_BENCH_TWILIO_LATENCY"
)

var (
	// full adds the big sizes (10 000 and 100 000 customers) and more
	// repetitions of the process measurements.
	full          = os.Getenv(envFull) == "1"
	strapiLatency = envDuration(envStrapiLatency, 20*time.Millisecond)
	twilioLatency = envDuration(envTwilioLatency, 50*time.Millisecond)
)

func envDuration(name string, def time.Duration) time.Duration {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		fmt.Fprintf(os.Stderr, "bench: %s=%q is not a duration; using %v\n", name, s, def)
		return def
	}
	return d
}

// sizes returns the customer counts to measure.
func sizes() []int {
	if full {
		return []int{100, 1000, 10_000, 100_000}
	}
	return []int{100, 1000}
}

// The webhook side: every app and baseline is configured with this public
// URL and auth token, and requests are signed for it.
const (
	publicBase = "https://bench.example.com"
	authToken  = twiliotest.DefaultAuthToken
	// worker is the Frontline user making the CRM callbacks.
	worker = "worker1@example.com"
)

// baseEnv is the configuration BenchmarkAppNew builds the App from:
// Twilio credentials (fake; nothing here calls Twilio), quiet logs.
func baseEnv() config.Env {
	return config.Env{
		"PUBLIC_BASE_URL":     publicBase,
		"TWILIO_ACCOUNT_SID":  twiliotest.DefaultAccountSID,
		"TWILIO_AUTH_TOKEN":   authToken,
		"FRONTLINE_WORKSPACE": twiliotest.DefaultWorkspace,
		"LOG_LEVEL":           "error",
	}
}

// newApp builds a whole Expert Hub (apptest) with opts, logging nowhere,
// or to stderr with EXPERTHUB_BENCH_LOG=1 (at debug level) to see why a
// benchmark fails.
func newApp(b *testing.B, opts apptest.Options) *apptest.Harness {
	b.Helper()
	opts.LogLevel, opts.LogOutput = "error", io.Discard
	if os.Getenv("EXPERTHUB_BENCH_LOG") == "1" {
		opts.LogLevel, opts.LogOutput = "debug", os.Stderr
	}
	return apptest.New(b, opts)
}

// signed is a webhook request as Twilio sends it: a form body and its
// X-Twilio-Signature for the function's public URL. Signing is Twilio's
// work, so benchmarks prepare requests before timing.
type signed struct {
	body string
	sig  string
}

func sign(function string, params url.Values) signed {
	return signed{
		body: params.Encode(),
		sig:  twiliotest.Sign(authToken, publicBase+"/"+function, params),
	}
}

// httpClient keeps enough idle connections for the concurrent benchmarks.
var httpClient = &http.Client{
	Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
	Timeout:   5 * time.Minute,
}

// post sends a signed request to target and returns the status and body.
func post(ctx context.Context, target string, s signed) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(s.body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", s.sig)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// mustPost posts and fails the benchmark unless the answer is 200.
func mustPost(b *testing.B, target string, s signed) []byte {
	status, body, err := post(context.Background(), target, s)
	if err != nil {
		b.Fatal(err)
	}
	if status != http.StatusOK {
		b.Fatalf("POST %s: %d %s", target, status, body)
	}
	return body
}

func detailsRequest(id string) signed {
	return sign("crm", url.Values{
		"Location":   {"GetCustomerDetailsByCustomerId"},
		"CustomerId": {id},
		"Worker":     {worker},
	})
}

func listRequest() signed {
	return sign("crm", url.Values{
		"Location": {"GetCustomersList"},
		"PageSize": {"30"},
		"Worker":   {worker},
	})
}

func withVars(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// customersFile writes customers to a file for CRM_SAMPLE_FILE.
func customersFile(b *testing.B, customers []crm.Customer) string {
	data, err := json.Marshal(customers)
	if err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(b.TempDir(), "customers.json")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		b.Fatal(err)
	}
	return f
}

// firestoreProject loads customers into a new emulator project and
// returns the variables that point a server at it.
func firestoreProject(b *testing.B, customers []crm.Customer) map[string]string {
	b.Helper()
	ctx := context.Background()
	project := newProject()
	b.Cleanup(func() { dropProject(project) })
	client, err := fsstore.NewClient(ctx, project, "")
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	if err := bulkLoad(ctx, fsstore.NewStore(client, ""), customers); err != nil {
		b.Fatal(err)
	}
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT": project,
		firestoretest.EnvHost:  os.Getenv(firestoretest.EnvHost),
	}
}

// newProject names a fresh emulator project, so benchmarks sharing one
// emulator never see each other's data.
func newProject() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "bench-" + hex.EncodeToString(b)
}

// dropProject deletes an emulator project's documents, freeing the
// emulator's memory.
func dropProject(project string) {
	host := os.Getenv(firestoretest.EnvHost)
	if host == "" {
		return
	}
	u := "http://" + host + "/emulator/v1/projects/" + project + "/databases/(default)/documents"
	req, err := http.NewRequest(http.MethodDelete, u, nil)
	if err != nil {
		return
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}
