package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/fsstore"
	"github.com/experthub/experthub/internal/strapitest"
)

// BenchmarkSync runs `experthub sync` (the full sync, as the local
// runner's command does it) from the Strapi stub, with its latency, into
// a fresh emulator project, and reports its throughput and the process's
// peak memory. Flat memory from 10 000 to 100 000 customers shows that the
// sync streams page by page.
func BenchmarkSync(b *testing.B) {
	bin := buildExperthub(b)
	ns := []int{1000}
	if full {
		ns = []int{1000, 10_000, 100_000}
	}
	for _, n := range ns {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			stub := strapitest.NewServer(5,
				strapitest.WithCustomers(n),
				strapitest.WithAPIToken(strapiToken),
				strapitest.WithLatency(strapiLatency))
			defer stub.Close()
			var (
				elapsed time.Duration
				peakKB  int64
			)
			for b.Loop() {
				project := newProject()
				var out bytes.Buffer
				cmd := exec.Command(bin, "sync")
				cmd.Dir = b.TempDir()
				cmd.Env = serverEnv(b, "", map[string]string{
					"STRAPI_URL":           stub.URL,
					"STRAPI_API_TOKEN":     strapiToken,
					"STRAPI_VERSION":       "5",
					"GOOGLE_CLOUD_PROJECT": project,
					firestoretest.EnvHost:  os.Getenv(firestoretest.EnvHost),
				})
				cmd.Stdout, cmd.Stderr = &out, &out
				start := time.Now()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				// rusage's maxrss would not do: a child inherits its parent's
				// high-water mark when it execs, and this process is big.
				peak := watchPeakRSS(cmd.Process.Pid)
				err := cmd.Wait()
				elapsed = time.Since(start)
				if err != nil {
					b.Fatalf("experthub sync: %v\n%s", err, out.Bytes())
				}
				peakKB = max(peakKB, <-peak)
				b.StopTimer()
				if got := countCustomers(b, project); got != n {
					b.Fatalf("synced %d customers, want %d\n%s", got, n, out.Bytes())
				}
				dropProject(project)
				b.StartTimer()
			}
			b.ReportMetric(float64(n)/elapsed.Seconds(), "customers/s")
			b.ReportMetric(float64(peakKB)/1024, "MiB-peak-RSS")
			b.ReportMetric(float64(stub.Requests(strapitest.RouteList))/float64(b.N), "strapi-req/op")
		})
	}
}

// countCustomers counts the customer documents of an emulator project.
func countCustomers(b *testing.B, project string) int {
	ctx := context.Background()
	client, err := fsstore.NewClient(ctx, project, "")
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	res, err := client.Collection(fsstore.DefaultCollection).NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		b.Fatal(err)
	}
	v, ok := res["n"].(interface{ GetIntegerValue() int64 })
	if !ok {
		b.Fatalf("count: unexpected %T", res["n"])
	}
	return int(v.GetIntegerValue())
}

// watchPeakRSS samples the VmHWM (peak RSS, kB) of process pid every 10 ms
// until it is gone, then sends the last value read.
func watchPeakRSS(pid int) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		for {
			kb, ok := readStatusKB(pid, "VmHWM")
			if !ok {
				out <- peak
				return
			}
			peak = max(peak, kb)
			time.Sleep(10 * time.Millisecond)
		}
	}()
	return out
}

// readStatusKB reads a kB field of /proc/<pid>/status; false once the
// process has exited.
func readStatusKB(pid int, field string) (int64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}
