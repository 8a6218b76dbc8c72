// Package waitlinetest is the conformance suite of waitline.Line stores:
// each store's tests run it on a fresh store.
package waitlinetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/waitline"
)

// TestLine runs the suite; open returns an empty store for each subtest.
func TestLine(t *testing.T, open func(t *testing.T) waitline.Line) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, waitline.Line)
	}{
		{"ArrivalOrderAndPositions", testArrivalOrder},
		{"JoinAgainKeepsThePlace", testJoinAgain},
		{"AnotherTargetMoves", testMove},
		{"TakeOnlyTheSamePlace", testTake},
		{"OverdueToldOnce", testOverdue},
		{"ConcurrentJoinsOnePlaceEach", testConcurrentJoins},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open(t)) })
	}
}

var (
	ctx    = context.Background()
	t0     = time.Date(2026, 1, 2, 10, 0, 0, 0, time.UTC)
	anyone = waitline.Target{}
	ann    = waitline.Target{Worker: "ann@example.com"}
)

func at(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }

func conv(i int) string { return fmt.Sprintf("CH%032d", i) }

func testArrivalOrder(t *testing.T, l waitline.Line) {
	// Joined out of order: the line is by JoinedAt.
	for _, i := range []int{3, 1, 2, 5, 4} {
		target := anyone
		if i%2 == 0 {
			target = ann
		}
		mustJoin(t, l, waitline.Entry{Conversation: conv(i), Target: target, Message: "IM" + conv(i)[2:], JoinedAt: at(i)})
	}
	got, err := l.Waiting(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{conv(1), conv(2), conv(3), conv(4), conv(5)}; !equal(convs(got), want) {
		t.Errorf("Waiting = %v, want %v", convs(got), want)
	}
	if got, _ := l.Waiting(ctx, 2); len(got) != 2 {
		t.Errorf("Waiting(2) = %d entries", len(got))
	}
	for i, want := range map[int]int{1: 1, 3: 2, 5: 3, 2: 1, 4: 2} {
		e, pos, err := l.Position(ctx, conv(i))
		if err != nil || pos != want || e.Conversation != conv(i) {
			t.Errorf("Position(%d) = %d, %v; want %d", i, pos, err, want)
		}
	}
	if _, _, err := l.Position(ctx, conv(9)); !errors.Is(err, waitline.ErrNotFound) {
		t.Errorf("Position of a stranger: %v, want ErrNotFound", err)
	}
	next, err := l.Next(ctx, ann)
	if err != nil || next.Conversation != conv(2) {
		t.Errorf("Next(ann) = %v, %v", next.Conversation, err)
	}
	if _, err := l.Next(ctx, waitline.Target{Area: "watches"}); !errors.Is(err, waitline.ErrNotFound) {
		t.Errorf("Next(empty target): %v, want ErrNotFound", err)
	}
}

func testJoinAgain(t *testing.T, l waitline.Line) {
	first := mustJoin(t, l, waitline.Entry{Conversation: conv(1), Message: "IM1", JoinedAt: at(1)})
	mustJoin(t, l, waitline.Entry{Conversation: conv(2), Message: "IM2", JoinedAt: at(2)})
	again := mustJoin(t, l, waitline.Entry{Conversation: conv(1), Message: "IM3", JoinedAt: at(3)})
	if !waitline.Same(again, first) || again.Message != "IM1" {
		t.Errorf("joining again = %+v, want the first place %+v", again, first)
	}
	// Case does not make another target.
	mustJoin(t, l, waitline.Entry{Conversation: conv(3), Target: ann, Message: "IM4", JoinedAt: at(4)})
	same := mustJoin(t, l, waitline.Entry{Conversation: conv(3), Target: waitline.Target{Worker: "Ann@Example.com"}, Message: "IM5", JoinedAt: at(5)})
	if !same.JoinedAt.Equal(at(4)) {
		t.Errorf("joining for the same worker in other case moved the customer: %+v", same)
	}
	all, _ := l.Waiting(ctx, 0)
	if len(all) != 3 {
		t.Errorf("line holds %d entries, want 3: %+v", len(all), all)
	}
	if _, pos, _ := l.Position(ctx, conv(1)); pos != 1 {
		t.Errorf("place after writing again = %d, want 1", pos)
	}
}

func testMove(t *testing.T, l waitline.Line) {
	mustJoin(t, l, waitline.Entry{Conversation: conv(1), JoinedAt: at(1), Message: "IM1"})
	mustJoin(t, l, waitline.Entry{Conversation: conv(2), Target: ann, JoinedAt: at(2), Message: "IM2"})
	moved := mustJoin(t, l, waitline.Entry{Conversation: conv(1), Target: ann, JoinedAt: at(3), Message: "IM3"})
	if moved.Target.Key() != ann.Key() || !moved.JoinedAt.Equal(at(3)) {
		t.Errorf("moved = %+v", moved)
	}
	if _, pos, _ := l.Position(ctx, conv(1)); pos != 2 {
		t.Errorf("moved customer's place = %d, want 2 (behind who waited for ann)", pos)
	}
	if _, err := l.Next(ctx, anyone); !errors.Is(err, waitline.ErrNotFound) {
		t.Errorf("the old line still holds the customer: %v", err)
	}
}

func testTake(t *testing.T, l waitline.Line) {
	e := mustJoin(t, l, waitline.Entry{Conversation: conv(1), JoinedAt: at(1), Message: "IM1"})
	mustJoin(t, l, waitline.Entry{Conversation: conv(1), Target: ann, JoinedAt: at(2), Message: "IM2"})
	if took, err := l.Take(ctx, e); err != nil || took {
		t.Errorf("Take of a place the customer left = %v, %v", took, err)
	}
	moved, _, _ := l.Position(ctx, conv(1))
	if took, err := l.Take(ctx, moved); err != nil || !took {
		t.Errorf("Take = %v, %v", took, err)
	}
	if took, err := l.Take(ctx, moved); err != nil || took {
		t.Errorf("second Take = %v, %v", took, err)
	}
	if err := l.Remove(ctx, conv(1)); err != nil {
		t.Errorf("Remove of a stranger: %v", err)
	}
	mustJoin(t, l, waitline.Entry{Conversation: conv(2), JoinedAt: at(2), Message: "IM2"})
	if err := l.Remove(ctx, conv(2)); err != nil {
		t.Fatal(err)
	}
	if all, _ := l.Waiting(ctx, 0); len(all) != 0 {
		t.Errorf("after Remove: %+v", all)
	}
}

func testOverdue(t *testing.T, l waitline.Line) {
	for i := 1; i <= 3; i++ {
		mustJoin(t, l, waitline.Entry{Conversation: conv(i), JoinedAt: at(i), Message: fmt.Sprint("IM", i)})
	}
	over, err := l.Overdue(ctx, at(3))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{conv(1), conv(2)}; !equal(convs(over), want) {
		t.Fatalf("Overdue = %v, want %v", convs(over), want)
	}
	if err := l.MarkTold(ctx, over[0]); err != nil {
		t.Fatal(err)
	}
	over, _ = l.Overdue(ctx, at(3))
	if want := []string{conv(2)}; !equal(convs(over), want) {
		t.Errorf("Overdue after telling one = %v, want %v", convs(over), want)
	}
	// Writing again keeps the place and that it was told.
	again := mustJoin(t, l, waitline.Entry{Conversation: conv(1), JoinedAt: at(9), Message: "IM9"})
	if !again.Told {
		t.Errorf("joining again forgot the notice: %+v", again)
	}
	// A move is a new place, not told yet.
	moved := mustJoin(t, l, waitline.Entry{Conversation: conv(1), Target: ann, JoinedAt: at(10), Message: "IM10"})
	if moved.Told {
		t.Errorf("a moved customer counts as told: %+v", moved)
	}
}

func testConcurrentJoins(t *testing.T, l waitline.Line) {
	var wg sync.WaitGroup
	for i := range 10 {
		for r := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.Join(ctx, waitline.Entry{Conversation: conv(i), JoinedAt: at(i*10 + r), Message: fmt.Sprint("IM", i, r)}); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	all, err := l.Waiting(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Fatalf("10 customers writing 3 times at once hold %d places", len(all))
	}
	for i, e := range all {
		if e.Conversation != conv(i) {
			t.Errorf("place %d is %s, want %s", i+1, e.Conversation, conv(i))
		}
	}
}

func mustJoin(t *testing.T, l waitline.Line, e waitline.Entry) waitline.Entry {
	t.Helper()
	got, err := l.Join(context.Background(), e)
	if err != nil {
		t.Fatalf("Join(%+v): %v", e, err)
	}
	return got
}

func convs(es []waitline.Entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Conversation)
	}
	return out
}

func equal(a, b []string) bool { return fmt.Sprint(a) == fmt.Sprint(b) }
