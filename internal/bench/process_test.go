package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/app"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/logging"
	"github.com/experthub/experthub/internal/twilio/twiliotest"
)

// buildExperthub builds cmd/experthub into a temporary directory and
// returns the binary's path.
func buildExperthub(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "experthub")
	// go test puts the go command that runs it first on PATH.
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/experthub")
	cmd.Dir = filepath.Join("..", "..") // the module root
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/experthub: %v\n%s", err, out)
	}
	return bin
}

// serverEnv is the environment of the experthub binary, serving on port
// unless it is empty: nothing from this process's environment (no
// emulator, no Twilio) but PATH, and vars.
func serverEnv(b *testing.B, port string, vars map[string]string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + b.TempDir(),
		"PUBLIC_BASE_URL=" + publicBase,
		"LOG_LEVEL=error",
	}
	if port != "" {
		env = append(env, "PORT="+port)
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// twilioVars are fake credentials: with them the local runner serves
// without starting its Twilio sandbox, as a deployed function does.
var twilioVars = map[string]string{
	"TWILIO_ACCOUNT_SID":  twiliotest.DefaultAccountSID,
	"TWILIO_AUTH_TOKEN":   authToken,
	"FRONTLINE_WORKSPACE": twiliotest.DefaultWorkspace,
}

func freePort(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// server is a running local server process.
type server struct {
	cmd    *exec.Cmd
	url    string // of the crm function
	logs   *syncBuffer
	exited chan struct{} // closed once the process has exited
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startServer starts bin serving on a free port with vars set and returns
// at once.
func startServer(b *testing.B, bin string, vars map[string]string) *server {
	b.Helper()
	port := freePort(b)
	s := &server{url: "http://127.0.0.1:" + port + "/crm", logs: &syncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin)
	s.cmd.Dir = b.TempDir() // no .env there
	s.cmd.Env = serverEnv(b, port, vars)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	return s
}

// waitReady polls the crm function with req until it answers 200 (any
// status if anyStatus). A server that exits first fails the benchmark; one
// that never gets ready is go test's -timeout to catch, not a clock here.
func (s *server) waitReady(b *testing.B, req signed, anyStatus bool) {
	b.Helper()
	for {
		status, _, err := post(context.Background(), s.url, req)
		if err == nil && (status == http.StatusOK || anyStatus) {
			return
		}
		select {
		case <-s.exited:
			b.Fatalf("server exited before it was ready (last: %d %v); output:\n%s", status, err, s.logs)
		case <-time.After(time.Millisecond):
		}
	}
}

// stop kills the server and waits for it to exit.
func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// status reads a kB field of /proc/<pid>/status (VmHWM: peak RSS) in MiB.
func (s *server) status(b *testing.B, field string) float64 {
	kb, ok := readStatusKB(s.cmd.Process.Pid, field)
	if !ok {
		b.Fatalf("no %s in /proc/%d/status", field, s.cmd.Process.Pid)
	}
	return float64(kb) / 1024
}

// firstErrors returns the first n error lines of a JSON log.
func firstErrors(log string, n int) string {
	var out []string
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, `"severity":"ERROR"`) && len(out) < n {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkServer runs the local server binary (go run ./cmd/experthub)
// as a process: cold start to the first signed CRM answer, peak memory
// under 200 concurrent webhooks, and CRM callback throughput at
// saturation.
func BenchmarkServer(b *testing.B) {
	bin := buildExperthub(b)
	const n = 10_000
	customers := crmtest.GenerateCustomers(n, time.Now())
	stores := []struct {
		name string
		vars map[string]string
	}{
		{"inmem", map[string]string{"CRM_SAMPLE_FILE": customersFile(b, customers)}},
		{"firestore", firestoreProject(b, customers)},
	}
	first := detailsRequest(customers[0].ID)

	// Cold start: exec to the first 200 of a signed CRM callback.
	reps := 1
	if full {
		reps = 21
	}
	coldStart := func(b *testing.B, vars map[string]string, first signed, anyStatus bool) {
		var ds []time.Duration
		for b.Loop() {
			for range reps {
				start := time.Now()
				s := startServer(b, bin, vars)
				s.waitReady(b, first, anyStatus)
				ds = append(ds, time.Since(start))
				s.stop()
			}
		}
		b.ReportMetric(ms(median(ds)), "ms-median")
		b.ReportMetric(ms(slices.Min(ds)), "ms-min")
		b.ReportMetric(ms(slices.Max(ds)), "ms-max")
		b.ReportMetric(float64(len(ds)), "starts")
	}
	// The embedded four-customer sample: what `go run ./cmd/experthub`
	// serves out of the box.
	sampleFirst := detailsRequest("1")
	b.Run("cold-start/inmem-sample", func(b *testing.B) { coldStart(b, twilioVars, sampleFirst, false) })
	for _, st := range stores {
		b.Run("cold-start/"+st.name+"-10k", func(b *testing.B) { coldStart(b, withVars(twilioVars, st.vars), first, false) })
	}
	// Without Twilio credentials the runner starts its sandbox, which
	// signs with a random auth token: ready is the crm function's first
	// answer, a 403 to our signature.
	b.Run("cold-start/sandbox", func(b *testing.B) {
		coldStart(b, map[string]string{"SANDBOX_PORT": freePort(b)}, sampleFirst, true)
	})

	// Peak memory: bursts of 200 concurrent webhooks, details and lists.
	reqs := make([]signed, 0, 256)
	for _, i := range randomIndexes(n, 255) {
		reqs = append(reqs, detailsRequest(customers[i].ID))
	}
	reqs = append(reqs, listRequest())
	for _, st := range stores {
		b.Run("memory/"+st.name+"-10k", func(b *testing.B) {
			s := startServer(b, bin, withVars(twilioVars, st.vars))
			defer s.stop()
			s.waitReady(b, first, false)
			idle := s.status(b, "VmHWM")
			failed, bursts := 0, 0
			for b.Loop() {
				failed += burst(b, s.url, reqs, 200, 10)
				bursts++
			}
			// Failures are counted, not fatal: this is about memory, and
			// the emulator may fall behind the handler deadline (the log
			// shows the first failure).
			if failed > 0 {
				b.Logf("server's first errors:\n%s", firstErrors(s.logs.String(), 2))
			}
			b.ReportMetric(float64(failed)/float64(bursts), "failed/burst")
			b.ReportMetric(idle, "MiB-idle-peak-RSS")
			b.ReportMetric(s.status(b, "VmHWM"), "MiB-peak-RSS")
		})
	}

	// Throughput: 64 clients for a fixed time.
	d := time.Second
	if full {
		d = 5 * time.Second
	}
	details := reqs[:255]
	throughputs := append(stores, struct {
		name string
		vars map[string]string
	}{"firestore-no-lru", withVars(stores[1].vars, map[string]string{"CACHE_TTL": "0"})})
	for _, st := range throughputs {
		b.Run("throughput/"+st.name+"-10k", func(b *testing.B) {
			s := startServer(b, bin, withVars(twilioVars, st.vars))
			defer s.stop()
			s.waitReady(b, first, false)
			burst(b, s.url, details, 64, 20) // warm up
			var r loadResult
			for b.Loop() {
				r = saturate(b, s.url, details, 64, d)
			}
			b.ReportMetric(r.rate, "req/s")
			b.ReportMetric(ms(r.p50), "ms-p50")
			b.ReportMetric(ms(r.p99), "ms-p99")
		})
	}
}

// burst has clients goroutines send rounds requests each, all at once,
// and returns how many failed. More than one in ten fails the benchmark.
func burst(b *testing.B, target string, reqs []signed, clients, rounds int) int {
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		first  atomic.Value // the first failure, as text
	)
	start := make(chan struct{})
	for c := range clients {
		wg.Go(func() {
			<-start
			for r := range rounds {
				status, body, err := post(context.Background(), target, reqs[(c*rounds+r)%len(reqs)])
				if err != nil || status != http.StatusOK {
					failed.Add(1)
					first.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", status, bytes.TrimSpace(body), err))
				}
			}
		})
	}
	close(start)
	wg.Wait()
	n := int(failed.Load())
	if n > 0 {
		b.Logf("%d of %d requests failed; first: %v", n, clients*rounds, first.Load())
	}
	if n*10 > clients*rounds {
		b.Fatal("too many failures")
	}
	return n
}

type loadResult struct {
	rate     float64
	p50, p99 time.Duration
}

// saturate keeps clients requests in flight for d.
func saturate(b *testing.B, target string, reqs []signed, clients int, d time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		lat    []time.Duration
		failed atomic.Int64
	)
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			var mine []time.Duration
			for i := c; ctx.Err() == nil; i += clients {
				t := time.Now()
				status, _, err := post(context.Background(), target, reqs[i%len(reqs)])
				if err != nil || status != http.StatusOK {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d requests failed", n)
	}
	slices.Sort(lat)
	return loadResult{
		rate: float64(len(lat)) / elapsed.Seconds(),
		p50:  lat[len(lat)/2],
		p99:  lat[len(lat)*99/100],
	}
}

// BenchmarkAppNew is the functions' own initialisation: building the App
// from the configuration, which every cold instance does once.
func BenchmarkAppNew(b *testing.B) {
	for _, v := range []struct {
		name string
		vars map[string]string
	}{
		{"inmem-sample", nil},
		{"inmem-10k", map[string]string{"CRM_SAMPLE_FILE": customersFile(b, crmtest.GenerateCustomers(10_000, time.Now()))}},
		{"firestore", map[string]string{"GOOGLE_CLOUD_PROJECT": newProject()}},
	} {
		b.Run(v.name, func(b *testing.B) {
			env := baseEnv()
			for k, val := range v.vars {
				env[k] = val
			}
			cfg, err := config.Parse(env)
			if err != nil {
				b.Fatal(err)
			}
			log := logging.New(io.Discard, "error")
			for b.Loop() {
				a, err := app.New(context.Background(), cfg, log)
				if err != nil {
					b.Fatal(err)
				}
				a.Close()
			}
		})
	}
}
