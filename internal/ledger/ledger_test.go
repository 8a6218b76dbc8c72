package ledger

import (
	"testing"
	"time"
)

func TestLifecycle(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	lease := 4 * time.Second

	rec, a, write := Begin("k", Record{}, false, t0, lease)
	if a.Outcome != Fresh || !write || a.N != 1 || !a.Owns() {
		t.Fatalf("first Begin = %+v write=%v; want fresh attempt 1", a, write)
	}
	_, busy, write := Begin("k", rec, true, t0.Add(lease-time.Millisecond), lease)
	if busy.Outcome != Busy || write || busy.Owns() {
		t.Errorf("Begin during the lease = %v write=%v; want busy, nothing written", busy.Outcome, write)
	}
	if _, ok := Release(rec, busy, t0); ok {
		t.Error("a delivery that stood back released the lease of the one working")
	}

	// The first attempt dies: after its lease, a retry resumes.
	rec2, c, write := Begin("k", rec, true, t0.Add(lease), lease)
	if c.Outcome != Resume || !write || c.N != 2 {
		t.Fatalf("Begin after the lease = %+v; want resume attempt 2", c)
	}
	// The dead attempt's late release must not free the new lease.
	if _, ok := Release(rec2, a, t0.Add(lease)); ok {
		t.Error("stale attempt released the lease of its successor")
	}
	// The successor fails and releases: the next retry resumes at once.
	rec3, ok := Release(rec2, c, t0.Add(lease+time.Second))
	if !ok {
		t.Fatal("Release by the lease holder refused")
	}
	rec4, d, _ := Begin("k", rec3, true, t0.Add(lease+time.Second), lease)
	if d.Outcome != Resume || d.N != 3 {
		t.Fatalf("Begin after Release = %+v; want resume attempt 3", d)
	}
	done := Finish(rec4, t0.Add(lease+2*time.Second))
	if _, e, write := Begin("k", done, true, t0.Add(time.Hour), lease); e.Outcome != Done || write {
		t.Errorf("Begin after Finish = %v write=%v; want done", e.Outcome, write)
	}
	if _, ok := Release(done, d, t0.Add(time.Hour)); ok {
		t.Error("Release after Finish reopened the work")
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Fresh: "fresh", Resume: "resume", Busy: "busy", Done: "done", Outcome(9): "unknown"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}
