package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const fullRun = `goos: linux
BenchmarkBotTurn/agent/experthub-2    	       6	 183715200 ns/op	       120.9 ms-reply+worker	         2.000 round-trips	         2.000 round-trips-all	         6.000 twilio-req/op
BenchmarkCRM/N=100/details/hit-2                 	   13105	     90487 ns/op	         0.1073 cpu-ms/op	         0.05633 p50-ms	         0 strapi-req/op
BenchmarkSync/N=1000-2                                    	       2	 968159193 ns/op	        36.20 MiB-peak-RSS	      1050 customers/s	        12.00 strapi-req/op
ok  	github.com/experthub/experthub/internal/bench	431.803s
`

const rerun = `BenchmarkBotTurn/agent/experthub-2    	       1	 163685671 ns/op	       110.5 ms-reply+worker	         2.000 round-trips	         2.000 round-trips-all	         7.000 twilio-req/op
BenchmarkBurst-2   	       1	18057067563 ns/op	         1.000 bursts	         0 duplicates	         0 failed-acks	        63.00 left-to-queue	      3760 ms-ack-p50	      4273 ms-ack-p99	     17618 ms-last-worker	       200.0 replies	       600.0 webhooks	         0 without-worker	       200.0 workers
`

func testReport(raw string, load string) *report {
	return &report{
		m: machineInfo{cpus: 2, cpuModel: "AMD EPYC", started: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC),
			loadBefore: load, loadAfter: load},
		res: parse(raw), bench: ".", strapiLatency: 20 * time.Millisecond, twilioLatency: 50 * time.Millisecond, raw: raw,
	}
}

// TestMerge: a re-run of some benchmarks merged into a full report keeps
// the others' results, replaces its own, names itself in the header and
// in its sections, and a second merge reads the first back.
func TestMerge(t *testing.T) {
	full := testReport(fullRun, "0.80 1.44 3.20").render()

	e, err := readReport(full)
	if err != nil {
		t.Fatalf("readReport: %v", err)
	}
	if want := []string{"BenchmarkBotTurn/agent/experthub", "BenchmarkCRM/N=100/details/hit", "BenchmarkSync/N=1000"}; !slices.Equal(e.order, want) {
		t.Errorf("read back %v, want %v", e.order, want)
	}
	r := testReport(rerun, "4.97 3.53 3.81")
	r.bench = "BotTurn|Burst"
	r.merge(e)
	doc := r.render()

	if got, _ := r.res.get("BenchmarkBotTurn/agent/experthub", "ms-reply+worker"); got != 110.5 {
		t.Errorf("bot turn %v ms, want the re-run's 110.5", got)
	}
	if _, ok := r.res.get("BenchmarkSync/N=1000", "customers/s"); !ok {
		t.Error("the sync's result was not kept")
	}
	if !slices.Equal(r.measured, []int{3, 9}) {
		t.Errorf("sections measured: %v, want [3 9]", r.measured)
	}
	for _, want := range []string{
		"| Re-run | 2026-12-01 09:00 UTC",
		"measured sections 3, 9 again",
		"a busy machine: more runnable processes than its 2 CPUs",
		"## 9. Burst: 200 customers write \"AGENT\" at once\n\n*Measured by the re-run of 2026-12-01 09:00 UTC on a busy machine; see the header.*",
		"| 200 / 200 / 0 / 0, a burst (63 of 600 webhooks left their work to the queue) | yes |",
		"| 110.5 ms, 120.9 ms before (-10.4 ms) | yes |",
		keptIntro,
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("merged report lacks %q", want)
		}
	}
	if strings.Contains(doc, "## 6. Full sync (`experthub sync`: Strapi stub → Firestore emulator)\n\n*Measured") {
		t.Error("the sync section claims the re-run measured it")
	}

	// A second re-run of section 3 only: the first re-run's row stays for
	// section 9 alone, and so does its note there.
	e2, err := readReport(doc)
	if err != nil {
		t.Fatalf("readReport of the merged report: %v", err)
	}
	if _, ok := e2.res["BenchmarkSync/N=1000"]; !ok {
		t.Error("the kept lines were not read back")
	}
	r2 := testReport(strings.SplitAfter(rerun, "\n")[0], "0.10 0.20 0.30")
	r2.m.started = r2.m.started.Add(time.Hour)
	r2.bench = "BotTurn"
	r2.merge(e2)
	doc2 := r2.render()
	if strings.Contains(doc2, "measured sections 3, 9 again") {
		t.Error("the first re-run's row still claims section 3")
	}
	for _, want := range []string{
		"| Re-run | 2026-12-01 09:00 UTC",
		"measured section 9 again",
		"| Re-run | 2026-12-01 10:00 UTC",
		"measured section 3 again",
		"*Measured by the re-run of 2026-12-01 09:00 UTC on a busy machine; see the header.*",
		"*Measured by the re-run of 2026-12-01 10:00 UTC; see the header.*",
	} {
		if !strings.Contains(doc2, want) {
			t.Errorf("second merge lacks %q", want)
		}
	}
	if _, ok := r2.res.get("BenchmarkBurst", "replies"); !ok {
		t.Error("second merge lost the burst")
	}
}

func TestReadReportRejects(t *testing.T) {
	for _, doc := range []string{"", "# Benchmarks\n", "| | |\n|---|---|\n| Date | x |\n\nno raw output\n",
		"| | |\n|---|---|\n| Date | x |\n\n## Raw output\n\n```\n```\n"} {
		if _, err := readReport(doc); err == nil {
			t.Errorf("readReport(%q) accepted it", doc)
		}
	}
}

func TestSectionOf(t *testing.T) {
	for name, want := range map[string]int{
		"BenchmarkCRM/N=1000/details/hit":           1,
		"BenchmarkCRM/N=1000/emulator-floor":        1,
		"BenchmarkCRM/N=1000/address/seed":          2,
		"BenchmarkBotTurn/agent/seed":               3,
		"BenchmarkServer/cold-start/inmem-sample":   4,
		"BenchmarkAppNew/firestore":                 4,
		"BenchmarkServer/memory/inmem-10k":          5,
		"BenchmarkSync/N=1000":                      6,
		"BenchmarkServer/throughput/inmem-10k":      7,
		"BenchmarkEndToEnd/agent/queued/cloudtasks": 8,
		"BenchmarkBurst":                            9,
		"BenchmarkFreshness/change":                 10,
		"BenchmarkBurst400":                         11,
		"BenchmarkSomethingNew":                     0,
	} {
		if got := sectionOf(name); got != want {
			t.Errorf("sectionOf(%s) = %d, want %d", name, got, want)
		}
	}
}

func TestBusy(t *testing.T) {
	for _, c := range []struct {
		before, after string
		cpus          int
		want          bool
	}{
		{"0.80 1.44 3.20", "1.18 1.57 2.62", 2, false},
		{"4.97 3.53 3.81", "1.00 1.00 1.00", 2, true},
		{"0.50 0.50 0.50", "2.00 1.00 1.00", 2, true},
		{"unknown", "unknown", 2, false},
	} {
		m := machineInfo{cpus: c.cpus, loadBefore: c.before, loadAfter: c.after}
		if got := m.busy(); got != c.want {
			t.Errorf("busy with load %s / %s on %d CPUs = %v, want %v", c.before, c.after, c.cpus, got, c.want)
		}
	}
}
