package twilioflow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/experthub/experthub/internal/twilio"
)

// heldPool is a Twilio whose pool reads wait to be let go, each answering
// one worker named after the read's number.
type heldPool struct {
	Client // nil: any other call fails the test by panicking

	mu      sync.Mutex
	reads   int
	release chan struct{}
}

func (p *heldPool) ListAvailableWorkers(context.Context, string, string) ([]twilio.Worker, error) {
	p.mu.Lock()
	p.reads++
	n := p.reads
	p.mu.Unlock()
	<-p.release
	return []twilio.Worker{{SID: fmt.Sprint(n), Available: true}}, nil
}

// TestPoolReadsMerged: a pool read joins the one in flight when that one
// started after the work was asked for, and starts its own otherwise: no
// work is served a list older than its request.
func TestPoolReadsMerged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
		p := &heldPool{release: make(chan struct{})}
		f := NewWorkers(p, Config{Now: func() time.Time { return t0 }})
		got := make([]string, 3)
		var wg sync.WaitGroup
		// read has the i-th caller read the pool for work asked for at
		// at, and waits until it is blocked on a read.
		read := func(i int, at time.Time) {
			wg.Go(func() {
				ws, err := f.available(context.Background(), at)
				if err != nil || len(ws) != 1 {
					t.Errorf("read %d: %v, %v", i, ws, err)
					return
				}
				got[i] = ws[0].SID
			})
			synctest.Wait()
		}
		read(0, t0.Add(-time.Second)) // starts read 1, at t0
		read(1, t0.Add(-time.Second)) // asked before read 1 started: joins it
		read(2, t0.Add(time.Second))  // asked after: a read of its own
		close(p.release)
		wg.Wait()
		if want := []string{"1", "1", "2"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("callers answered from reads %v, want %v", got, want)
		}
		if p.reads != 2 {
			t.Errorf("%d pool reads, want 2", p.reads)
		}
	})
}
