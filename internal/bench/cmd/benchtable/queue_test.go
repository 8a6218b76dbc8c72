package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestBurstTarget: the burst target is met only at 200/200/0/0.
func TestBurstTarget(t *testing.T) {
	for _, c := range []struct {
		replies, workers, dups, without float64
		met                             bool
	}{
		{200, 200, 0, 0, true},
		{200, 199.7, 0.3333, 0, false},
		{200, 199, 0, 1, false},
		{199, 200, 0, 0, false},
	} {
		line := fmt.Sprintf("BenchmarkBurst-2 1 18057067563 ns/op 3.000 bursts %g duplicates %g replies %g workers %g without-worker 63 left-to-queue 600 webhooks\n",
			c.dups, c.replies, c.workers, c.without)
		r := testReport(line, "0.1 0.1 0.1")
		doc := r.render()
		met := strings.Contains(doc, " webhooks left their work to the queue) | yes |")
		if met != c.met {
			t.Errorf("%+v: target met %v, want %v", c, met, c.met)
		}
		measured := fmt.Sprintf("| %.4g / %.4g / %.4g / %.4g, a burst (63 of 600 webhooks", c.replies, c.workers, c.dups, c.without)
		if !strings.Contains(doc, measured) {
			t.Errorf("%+v: the targets table lacks %q", c, measured)
		}
	}
}

// TestBigBurstTarget: the 400-burst target is met only with every
// customer served, by a worker of their own, within 15 s.
func TestBigBurstTarget(t *testing.T) {
	for _, c := range []struct {
		served, workers, dups, lastMs float64
		met                           bool
	}{
		{400, 400, 0, 9500, true},
		{400, 400, 0, 15000, true},
		{400, 400, 0, 15001, false},
		{400, 399, 1, 9500, false},
		{399, 399, 0, 9500, false},
	} {
		line := fmt.Sprintf("BenchmarkBurst400-2 1 10021028023 ns/op 1.000 bursts %g duplicates %g served %g workers %g ms-served-max 5496 ms-served-p50\n",
			c.dups, c.served, c.workers, c.lastMs)
		doc := testReport(line, "0.1 0.1 0.1").render()
		row := fmt.Sprintf("| %.4g served, the last after %.1f s (p50 5496 ms); %.4g distinct workers, %.4g duplicates | ", c.served, c.lastMs/1000, c.workers, c.dups)
		i := strings.Index(doc, row)
		if i < 0 {
			t.Fatalf("%+v: the targets table lacks %q", c, row)
		}
		if met := strings.HasPrefix(doc[i+len(row):], "yes |"); met != c.met {
			t.Errorf("%+v: target met %v, want %v", c, met, c.met)
		}
		if !strings.Contains(doc, "## 11. Burst: 400 customers") {
			t.Errorf("%+v: no section 11", c)
		}
	}
}
