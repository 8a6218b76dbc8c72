// Package conformance runs the conformance suites of the <pkg>test
// packages, which every implementation of a store (in memory, Firestore)
// must pass: each test of a suite as a parallel subtest, on a store of
// its own.
package conformance

import (
	"maps"
	"slices"
	"sync"
	"testing"
)

// Run runs tests, in the order of their names, each as a parallel
// subtest of that name on a fresh store from open.
func Run[S any](t *testing.T, open func(*testing.T) S, tests map[string]func(*testing.T, S)) {
	for _, name := range slices.Sorted(maps.Keys(tests)) {
		test := tests[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open(t))
		})
	}
}

// Race runs do(0) … do(n-1) in goroutines all released at once, as
// concurrent deliveries arrive, and returns when every one has returned.
func Race(n int, do func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			do(i)
		})
	}
	close(start)
	wg.Wait()
}
