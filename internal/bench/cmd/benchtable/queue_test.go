package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestBurstTarget: the burst target is met only at 200/200/0/0, and a
// miss whose cause is known is explained.
func TestBurstTarget(t *testing.T) {
	for _, c := range []struct {
		replies, workers, dups, without float64
		met, why                        bool
	}{
		{200, 200, 0, 0, true, false},
		{200, 199.7, 0.3333, 0, false, true},
		{200, 199, 0, 1, false, false},
		{199, 200, 0, 0, false, false},
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
		if why := strings.Contains(doc, "- **Burst:"); why != c.why {
			t.Errorf("%+v: explained %v, want %v", c, why, c.why)
		}
	}
}
