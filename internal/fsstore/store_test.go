package fsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	pb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/crm/crmtest"
	"github.com/experthub/experthub/internal/firestoretest"
)

func TestMain(m *testing.M) { firestoretest.Main(m) }

func TestStore(t *testing.T) {
	crmtest.TestStore(t, func(t *testing.T) crm.Store {
		return NewStore(firestoretest.Client(t), "")
	})
}

func TestTemplateStore(t *testing.T) {
	crmtest.TestTemplateStore(t, func(t *testing.T) crm.TemplateStore {
		return NewTemplateStore(firestoretest.Client(t), "")
	})
}

// TestStoreCollections checks that two collections in one database keep
// their customers and checkpoints apart.
func TestStoreCollections(t *testing.T) {
	ctx := t.Context()
	c := firestoretest.Client(t)
	a, b := NewStore(c, ""), NewStore(c, "other_customers")
	if err := a.Upsert(ctx, crmtest.SampleCustomers()...); err != nil {
		t.Fatal(err)
	}
	if err := a.PutSyncState(ctx, crm.SyncState{After: "3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, "1"); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("other collection Get(1): err = %v, want ErrNotFound", err)
	}
	if st, err := b.SyncState(ctx); err != nil || st.After != "" {
		t.Errorf("other collection SyncState = %+v, %v; want zero", st, err)
	}
	if snap, err := c.Collection(DefaultCollection).Doc("1").Get(ctx); err != nil || snap.Data()["customer_id"] != "1" {
		t.Errorf("default collection is not %q: %v", DefaultCollection, err)
	}
}

func TestNewStoreInvalidCollection(t *testing.T) {
	c := firestoretest.Client(t)
	for _, col := range []string{"a/b", ".", "..", "__x__"} {
		s := NewStore(c, col)
		if _, err := s.Get(t.Context(), "1"); err == nil || errors.Is(err, crm.ErrNotFound) {
			t.Errorf("NewStore(%q).Get: err = %v, want an invalid collection error", col, err)
		}
		if err := s.Upsert(t.Context(), crmtest.SampleCustomers()...); err == nil {
			t.Errorf("NewStore(%q).Upsert succeeded", col)
		}
	}
}

// TestDocumentLayout pins the stored field names: the indexes, the
// console and any other reader depend on them.
func TestDocumentLayout(t *testing.T) {
	ctx := t.Context()
	c := firestoretest.Client(t)
	s := NewStore(c, "")
	cust := crm.Customer{
		ID:          "a/b",
		DisplayName: " Maria Sanchez ",
		Channels:    []crm.Channel{{Type: "whatsapp", Value: "whatsapp:+33 6 79 50 00 01"}},
		Links:       []crm.Link{{Type: "Web", Value: "https://example.com", DisplayName: "Site"}},
		Details:     &crm.Details{Title: "T", Content: "C"},
		Avatar:      "https://example.com/a.png",
		Worker:      " Ann@Example.com",
		SourceKey:   "doc1",
		SyncedAt:    time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC),
	}
	if err := s.Upsert(ctx, cust); err != nil {
		t.Fatal(err)
	}
	snap, err := c.Collection("customers").Doc("a%2Fb").Get(ctx)
	if err != nil {
		t.Fatalf("document a%%2Fb: %v", err)
	}
	got := snap.Data()
	want := map[string]any{
		"customer_id":  "a/b",
		"display_name": " Maria Sanchez ",
		"name_key":     "maria sanchez",
		"channels":     []any{map[string]any{"type": "whatsapp", "value": "whatsapp:+33 6 79 50 00 01"}},
		"addresses":    []any{"+33679500001"},
		"links":        []any{map[string]any{"type": "Web", "value": "https://example.com", "display_name": "Site"}},
		"details":      map[string]any{"title": "T", "content": "C"},
		"avatar":       "https://example.com/a.png",
		"worker":       " Ann@Example.com",
		"worker_key":   "ann@example.com",
		"source_key":   "doc1",
		"synced_at":    cust.SyncedAt,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("document =\n%v\nwant\n%v", got, want)
	}
	if err := s.PutSyncState(ctx, crm.SyncState{After: "x", Done: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Collection("experthub_state").Doc("crm_sync_customers").Get(ctx); err != nil {
		t.Errorf("checkpoint document: %v", err)
	}
}

func TestDocID(t *testing.T) {
	tests := []struct {
		id, want string
		ok       bool
	}{
		{"1", "1", true},
		{"abc-DEF_1.2", "abc-DEF_1.2", true},
		{"a/b", "a%2Fb", true},
		{"a%2Fb", "a%252Fb", true},
		{".", "%2E", true},
		{"..", "%2E.", true},
		{"__x__", "%5F_x__", true},
		{"x__y__", "x__y__", true},
		{"ü", "ü", true},
		{strings.Repeat("a", 1500), strings.Repeat("a", 1500), true},
		{"", "", false},
		{"\xff", "", false},
		{strings.Repeat("a", 1501), "", false},
		{strings.Repeat("/", 501), "", false},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got, ok := DocID(tt.id)
		if got != tt.want || ok != tt.ok {
			t.Errorf("DocID(%q) = %q, %v; want %q, %v", tt.id, got, ok, tt.want, tt.ok)
		}
		if prev, dup := seen[got]; ok && dup {
			t.Errorf("DocID(%q) = DocID(%q) = %q", tt.id, prev, got)
		}
		seen[got] = tt.id
	}
}

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, want string
		ok           bool
	}{
		{"a", "b", true},
		{"ann", "ano", true},
		{"az", "a{", true},
		{"é", "ê", true},
		{"a\U0010ffff", "b", true},
		{"\ud7ff", "\ue000", true},
		{"\U0010ffff", "", false},
	}
	for _, tt := range tests {
		got, ok := prefixEnd(tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", tt.prefix, got, ok, tt.want, tt.ok)
		}
		if ok && !(tt.prefix < got && !strings.HasPrefix(got, tt.prefix)) {
			t.Errorf("prefixEnd(%q) = %q does not bound the prefix", tt.prefix, got)
		}
	}
}

// structured returns the structured query q sends.
func structured(t *testing.T, q interface{ Serialize() ([]byte, error) }) *pb.StructuredQuery {
	t.Helper()
	b, err := q.Serialize()
	if err != nil {
		t.Fatalf("serialize query: %v", err)
	}
	var req pb.RunQueryRequest
	if err := proto.Unmarshal(b, &req); err != nil {
		t.Fatalf("unmarshal query: %v", err)
	}
	return req.GetStructuredQuery()
}

func fieldFilters(sq *pb.StructuredQuery) []*pb.StructuredQuery_FieldFilter {
	w := sq.GetWhere()
	if f := w.GetFieldFilter(); f != nil {
		return []*pb.StructuredQuery_FieldFilter{f}
	}
	var out []*pb.StructuredQuery_FieldFilter
	for _, f := range w.GetCompositeFilter().GetFilters() {
		out = append(out, f.GetFieldFilter())
	}
	return out
}

func TestAddressQueryShape(t *testing.T) {
	s := NewStore(firestoretest.Client(t), "")
	sq := structured(t, s.addressQuery("+33679500001"))
	ff := fieldFilters(sq)
	if len(ff) != 1 || ff[0].GetField().GetFieldPath() != "addresses" ||
		ff[0].GetOp() != pb.StructuredQuery_FieldFilter_ARRAY_CONTAINS || ff[0].GetValue().GetStringValue() != "+33679500001" {
		t.Errorf("filters = %v, want addresses array-contains +33679500001", ff)
	}
	if sq.GetLimit().GetValue() != 1 || len(sq.GetOrderBy()) != 0 {
		t.Errorf("limit %v, order %v; want limit 1 and the default order", sq.GetLimit(), sq.GetOrderBy())
	}
}

type index struct {
	CollectionGroup string `json:"collectionGroup"`
	QueryScope      string `json:"queryScope"`
	Fields          []struct {
		FieldPath string `json:"fieldPath"`
		Order     string `json:"order"`
	} `json:"fields"`
}

// TestListQueriesHaveIndexes derives the composite index each list query
// needs (equality and "in" fields, then the order) and checks
// indexes.json has it: the emulator never asks for indexes, production
// does.
func TestListQueriesHaveIndexes(t *testing.T) {
	raw, err := os.ReadFile("indexes.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ Indexes []index }
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatalf("indexes.json: %v", err)
	}
	have := map[string]bool{}
	for _, ix := range file.Indexes {
		var fs []string
		for _, f := range ix.Fields {
			fs = append(fs, f.FieldPath+" "+f.Order)
		}
		if ix.CollectionGroup != DefaultCollection || ix.QueryScope != "COLLECTION" || fs[len(fs)-1] != "__name__ ASCENDING" {
			t.Errorf("index %+v: want collection group %q, COLLECTION scope, ending in __name__", ix, DefaultCollection)
		}
		have[strings.Join(fs, ", ")] = true
	}

	s := NewStore(firestoretest.Client(t), "")
	after := &crm.Cursor{NameKey: "maria", ID: "1"}
	for _, q := range []crm.ListQuery{
		{},
		{After: after},
		{Prefix: "ma"},
		{Prefix: "ma", After: after},
		{Worker: "Ann@Example.com"},
		{Worker: "ann@example.com", Prefix: "ma", After: after},
	} {
		sq := structured(t, s.listQuery(q, 31))
		var eq, ineq []string
		for _, f := range fieldFilters(sq) {
			switch f.GetOp() {
			case pb.StructuredQuery_FieldFilter_EQUAL, pb.StructuredQuery_FieldFilter_IN:
				eq = append(eq, f.GetField().GetFieldPath()+" ASCENDING")
			default:
				ineq = append(ineq, f.GetField().GetFieldPath())
			}
		}
		var order []string
		for _, o := range sq.GetOrderBy() {
			order = append(order, fmt.Sprintf("%s %s", o.GetField().GetFieldPath(), o.GetDirection()))
		}
		if want := []string{"name_key ASCENDING", "customer_id ASCENDING"}; !slices.Equal(order, want) {
			t.Errorf("%+v: order %q, want %q", q, order, want)
		}
		for _, f := range ineq {
			if f != "name_key" {
				t.Errorf("%+v: range filter on %s; only name_key (the first order) may have one", q, f)
			}
		}
		need := strings.Join(append(append(eq, order...), "__name__ ASCENDING"), ", ")
		if !have[need] {
			t.Errorf("%+v needs the index (%s), missing from indexes.json", q, need)
		}
		if sq.GetLimit().GetValue() != 31 {
			t.Errorf("%+v: limit %v, want 31", q, sq.GetLimit())
		}
		if (q.After != nil) != (sq.GetStartAt() != nil) || (q.After != nil && sq.GetStartAt().GetBefore()) {
			t.Errorf("%+v: start %v; want to start after the cursor", q, sq.GetStartAt())
		}
	}
}

// rpcCounter counts Firestore RPCs by method, and the documents they
// return.
type rpcCounter struct {
	mu    sync.Mutex
	calls map[string]int
	docs  int
}

func (c *rpcCounter) reset() (calls map[string]int, docs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, docs = c.calls, c.docs
	c.calls, c.docs = map[string]int{}, 0
	return calls, docs
}

func (c *rpcCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.mu.Lock()
	c.calls[method[strings.LastIndex(method, "/")+1:]]++
	c.mu.Unlock()
	return invoker(ctx, method, req, reply, cc, opts...)
}

func (c *rpcCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.mu.Lock()
	c.calls[method[strings.LastIndex(method, "/")+1:]]++
	c.mu.Unlock()
	s, err := streamer(ctx, desc, cc, method, opts...)
	return &countedStream{ClientStream: s, c: c}, err
}

type countedStream struct {
	grpc.ClientStream
	c *rpcCounter
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		switch r := m.(type) {
		case *pb.RunQueryResponse:
			if r.GetDocument() != nil {
				s.c.mu.Lock()
				s.c.docs++
				s.c.mu.Unlock()
			}
		case *pb.BatchGetDocumentsResponse:
			if r.GetFound() != nil {
				s.c.mu.Lock()
				s.c.docs++
				s.c.mu.Unlock()
			}
		}
	}
	return err
}

// ownerCreds is the emulator's admin token, which the library sends on
// the connections it dials itself.
type ownerCreds struct{}

func (ownerCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}
func (ownerCreds) RequireTransportSecurity() bool { return false }

// TestOneReadPerLookup counts the RPCs and documents each read costs: the
// point of the cache is one cheap read per webhook.
func TestOneReadPerLookup(t *testing.T) {
	ctx := t.Context()
	counter := &rpcCounter{calls: map[string]int{}}
	conn, err := grpc.NewClient(os.Getenv(firestoretest.EnvHost),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(ownerCreds{}),
		grpc.WithChainUnaryInterceptor(counter.unary),
		grpc.WithChainStreamInterceptor(counter.stream))
	if err != nil {
		t.Fatal(err)
	}
	s := NewStore(firestoretest.Client(t, option.WithGRPCConn(conn)), "")
	if err := s.Upsert(ctx, crmtest.GenerateCustomers(50, time.Time{})...); err != nil {
		t.Fatal(err)
	}
	// The library may send a write as Commit or BatchWrite; only reads
	// matter here.
	counter.reset()

	tests := []struct {
		name     string
		read     func() error
		method   string
		wantDocs int
	}{
		{"Get", func() error { _, err := s.Get(ctx, "c0000007"); return err }, "BatchGetDocuments", 1},
		{"Get unknown", func() error {
			_, err := s.Get(ctx, "nope")
			if errors.Is(err, crm.ErrNotFound) {
				return nil
			}
			return err
		}, "BatchGetDocuments", 0},
		{"FindByAddress", func() error { _, err := s.FindByAddress(ctx, crmtest.GeneratedAddress(7)); return err }, "RunQuery", 1},
		{"List", func() error { _, err := s.List(ctx, crm.ListQuery{Limit: 10}); return err }, "RunQuery", 11},
		{"List worker prefix after", func() error {
			_, err := s.List(ctx, crm.ListQuery{Worker: "worker1@example.com", Prefix: "b", After: &crm.Cursor{NameKey: "b"}, Limit: 3})
			return err
		}, "RunQuery", 4},
	}
	for _, tt := range tests {
		if err := tt.read(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		calls, docs := counter.reset()
		if want := map[string]int{tt.method: 1}; fmt.Sprint(calls) != fmt.Sprint(want) {
			t.Errorf("%s made RPCs %v, want %v", tt.name, calls, want)
		}
		if docs != tt.wantDocs {
			t.Errorf("%s read %d documents, want %d", tt.name, docs, tt.wantDocs)
		}
	}
}

// TestBulkSync runs what a full sync of a mid-sized CRM does: write 5 000
// customers, rewrite half in a second run, sweep the rest.
func TestBulkSync(t *testing.T) {
	ctx := t.Context()
	s := NewStore(firestoretest.Client(t), "")
	const n = 5000
	run1 := time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)
	run2 := run1.Add(24 * time.Hour)

	cs := crmtest.GenerateCustomers(n, run1)
	start := time.Now()
	if err := s.Upsert(ctx, cs...); err != nil {
		t.Fatalf("Upsert %d: %v", n, err)
	}
	t.Logf("upserted %d customers in %v", n, time.Since(start))
	if got := count(t, s, crm.ListQuery{Limit: 1000}); got != n {
		t.Fatalf("listed %d customers, want %d", got, n)
	}

	kept := cs[:n/2]
	for i := range kept {
		kept[i].SyncedAt = run2
	}
	if err := s.Upsert(ctx, kept...); err != nil {
		t.Fatalf("second run: %v", err)
	}
	start = time.Now()
	deleted, err := s.DeleteSyncedBefore(ctx, run2)
	if err != nil || deleted != n-len(kept) {
		t.Fatalf("DeleteSyncedBefore = %d, %v; want %d", deleted, err, n-len(kept))
	}
	t.Logf("swept %d customers in %v", deleted, time.Since(start))
	if got := count(t, s, crm.ListQuery{Limit: 1000}); got != len(kept) {
		t.Errorf("listed %d customers after the sweep, want %d", got, len(kept))
	}
	if c, err := s.FindByAddress(ctx, crmtest.GeneratedAddress(n-1)); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("swept customer still found: %q, %v", c.ID, err)
	}
	if c, err := s.FindByAddress(ctx, crmtest.GeneratedAddress(42)); err != nil || c.ID != cs[42].ID {
		t.Errorf("FindByAddress(kept) = %q, %v; want %q", c.ID, err, cs[42].ID)
	}
}

// TestDeleteSyncedBeforeKeepsRewritten checks the sweep's precondition: a
// customer rewritten after the sweep's query read it is not deleted.
func TestDeleteSyncedBeforeKeepsRewritten(t *testing.T) {
	ctx := t.Context()
	c := firestoretest.Client(t)
	s := NewStore(c, "")
	old := crmtest.SampleCustomers()[0]
	if err := s.Upsert(ctx, old); err != nil {
		t.Fatal(err)
	}
	snaps, err := s.col.Where("synced_at", "<", time.Now()).Select().Documents(ctx).GetAll()
	if err != nil || len(snaps) != 1 {
		t.Fatalf("query = %d docs, %v", len(snaps), err)
	}
	fresh := old
	fresh.SyncedAt = time.Now()
	if err := s.Upsert(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	_, err = snaps[0].Ref.Delete(ctx, firestore.LastUpdateTime(snaps[0].UpdateTime))
	if err == nil {
		t.Fatal("delete with a stale update time succeeded; the sweep would lose concurrent writes")
	}
	if _, err := s.Get(ctx, old.ID); err != nil {
		t.Errorf("rewritten customer: %v", err)
	}
}

func count(t *testing.T, s *Store, q crm.ListQuery) int {
	t.Helper()
	var n int
	for {
		page, err := s.List(t.Context(), q)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		n += len(page.Customers)
		if page.Next == nil {
			return n
		}
		q.After = page.Next
	}
}

func TestNewClient(t *testing.T) {
	ctx := t.Context()
	for _, db := range []string{"", "(default)", "cache"} {
		c, err := NewClient(ctx, "demo-newclient", db)
		if err != nil {
			t.Fatalf("NewClient(%q): %v", db, err)
		}
		s := NewStore(c, "")
		cust := crm.Customer{ID: fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano()), DisplayName: "X"}
		if err := s.Upsert(ctx, cust); err != nil {
			t.Errorf("database %q: Upsert: %v", db, err)
		} else if _, err := s.Get(ctx, cust.ID); err != nil {
			t.Errorf("database %q: Get: %v", db, err)
		}
		if err := s.Delete(ctx, cust.ID); err != nil {
			t.Errorf("database %q: Delete: %v", db, err)
		}
		c.Close()
	}
}
