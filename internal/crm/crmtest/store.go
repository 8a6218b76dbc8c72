package crmtest

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/experthub/experthub/internal/conformance"
	"github.com/experthub/experthub/internal/crm"
)

// TestStore runs the conformance suite against the stores newStore
// returns. Every subtest calls newStore once, runs in parallel with the
// others and expects an empty store.
func TestStore(t *testing.T, newStore func(t *testing.T) crm.Store) {
	conformance.Run(t, newStore, map[string]func(*testing.T, crm.Store){
		"GetRoundTrip":         testGetRoundTrip,
		"GetNotFound":          testGetNotFound,
		"UnusualIDs":           testUnusualIDs,
		"FindByAddress":        testFindByAddress,
		"FindByAddressFormats": testFindByAddressFormats,
		"FindByAddressShared":  testFindByAddressShared,
		"ListPaging":           testListPaging,
		"ListLimit":            testListLimit,
		"ListAfter":            testListAfter,
		"ListPrefix":           testListPrefix,
		"ListWorker":           testListWorker,
		"Upsert":               testUpsert,
		"UpsertInvalid":        testUpsertInvalid,
		"Delete":               testDelete,
		"DeleteSyncedBefore":   testDeleteSyncedBefore,
		"FindBySourceKey":      testFindBySourceKey,
		"SyncState":            testSyncState,
		"Isolation":            testIsolation,
		"ConcurrentUpserts":    testConcurrentUpserts,
	})
}

// fullCustomer uses every field, a non-UTC zone and microseconds, which a
// store must keep (Firestore timestamps have microsecond precision).
func fullCustomer() crm.Customer {
	return crm.Customer{
		ID:          "42",
		DisplayName: "Élodie Durand",
		Channels: []crm.Channel{
			{Type: "sms", Value: "+33 6 79 50 00 42"},
			{Type: "whatsapp", Value: "whatsapp:+33679500043"},
			{Type: "chat", Value: "Elodie@Example.com"},
		},
		Links: []crm.Link{
			{Type: "Facebook", Value: "https://facebook.com/elodie", DisplayName: "Social"},
			{Type: "Email", Value: "mailto:elodie@example.com", DisplayName: "Mail"},
		},
		Details:   &crm.Details{Title: "Notes", Content: "Prefers WhatsApp.\nSize 38."},
		Avatar:    "https://example.com/elodie.png",
		Worker:    "Ann@Example.com",
		SourceKey: "ev8pgcua1mnr7wmekdx5d514",
		SyncedAt:  time.Date(2026, 11, 25, 6, 15, 47, 341123000, time.FixedZone("CET", 3600)),
	}
}

func named(id, name, worker string) crm.Customer {
	return crm.Customer{ID: id, DisplayName: name, Worker: worker}
}

func testGetRoundTrip(t *testing.T, s crm.Store) {
	ctx := t.Context()
	want := append(SampleCustomers(), fullCustomer())
	upsert(t, s, want...)
	for _, w := range want {
		got, err := s.Get(ctx, w.ID)
		if err != nil {
			t.Errorf("Get(%q): %v", w.ID, err)
			continue
		}
		checkCustomer(t, fmt.Sprintf("Get(%q)", w.ID), got, w)
	}
}

func testGetNotFound(t *testing.T, s crm.Store) {
	ctx := t.Context()
	upsert(t, s, SampleCustomers()...)
	for _, id := range []string{"4", "", "a/b", "..", "__x__", "1 "} {
		c, err := s.Get(ctx, id)
		if !errors.Is(err, crm.ErrNotFound) {
			t.Errorf("Get(%q) = %+v, %v; want ErrNotFound", id, c, err)
		}
	}
}

// testUnusualIDs stores ids that are not valid Firestore document ids as
// they are, that an escaping scheme could confuse with each other, or
// whose order escaping would change.
func testUnusualIDs(t *testing.T, s crm.Store) {
	ctx := t.Context()
	ids := []string{"a/b", "a%2Fb", "a%2fb", "a_b", ".", "..", "...", "__x__", "_", "%", "with space", "ü", "a/b/c", "/", "a&", "a.", "-"}
	var cs []crm.Customer
	for _, id := range ids {
		cs = append(cs, named(id, "Same Name", ""))
	}
	upsert(t, s, cs...)
	for _, id := range ids {
		got, err := s.Get(ctx, id)
		if err != nil || got.ID != id {
			t.Errorf("Get(%q) = %q, %v", id, got.ID, err)
		}
	}
	slices.Sort(ids)
	if got := listAll(t, s, crm.ListQuery{Limit: 5}); !slices.Equal(got, ids) {
		t.Errorf("List ids = %q, want %q", got, ids)
	}
	remove(t, s, "a/b", "..")
	for _, id := range []string{"a/b", ".."} {
		if _, err := s.Get(ctx, id); !errors.Is(err, crm.ErrNotFound) {
			t.Errorf("Get(%q) after Delete: err = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.Get(ctx, "a%2Fb"); err != nil {
		t.Errorf("Get(%q) after deleting %q: %v", "a%2Fb", "a/b", err)
	}
}

func testFindByAddress(t *testing.T, s crm.Store) {
	ctx := t.Context()
	full := fullCustomer()
	upsert(t, s, append(SampleCustomers(), full)...)
	tests := []struct {
		address string
		wantID  string
	}{
		{"+33679500001", "1"},
		{"+447491000002", "2"},
		{"+5521989500003", "3"},
		// Every channel of a customer is indexed, not only the first.
		{"+33679500042", "42"},
		{"+33679500043", "42"},
		{"elodie@example.com", "42"},
	}
	for _, tt := range tests {
		got, err := s.FindByAddress(ctx, tt.address)
		if err != nil || got.ID != tt.wantID {
			t.Errorf("FindByAddress(%q) = %q, %v; want %q", tt.address, got.ID, err, tt.wantID)
		}
	}
	got, err := s.FindByAddress(ctx, "+33679500043")
	if err != nil {
		t.Fatalf("FindByAddress: %v", err)
	}
	checkCustomer(t, "FindByAddress", got, full)

	for _, a := range []string{"+33679500099", "", "whatsapp:+33679500043", "33679500043"} {
		if c, err := s.FindByAddress(ctx, a); !errors.Is(err, crm.ErrNotFound) {
			t.Errorf("FindByAddress(%q) = %q, %v; want ErrNotFound", a, c.ID, err)
		}
	}

	// A changed channel list drops the old addresses from the index.
	full.Channels = []crm.Channel{{Type: "sms", Value: "+33679500044"}}
	upsert(t, s, full)
	if c, err := s.FindByAddress(ctx, "+33679500043"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("FindByAddress(old address) after update = %q, %v; want ErrNotFound", c.ID, err)
	}
	if c, err := s.FindByAddress(ctx, "+33679500044"); err != nil || c.ID != "42" {
		t.Errorf("FindByAddress(new address) after update = %q, %v; want 42", c.ID, err)
	}

	remove(t, s, "1")
	if c, err := s.FindByAddress(ctx, "+33679500001"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("FindByAddress after Delete = %q, %v; want ErrNotFound", c.ID, err)
	}
}

// testFindByAddressFormats writes the same number the ways CRM users type
// it; the store indexes normalised addresses, so all are found by E.164.
func testFindByAddressFormats(t *testing.T, s crm.Store) {
	ctx := t.Context()
	for _, value := range []string{"+33 6 79 50 00 01", "0033679500001", "whatsapp:+33679500001", "+33679500001"} {
		c := named("1", "Maria Sanchez", "")
		c.Channels = []crm.Channel{{Type: "sms", Value: "+447491000009"}, {Type: "sms", Value: value}}
		upsert(t, s, c)
		got, err := s.FindByAddress(ctx, "+33679500001")
		if err != nil || got.ID != "1" {
			t.Errorf("channel %q: FindByAddress(+33679500001) = %q, %v; want 1", value, got.ID, err)
		}
		if len(got.Channels) != 2 || got.Channels[1].Value != value {
			t.Errorf("channel %q: stored channels = %+v; want the value kept as written", value, got.Channels)
		}
	}
}

// testFindByAddressShared covers two customers with one number (a family
// phone): either may be returned, and deleting it reveals the other.
func testFindByAddressShared(t *testing.T, s crm.Store) {
	ctx := t.Context()
	a, b := named("7", "Kim Lee", ""), named("8", "Sam Lee", "")
	a.Channels = []crm.Channel{{Type: "sms", Value: "+33679500007"}}
	b.Channels = []crm.Channel{{Type: "whatsapp", Value: "whatsapp:+33 6 79 50 00 07"}}
	upsert(t, s, a, b)
	first, err := s.FindByAddress(ctx, "+33679500007")
	if err != nil || (first.ID != "7" && first.ID != "8") {
		t.Fatalf("FindByAddress = %q, %v; want 7 or 8", first.ID, err)
	}
	remove(t, s, first.ID)
	second, err := s.FindByAddress(ctx, "+33679500007")
	if err != nil || second.ID == first.ID || (second.ID != "7" && second.ID != "8") {
		t.Errorf("FindByAddress after deleting %q = %q, %v; want the other one", first.ID, second.ID, err)
	}
}

// listFixture has names that tie on NameKey (case, surrounding spaces) so
// the id decides, ids that sort differently as numbers and as strings, and
// accented names.
func listFixture() []crm.Customer {
	return []crm.Customer{
		named("10", "Ann Lee", "ann@example.com"),
		named("9", "ann lee", ""),
		named("2", " ANN LEE ", "bob@example.com"),
		named("5", "Annabel", ""),
		named("1", "Bob", "Ann@Example.com"),
		named("3", "bobby", "bob@example.com"),
		named("4", "Zoë", ""),
		named("6", "Álvaro", "ann@example.com"),
		named("7", "Ánh", "bob@example.com"),
		named("8", "Carl", "carl@example.com"),
	}
}

// ordered returns the ids of cs in list order, computed independently
// of any store.
func ordered(cs []crm.Customer, keep func(crm.Customer) bool) []string {
	var sel []crm.Customer
	for _, c := range cs {
		if keep == nil || keep(c) {
			sel = append(sel, c)
		}
	}
	slices.SortFunc(sel, func(a, b crm.Customer) int {
		return cmp.Or(strings.Compare(a.NameKey(), b.NameKey()), strings.Compare(a.ID, b.ID))
	})
	ids := make([]string, len(sel))
	for i, c := range sel {
		ids[i] = c.ID
	}
	return ids
}

func testListPaging(t *testing.T, s crm.Store) {
	fixture := listFixture()
	upsert(t, s, fixture...)
	want := ordered(fixture, nil)
	for _, limit := range []int{1, 2, 3, 5, 9, 10, 11, 100} {
		if got := listAll(t, s, crm.ListQuery{Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("Limit %d: ids = %q, want %q", limit, got, want)
		}
	}

	// Pages hold full customers, not summaries.
	full := fullCustomer()
	upsert(t, s, full)
	page, err := s.List(t.Context(), crm.ListQuery{Prefix: "élodie", Limit: 10})
	if err != nil || len(page.Customers) != 1 {
		t.Fatalf("List(élodie) = %+v, %v; want one customer", page, err)
	}
	checkCustomer(t, "List(élodie)", page.Customers[0], full)
}

func testListLimit(t *testing.T, s crm.Store) {
	ctx := t.Context()
	upsert(t, s, SampleCustomers()...)
	// "jo anne" < "maria sanchez" < "susan smith".
	for _, limit := range []int{0, -1, 1} {
		page, err := s.List(ctx, crm.ListQuery{Limit: limit})
		if err != nil {
			t.Fatalf("List(Limit %d): %v", limit, err)
		}
		if got := ids(page.Customers); !slices.Equal(got, []string{"2"}) {
			t.Errorf("List(Limit %d) ids = %q, want [2]", limit, got)
		}
		if want := (crm.Cursor{NameKey: "jo anne", ID: "2"}); page.Next == nil || *page.Next != want {
			t.Errorf("List(Limit %d).Next = %+v, want %+v", limit, page.Next, want)
		}
	}
	// A last page that is exactly full still has no Next.
	page, err := s.List(ctx, crm.ListQuery{Limit: 3})
	if err != nil || len(page.Customers) != 3 || page.Next != nil {
		t.Errorf("List(Limit 3) = %q, next %+v, %v; want 3 customers and no Next", ids(page.Customers), page.Next, err)
	}
	page, err = s.List(ctx, crm.ListQuery{Prefix: "nobody", Limit: 10})
	if err != nil || len(page.Customers) != 0 || page.Next != nil {
		t.Errorf("List(Prefix nobody) = %+v, %v; want an empty last page", page, err)
	}
}

func testListAfter(t *testing.T, s crm.Store) {
	fixture := listFixture()
	upsert(t, s, fixture...)
	all := ordered(fixture, nil)
	tests := []struct {
		after crm.Cursor
		want  []string
	}{
		// Positions need not be stored customers: a cursor survives the
		// deletion of the customer it was taken from.
		{crm.Cursor{NameKey: "ann lee", ID: "10"}, all[1:]},
		{crm.Cursor{NameKey: "ann lee", ID: "0"}, all[0:]},
		{crm.Cursor{NameKey: "ann lee", ID: "95"}, all[3:]},
		{crm.Cursor{NameKey: "b", ID: ""}, []string{"1", "3", "8", "4", "6", "7"}},
		{crm.Cursor{NameKey: "ánh", ID: "7"}, nil},
		{crm.Cursor{NameKey: "\U0010ffff"}, nil},
	}
	for _, tt := range tests {
		page, err := s.List(t.Context(), crm.ListQuery{After: &tt.after, Limit: 100})
		if err != nil {
			t.Fatalf("List(After %+v): %v", tt.after, err)
		}
		if got := ids(page.Customers); !slices.Equal(got, tt.want) || page.Next != nil {
			t.Errorf("List(After %+v) = %q, next %+v; want %q, no next", tt.after, got, page.Next, tt.want)
		}
	}
}

func testListPrefix(t *testing.T, s crm.Store) {
	fixture := listFixture()
	upsert(t, s, fixture...)
	for _, prefix := range []string{"", "a", "ann", "ann ", "ann lee", "annabel", "annabelle", "b", "bob", "bobby", "z", "zoë", "á", "ál", "c", "d", "\U0010ffff"} {
		want := ordered(fixture, func(c crm.Customer) bool { return strings.HasPrefix(c.NameKey(), prefix) })
		for _, limit := range []int{1, 2, 10} {
			if got := listAll(t, s, crm.ListQuery{Prefix: prefix, Limit: limit}); !slices.Equal(got, want) {
				t.Errorf("Prefix %q, Limit %d: ids = %q, want %q", prefix, limit, got, want)
			}
		}
	}
	if got := ordered(fixture, func(c crm.Customer) bool { return strings.HasPrefix(c.NameKey(), "ann") }); len(got) != 4 {
		t.Fatalf("fixture: %d customers start with ann, want 4", len(got))
	}
}

func testListWorker(t *testing.T, s crm.Store) {
	fixture := listFixture()
	upsert(t, s, fixture...)
	tests := []struct {
		worker, prefix string
	}{
		{"", ""},
		{"ann@example.com", ""},
		{"ANN@example.com", ""},
		{" Ann@Example.com ", ""},
		{"bob@example.com", ""},
		{"nobody@example.com", ""},
		{"ann@example.com", "ann"},
		{"bob@example.com", "bob"},
		{"carl@example.com", "c"},
		{"carl@example.com", "b"},
	}
	for _, tt := range tests {
		w := strings.ToLower(strings.TrimSpace(tt.worker))
		want := ordered(fixture, func(c crm.Customer) bool {
			owner := strings.ToLower(strings.TrimSpace(c.Worker))
			return (w == "" || owner == w || owner == "") && strings.HasPrefix(c.NameKey(), tt.prefix)
		})
		for _, limit := range []int{1, 3, 10} {
			q := crm.ListQuery{Worker: tt.worker, Prefix: tt.prefix, Limit: limit}
			if got := listAll(t, s, q); !slices.Equal(got, want) {
				t.Errorf("Worker %q, Prefix %q, Limit %d: ids = %q, want %q", tt.worker, tt.prefix, limit, got, want)
			}
		}
	}
}

func testUpsert(t *testing.T, s crm.Store) {
	ctx := t.Context()
	if err := s.Upsert(ctx); err != nil {
		t.Errorf("Upsert(): %v", err)
	}
	full := fullCustomer()
	upsert(t, s, full)
	upsert(t, s, full) // idempotent
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); !slices.Equal(got, []string{"42"}) {
		t.Errorf("after two upserts: ids = %q, want [42]", got)
	}

	// Overwriting moves the customer in the name order and between owners,
	// and clears fields the new version lacks.
	upsert(t, s, named("1", "Bob", ""))
	renamed := named("42", "Aaron", "bob@example.com")
	upsert(t, s, renamed)
	got, err := s.Get(ctx, "42")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkCustomer(t, "Get after overwrite", got, renamed)
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); !slices.Equal(got, []string{"42", "1"}) {
		t.Errorf("after rename: ids = %q, want [42 1]", got)
	}
	if got := listAll(t, s, crm.ListQuery{Prefix: "élodie", Limit: 10}); len(got) != 0 {
		t.Errorf("old name still listed: %q", got)
	}
	if got := listAll(t, s, crm.ListQuery{Worker: "ann@example.com", Limit: 10}); !slices.Equal(got, []string{"1"}) {
		t.Errorf("old owner still sees the customer: %q", got)
	}
	if _, err := s.FindByAddress(ctx, "+33679500042"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("old address still found: %v", err)
	}

	// Several versions of one customer in one call: the last wins.
	if err := s.Upsert(ctx, named("5", "First", ""), named("6", "Other", ""), named("5", "Second", ""), named("5", "Third", "")); err != nil {
		t.Fatalf("Upsert with duplicates: %v", err)
	}
	if c, err := s.Get(ctx, "5"); err != nil || c.DisplayName != "Third" {
		t.Errorf("Get(5) = %q, %v; want the last version, Third", c.DisplayName, err)
	}
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); !slices.Equal(got, []string{"42", "1", "6", "5"}) {
		t.Errorf("ids = %q, want [42 1 6 5]", got)
	}
}

func testUpsertInvalid(t *testing.T, s crm.Store) {
	err := s.Upsert(t.Context(), named("1", "Valid", ""), named("", "No ID", ""))
	if err == nil {
		t.Fatal("Upsert of a customer without an id succeeded")
	}
	// Ids are checked before anything is written.
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); len(got) != 0 {
		t.Errorf("after a rejected Upsert: ids = %q, want none", got)
	}
}

func testDelete(t *testing.T, s crm.Store) {
	ctx := t.Context()
	upsert(t, s, SampleCustomers()...)
	if err := s.Delete(ctx); err != nil {
		t.Errorf("Delete(): %v", err)
	}
	// Unknown, duplicate and invalid ids are not errors.
	if err := s.Delete(ctx, "1", "unknown", "1", "", "a/b"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, "1"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("Get after Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.FindByAddress(ctx, "+33679500001"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("FindByAddress after Delete: err = %v, want ErrNotFound", err)
	}
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); !slices.Equal(got, []string{"2", "3"}) {
		t.Errorf("ids after Delete = %q, want [2 3]", got)
	}
	remove(t, s, "2", "3")
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); len(got) != 0 {
		t.Errorf("ids after deleting all = %q, want none", got)
	}
}

func testDeleteSyncedBefore(t *testing.T, s crm.Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)
	stamp := func(id string, at time.Time) crm.Customer {
		c := named(id, "Customer "+id, "")
		c.Channels = []crm.Channel{{Type: "sms", Value: fmt.Sprintf("+3367950010%s", id)}}
		c.SyncedAt = at
		return c
	}
	upsert(t, s,
		stamp("1", time.Time{}),
		stamp("2", t0.Add(-time.Hour)),
		stamp("3", t0.Add(-time.Microsecond)),
		stamp("4", t0),
		stamp("5", t0.Add(time.Microsecond)),
		stamp("6", t0.Add(time.Hour).In(time.FixedZone("X", -5*3600))),
	)
	for _, tt := range []struct {
		t    time.Time
		want int
	}{{time.Time{}, 0}, {t0, 3}, {t0.Add(2 * time.Hour), 6}} {
		if n, err := s.CountSyncedBefore(ctx, tt.t); err != nil || n != tt.want {
			t.Errorf("CountSyncedBefore(%v) = %d, %v; want %d", tt.t, n, err, tt.want)
		}
	}
	n, err := s.DeleteSyncedBefore(ctx, t0)
	if err != nil || n != 3 {
		t.Fatalf("DeleteSyncedBefore = %d, %v; want 3", n, err)
	}
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); !slices.Equal(got, []string{"4", "5", "6"}) {
		t.Errorf("ids left = %q, want [4 5 6]", got)
	}
	if _, err := s.FindByAddress(ctx, "+33679500102"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("FindByAddress of a swept customer: err = %v, want ErrNotFound", err)
	}
	if c, err := s.FindByAddress(ctx, "+33679500104"); err != nil || c.ID != "4" {
		t.Errorf("FindByAddress of a kept customer = %q, %v; want 4", c.ID, err)
	}
	if n, err := s.DeleteSyncedBefore(ctx, t0); err != nil || n != 0 {
		t.Errorf("second DeleteSyncedBefore = %d, %v; want 0", n, err)
	}
}

// testFindBySourceKey checks the lookup a CRM webhook makes to find the
// copy a customer left under its old id.
func testFindBySourceKey(t *testing.T, s crm.Store) {
	ctx := t.Context()
	keyed := func(id, key string) crm.Customer {
		c := named(id, "Customer "+id, "")
		c.SourceKey = key
		return c
	}
	upsert(t, s, keyed("b", "doc1"), keyed("a", "doc1"), keyed("c", "doc2"), keyed("d", ""))
	for _, tt := range []struct {
		key  string
		want []string
	}{
		{"doc1", []string{"a", "b"}},
		{"doc2", []string{"c"}},
		{"doc3", nil},
		{"", nil},
	} {
		got, err := s.FindBySourceKey(ctx, tt.key)
		if err != nil || !slices.Equal(ids(got), tt.want) {
			t.Errorf("FindBySourceKey(%q) = %q, %v; want %q", tt.key, ids(got), err, tt.want)
		}
	}
}

func testSyncState(t *testing.T, s crm.Store) {
	ctx := t.Context()
	got, err := s.SyncState(ctx)
	if err != nil || !got.RunStart.IsZero() || got.After != "" || got.Done {
		t.Fatalf("SyncState of an empty store = %+v, %v; want the zero state", got, err)
	}
	for _, want := range []crm.SyncState{
		{RunStart: time.Date(2026, 11, 25, 6, 0, 0, 123456000, time.FixedZone("CET", 3600)), After: "42"},
		{RunStart: time.Date(2026, 11, 25, 6, 0, 0, 123456000, time.UTC), After: "a/b", Done: true},
		{RunStart: time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC), Done: true, Kept: 1200},
		{},
	} {
		if err := s.PutSyncState(ctx, want); err != nil {
			t.Fatalf("PutSyncState(%+v): %v", want, err)
		}
		got, err := s.SyncState(ctx)
		if err != nil || !got.RunStart.Equal(want.RunStart) || got.After != want.After || got.Done != want.Done || got.Kept != want.Kept {
			t.Errorf("SyncState = %+v, %v; want %+v", got, err, want)
		}
	}
	// The checkpoint is not a customer.
	if got := listAll(t, s, crm.ListQuery{Limit: 10}); len(got) != 0 {
		t.Errorf("ids = %q, want none", got)
	}
}

// testIsolation checks that callers cannot change stored customers through
// slices they passed in or got back.
func testIsolation(t *testing.T, s crm.Store) {
	ctx := t.Context()
	in := fullCustomer()
	upsert(t, s, in)
	in.Channels[0].Value = "changed"
	in.Links[0].Value = "changed"
	in.Details.Title = "changed"

	got, err := s.Get(ctx, "42")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	checkCustomer(t, "Get after changing the input", got, fullCustomer())
	got.Channels[0].Value = "changed"
	got.Links[0].Value = "changed"
	got.Details.Title = "changed"
	page, err := s.List(ctx, crm.ListQuery{Limit: 1})
	if err != nil || len(page.Customers) != 1 {
		t.Fatalf("List = %+v, %v", page, err)
	}
	checkCustomer(t, "List after changing a Get result", page.Customers[0], fullCustomer())
}

func testConcurrentUpserts(t *testing.T, s crm.Store) {
	ctx := t.Context()
	const workers, each, distinct = 8, 10, 40
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				n := (g*5 + i) % distinct
				c := named(fmt.Sprintf("c%02d", n), fmt.Sprintf("Customer %02d", n), "")
				c.Channels = []crm.Channel{{Type: "sms", Value: fmt.Sprintf("+336795002%02d", n)}}
				if err := s.Upsert(ctx, c); err != nil {
					t.Errorf("Upsert: %v", err)
					return
				}
				if _, err := s.FindByAddress(ctx, fmt.Sprintf("+336795002%02d", n)); err != nil {
					t.Errorf("FindByAddress right after Upsert: %v", err)
				}
				if _, err := s.List(ctx, crm.ListQuery{Prefix: "customer", Limit: 3}); err != nil {
					t.Errorf("List: %v", err)
				}
			}
		})
	}
	wg.Wait()

	var want []string
	for g := range workers {
		for i := range each {
			want = append(want, fmt.Sprintf("c%02d", (g*5+i)%distinct))
		}
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if got := listAll(t, s, crm.ListQuery{Limit: 7}); !slices.Equal(got, want) {
		t.Errorf("ids = %q, want %q", got, want)
	}
}

// upsert stores cs or fails the test.
func upsert(t *testing.T, s crm.Store, cs ...crm.Customer) {
	t.Helper()
	if err := s.Upsert(t.Context(), cs...); err != nil {
		t.Fatalf("Upsert: %v", err)
	}
}

// remove deletes ids or fails the test.
func remove(t *testing.T, s crm.Store, ids ...string) {
	t.Helper()
	if err := s.Delete(t.Context(), ids...); err != nil {
		t.Fatalf("Delete(%q): %v", ids, err)
	}
}

// listAll pages through q and returns the ids in order. It checks the
// paging contract on the way: full pages except the last, Next equal to
// the last customer's position, Next nil only at the end.
func listAll(t *testing.T, s crm.Store, q crm.ListQuery) []string {
	t.Helper()
	limit := max(q.Limit, 1)
	var out []string
	for range 1000 {
		page, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		out = append(out, ids(page.Customers)...)
		if page.Next == nil {
			if len(page.Customers) > limit {
				t.Fatalf("List(%+v) returned %d customers, over the limit", q, len(page.Customers))
			}
			return out
		}
		if len(page.Customers) != limit {
			t.Fatalf("List(%+v) returned %d customers and a Next; want a full page of %d", q, len(page.Customers), limit)
		}
		last := page.Customers[len(page.Customers)-1]
		if want := (crm.Cursor{NameKey: last.NameKey(), ID: last.ID}); *page.Next != want {
			t.Fatalf("List(%+v).Next = %+v, want %+v", q, *page.Next, want)
		}
		q.After = page.Next
	}
	t.Fatalf("List(%+v) never reached the last page", q)
	return nil
}

func ids(cs []crm.Customer) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// checkCustomer compares two customers as a store must keep them: the same
// instant whatever the zone, and an empty list the same as none.
func checkCustomer(t *testing.T, what string, got, want crm.Customer) {
	t.Helper()
	if !SameCustomer(got, want) {
		t.Errorf("%s =\n%+v\nwant\n%+v", what, got, want)
	}
}

// SameCustomer reports whether a and b hold the same data: SyncedAt is
// compared as an instant, and nil and empty lists are equal.
func SameCustomer(a, b crm.Customer) bool {
	return reflect.DeepEqual(canonical(a), canonical(b))
}

func canonical(c crm.Customer) crm.Customer {
	if len(c.Channels) == 0 {
		c.Channels = nil
	}
	if len(c.Links) == 0 {
		c.Links = nil
	}
	c.SyncedAt = c.SyncedAt.UTC()
	return c
}
