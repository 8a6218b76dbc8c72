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

// TestReleaseLater: an attempt that failed with requests maybe in flight
// releases its lease a grace later: a retry stands back until then, and
// a release never lengthens a lease.
func TestReleaseLater(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const lease, grace = 30 * time.Second, 2 * time.Second
	rec, a, _ := Begin("k", Record{}, false, t0, lease)
	failed := t0.Add(time.Second)
	rec, ok := Release(rec, a, failed.Add(grace))
	if !ok {
		t.Fatal("Release by the lease holder refused")
	}
	if _, b, _ := Begin("k", rec, true, failed.Add(grace-time.Millisecond), lease); b.Outcome != Busy {
		t.Errorf("Begin within the grace = %v, want busy", b.Outcome)
	}
	if _, b, _ := Begin("k", rec, true, failed.Add(grace), lease); b.Outcome != Resume {
		t.Errorf("Begin after the grace = %v, want resume", b.Outcome)
	}
	rec2, _, _ := Begin("k", Record{}, false, t0, time.Second)
	if rec3, _ := Release(rec2, Attempt{Key: "k", N: 1}, t0.Add(time.Minute)); !rec3.LeaseUntil.Equal(t0.Add(time.Second)) {
		t.Errorf("a release a minute later moved the lease to %v, want it kept at %v", rec3.LeaseUntil, t0.Add(time.Second))
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Fresh: "fresh", Resume: "resume", Busy: "busy", Done: "done", Outcome(9): "unknown"} {
		if o.String() != want {
			t.Errorf("%d.String() = %q, want %q", o, o.String(), want)
		}
	}
}
