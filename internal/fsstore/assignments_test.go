package fsstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/experthub/experthub/internal/assign"
	"github.com/experthub/experthub/internal/assign/assigntest"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/ledger/ledgertest"
	"github.com/experthub/experthub/internal/waitline"
	"github.com/experthub/experthub/internal/waitline/waitlinetest"
)

func TestAssignments(t *testing.T) {
	assigntest.TestStore(t, func(t *testing.T) assigntest.Store {
		return NewAssignments(firestoretest.Client(t))
	})
}

func TestLedger(t *testing.T) {
	ledgertest.TestStore(t, func(t *testing.T) ledgertest.Store {
		return NewLedger(firestoretest.Client(t))
	})
}

// TestAssignmentsBurst: conversations ask for an agent at once through
// three app instances sharing one database: 200 of them with 200 workers
// available, and fewer over a larger pool, where each must still get one
// of the longest idle.
func TestAssignmentsBurst(t *testing.T) {
	for _, tt := range []struct{ claims, pool int }{{200, 200}, {50, 150}} {
		t.Run(fmt.Sprintf("%dOver%d", tt.claims, tt.pool), func(t *testing.T) {
			t.Parallel()
			var stores []assigntest.Store
			for _, c := range firestoretest.Clients(t, 3) {
				stores = append(stores, NewAssignments(c))
			}
			assigntest.TestBurst(t, stores, tt.claims, tt.pool)
		})
	}
}

// TestClaimFailsWhenUnreachable: with Firestore down, a claim fails on
// its own, with the store's error, while its caller still has time to
// answer; the client alone would retry until the caller's deadline.
func TestClaimFailsWhenUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	conn, err := grpc.NewClient(down, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := firestore.NewClient(t.Context(), "down", option.WithGRPCConn(conn), option.WithoutAuthentication())
	if err != nil {
		t.Fatal(err)
	}
	// A webhook's deadline, doubled for a slow machine: the claim may
	// take half.
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Second)
	defer cancel()
	_, err = NewAssignments(c).Claim(ctx, assign.Request{
		Conversation: "CH1", Claimant: "IM1", Now: time.Now(), TTL: 4 * time.Second,
		Candidates: []assign.Candidate{{Identity: "ann@example.com", SID: "WK1"}, {Identity: "bob@example.com", SID: "WK2"}},
	})
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Claim with Firestore down: err = %v, caller's context: %v; want an error before the caller's deadline", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "claim CH1") || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("error %q does not say which claim failed and why", err)
	}
}

// BenchmarkClaimBurst: one op is a burst of 200 conversations asking for
// an agent at once through three app instances sharing one database, with
// 200 workers available. It reports the claims per second, how long a
// claim took from the start of the burst and how many attempts
// (transactions) it took: the median and the most.
func BenchmarkClaimBurst(b *testing.B) {
	const n = 200
	var (
		mu        sync.Mutex
		attempts  []int
		latencies []time.Duration
	)
	var stores []*Assignments
	for _, c := range firestoretest.Clients(b, 3) {
		s := NewAssignments(c)
		s.claimed = func(n int) {
			mu.Lock()
			defer mu.Unlock()
			attempts = append(attempts, n)
		}
		stores = append(stores, s)
	}
	ws := make([]assign.Candidate, n)
	for i := range ws {
		ws[i] = assign.Candidate{Identity: fmt.Sprintf("w%03d@example.com", i), SID: fmt.Sprintf("WK%032d", i)}
	}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var (
		claims int
		spent  time.Duration
	)
	for burst := 0; b.Loop(); burst++ {
		// Each burst comes after the previous one's claims expired.
		now := t0.Add(time.Duration(burst) * time.Hour)
		errs := make([]error, n)
		start := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = stores[i%len(stores)].Claim(b.Context(), assign.Request{
					Conversation: fmt.Sprintf("CH%d-%d", burst, i), Claimant: fmt.Sprintf("IM%d-%d", burst, i),
					Candidates: ws, Now: now, TTL: 4 * time.Second,
				})
				mu.Lock()
				defer mu.Unlock()
				latencies = append(latencies, time.Since(start))
			})
		}
		wg.Wait()
		spent += time.Since(start)
		claims += n
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(claims)/spent.Seconds(), "claims/s")

	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "ms/claim-p50")
	b.ReportMetric(float64(latencies[len(latencies)-1].Milliseconds()), "ms/claim-max")
	slices.Sort(attempts)
	b.ReportMetric(float64(attempts[len(attempts)/2]), "attempts-p50")
	b.ReportMetric(float64(attempts[len(attempts)-1]), "attempts-max")
}

// TestBatchReader: concurrent reads merged into batches each get their
// own documents, in their order, duplicates and missing ones included,
// and a read sees the writes that completed before it.
func TestBatchReader(t *testing.T) {
	c := firestoretest.Client(t)
	r := &batchReader{client: c}
	ctx := t.Context()
	col := c.Collection("docs")
	for i := range 10 {
		if _, err := col.Doc(fmt.Sprint(i)).Set(ctx, map[string]any{"v": i}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for reader := range 40 {
		wg.Go(func() {
			// Documents reader%10, reader%7 twice and one missing.
			want := []int{reader % 10, reader % 7, reader % 7, -1}
			var refs []*firestore.DocumentRef
			for _, i := range want {
				refs = append(refs, col.Doc(fmt.Sprint(i)))
			}
			snaps, err := r.getAll(ctx, refs)
			if err != nil || len(snaps) != len(want) {
				t.Errorf("reader %d: %d snapshots, %v", reader, len(snaps), err)
				return
			}
			for i, snap := range snaps {
				if snap.Ref.Path != refs[i].Path || snap.Exists() != (want[i] >= 0) {
					t.Errorf("reader %d: snapshot %d is %s (exists %v), want %s", reader, i, snap.Ref.Path, snap.Exists(), refs[i].Path)
				} else if v, _ := snap.DataAt("v"); snap.Exists() && v != int64(want[i]) {
					t.Errorf("reader %d: %s holds %v, want %d", reader, snap.Ref.Path, v, want[i])
				}
			}
		})
	}
	wg.Wait()
	for i := range 5 {
		if _, err := col.Doc("0").Set(ctx, map[string]any{"v": 100 + i}); err != nil {
			t.Fatal(err)
		}
		snaps, err := r.getAll(ctx, []*firestore.DocumentRef{col.Doc("0")})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := snaps[0].DataAt("v"); v != int64(100+i) {
			t.Errorf("read after write %d = %v, want %d", i, v, 100+i)
		}
	}
}

// TestBatchReaderPool: claims of a burst each read their conversation
// and a pool of 400 workers, more than half a batch: their reads are
// still merged, each document counted once, into a few batches.
func TestBatchReaderPool(t *testing.T) {
	c := firestoretest.Client(t)
	var (
		mu      sync.Mutex
		batches []int
	)
	r := &batchReader{client: c, sent: func(docs int) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, docs)
	}}
	pool := make([]*firestore.DocumentRef, 400)
	for i := range pool {
		pool[i] = c.Collection(WorkersCollection).Doc(fmt.Sprintf("WK%03d", i))
	}
	const claims = 40
	var wg sync.WaitGroup
	for i := range claims {
		wg.Go(func() {
			refs := append([]*firestore.DocumentRef{c.Collection(AssignmentsCollection).Doc(fmt.Sprintf("CH%02d", i))}, pool...)
			if snaps, err := r.getAll(t.Context(), refs); err != nil || len(snaps) != len(refs) {
				t.Errorf("claim %d: %d snapshots, %v", i, len(snaps), err)
			}
		})
	}
	wg.Wait()
	for _, n := range batches {
		if n > maxBatchDocs {
			t.Errorf("a batch of %d documents, more than %d", n, maxBatchDocs)
		}
	}
	if len(batches) > 4 {
		t.Errorf("%d reads sent %d batches (%v), want at most 4: reads of one pool were not merged", claims, len(batches), batches)
	}
}

func TestLine(t *testing.T) {
	waitlinetest.TestLine(t, func(t *testing.T) waitline.Line { return NewLine(firestoretest.Client(t)) })
}
