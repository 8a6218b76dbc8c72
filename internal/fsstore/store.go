// Package fsstore is the customer cache in Cloud Firestore: what the
// functions read on every webhook instead of asking Strapi.
//
// # Layout
//
// One document per customer in a collection (DefaultCollection unless
// configured), its id the customer id escaped by DocID. Fields:
// customer_id, display_name, name_key (crm.NameKey), channels, addresses
// (the normalised channel values, crm.Customer.Addresses), links, details,
// avatar, worker, worker_key (worker lower-cased and trimmed, for
// filtering), source_key and synced_at. The full-sync checkpoint is the
// document experthub_state/crm_sync_<collection>.
//
// # Reads
//
// Every lookup is one read and none scans: Get is one document get;
// FindByAddress one "addresses array-contains" query with limit 1; List one
// query ordered by name_key then customer_id (not the document id: escaped
// ids do not sort like the ids they stand for), optionally filtered by
// worker_key in [worker, ""] and a name_key range for the prefix.
//
// # Indexes
//
// Firestore Standard edition indexes every single field, including
// array-contains on addresses and the synced_at range DeleteSyncedBefore
// uses. List needs these composite indexes on the customer collection
// (collection scope; indexes.json in this directory has them in the
// firestore.indexes.json format for Terraform and gcloud):
//
//	name_key ASC, customer_id ASC, __name__ ASC
//	worker_key ASC, name_key ASC, customer_id ASC, __name__ ASC
//
// for example:
//
//	gcloud firestore indexes composite create --collection-group=customers \
//	  --field-config=field-path=worker_key,order=ascending \
//	  --field-config=field-path=name_key,order=ascending \
//	  --field-config=field-path=customer_id,order=ascending \
//	  --field-config=field-path=__name__,order=ascending
//
// The Enterprise edition creates no index by itself: it would also need
// addresses (array-contains) and synced_at (ascending). The emulator
// demands none, so a missing index shows only in production, as a
// FailedPrecondition error naming the index to create.
package fsstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/experthub/experthub/internal/crm"
)

// DefaultCollection is the collection NewStore uses when given none.
const DefaultCollection = "customers"

const (
	stateCollection = "experthub_state"
	// sweepChunk bounds how many deletes DeleteSyncedBefore keeps in flight
	// before checking their results, so its memory does not grow with the
	// number of stale customers.
	sweepChunk = 500
	// maxDocID is Firestore's limit on a document id, in bytes.
	maxDocID = 1500
)

// Store is the Firestore customer cache. It is safe for concurrent use.
type Store struct {
	client *firestore.Client
	col    *firestore.CollectionRef
	state  *firestore.DocumentRef
	err    error // a bad collection name, returned by every method
}

// NewStore returns a store keeping customers in the top-level collection
// (DefaultCollection if empty) of client's database.
func NewStore(client *firestore.Client, collection string) *Store {
	if collection == "" {
		collection = DefaultCollection
	}
	s := &Store{client: client}
	if !validCollection(collection) {
		s.err = fmt.Errorf("firestore: invalid collection id %q", collection)
		return s
	}
	s.col = client.Collection(collection)
	s.state = client.Collection(stateCollection).Doc("crm_sync_" + collection)
	return s
}

// NewClient returns a Firestore client for project ("" detects it from the
// environment) and database ("" or "(default)" for the default one). With
// FIRESTORE_EMULATOR_HOST set it talks to the emulator.
func NewClient(ctx context.Context, project, database string) (*firestore.Client, error) {
	if project == "" {
		project = firestore.DetectProjectID
	}
	var (
		c   *firestore.Client
		err error
	)
	if database == "" || database == firestore.DefaultDatabaseID {
		c, err = firestore.NewClient(ctx, project)
	} else {
		c, err = firestore.NewClientWithDatabase(ctx, project, database)
	}
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	return c, nil
}

// DocID returns the document id of a customer id and whether it can have
// one (an empty, non-UTF-8 or over-long id cannot). Ids Firestore accepts
// as they are stay unchanged; "/" and "%" anywhere and "." or "_" in first
// place are percent-escaped, which keeps the mapping one-to-one and rules
// out ".", ".." and the reserved "__…__".
func DocID(id string) (string, bool) {
	if id == "" || !utf8.ValidString(id) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c == '/' || c == '%' || (i == 0 && (c == '.' || c == '_')):
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() > maxDocID {
		return "", false
	}
	return b.String(), true
}

// Get returns the customer with this id: one document read.
func (s *Store) Get(ctx context.Context, id string) (crm.Customer, error) {
	if s.err != nil {
		return crm.Customer{}, s.err
	}
	docID, ok := DocID(id)
	if !ok {
		return crm.Customer{}, fmt.Errorf("get customer %q: %w", id, crm.ErrNotFound)
	}
	snap, err := s.col.Doc(docID).Get(ctx)
	c, err := customerRead(snap, status.Code(err) == codes.NotFound, err)
	if err != nil {
		return crm.Customer{}, fmt.Errorf("get customer %q: %w", id, err)
	}
	return c, nil
}

// customerRead is the customer of a read's answer (snap, err); missing
// says it found none (crm.ErrNotFound). The caller names the read in
// errors.
func customerRead(snap *firestore.DocumentSnapshot, missing bool, err error) (crm.Customer, error) {
	if missing {
		return crm.Customer{}, crm.ErrNotFound
	}
	if err != nil {
		return crm.Customer{}, err
	}
	d, err := decode(snap)
	if err != nil {
		return crm.Customer{}, err
	}
	return d.customer(), nil
}

// FindByAddress returns a customer one of whose channels normalises to
// address: one query returning at most one document. When several
// customers share the address, Firestore's document order picks.
func (s *Store) FindByAddress(ctx context.Context, address string) (crm.Customer, error) {
	if s.err != nil {
		return crm.Customer{}, s.err
	}
	it := s.addressQuery(address).Documents(ctx)
	defer it.Stop()
	snap, err := it.Next()
	c, err := customerRead(snap, errors.Is(err, iterator.Done), err)
	if err != nil {
		return crm.Customer{}, fmt.Errorf("find customer by address %q: %w", address, err)
	}
	return c, nil
}

// FindBySourceKey returns the customers stored with this CRM key, in id
// order: one equality query on source_key (single-field index). It runs
// once per CRM webhook, never on a lookup.
func (s *Store) FindBySourceKey(ctx context.Context, key string) ([]crm.Customer, error) {
	if s.err != nil {
		return nil, s.err
	}
	if key == "" {
		return nil, nil
	}
	// A CRM key has one record; more than a few copies would be a bug
	// elsewhere, and a bounded read keeps a webhook cheap anyway.
	snaps, err := s.col.Where("source_key", "==", key).Limit(20).Documents(ctx).GetAll()
	if err != nil {
		return nil, fmt.Errorf("find customers by source key: %w", err)
	}
	out := make([]crm.Customer, 0, len(snaps))
	for _, snap := range snaps {
		d, err := decode(snap)
		if err != nil {
			continue // a hand-written document without an id: not ours to manage
		}
		out = append(out, d.customer())
	}
	slices.SortFunc(out, func(a, b crm.Customer) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (s *Store) addressQuery(address string) firestore.Query {
	return s.col.Where("addresses", "array-contains", address).Limit(1)
}

// List returns one page of customers in (NameKey, ID) order: one query
// reading at most Limit+1 documents, the extra one telling whether another
// page follows.
func (s *Store) List(ctx context.Context, q crm.ListQuery) (crm.Page, error) {
	if s.err != nil {
		return crm.Page{}, s.err
	}
	limit := max(q.Limit, 1)
	snaps, err := s.listQuery(q, limit+1).Documents(ctx).GetAll()
	if err != nil {
		return crm.Page{}, fmt.Errorf("list customers: %w", err)
	}
	more := len(snaps) > limit
	if more {
		snaps = snaps[:limit]
	}
	page := crm.Page{Customers: make([]crm.Customer, len(snaps))}
	var last document
	for i, snap := range snaps {
		if last, err = decode(snap); err != nil {
			return crm.Page{}, fmt.Errorf("list customers: %w", err)
		}
		page.Customers[i] = last.customer()
	}
	if more {
		page.Next = &crm.Cursor{NameKey: last.NameKey, ID: last.CustomerID}
	}
	return page, nil
}

func (s *Store) listQuery(q crm.ListQuery, n int) firestore.Query {
	query := s.col.Query
	if w := foldWorker(q.Worker); w != "" {
		query = query.Where("worker_key", "in", []string{w, ""})
	}
	if q.Prefix != "" {
		query = query.Where("name_key", ">=", q.Prefix)
		if end, ok := prefixEnd(q.Prefix); ok {
			query = query.Where("name_key", "<", end)
		}
	}
	query = query.OrderBy("name_key", firestore.Asc).OrderBy("customer_id", firestore.Asc)
	if q.After != nil {
		query = query.StartAfter(q.After.NameKey, q.After.ID)
	}
	return query.Limit(n)
}

// prefixEnd returns the least string greater than every string starting
// with prefix, in UTF-8 byte order (Firestore's string order), or false if
// there is none (the prefix is all U+10FFFF).
func prefixEnd(prefix string) (string, bool) {
	rs := []rune(prefix)
	for i := len(rs) - 1; i >= 0; i-- {
		switch r := rs[i]; {
		case r == utf8.MaxRune:
			continue
		case r == 0xD7FF: // skip the surrogates, which UTF-8 cannot encode
			rs[i] = 0xE000
		default:
			rs[i] = r + 1
		}
		return string(rs[:i+1]), true
	}
	return "", false
}

// Upsert writes customers, replacing any with the same id; of several
// versions of one id the last wins. Nothing is written unless every id is
// usable. Writes are not atomic: on error some customers may be written.
func (s *Store) Upsert(ctx context.Context, customers ...crm.Customer) error {
	if s.err != nil {
		return s.err
	}
	type write struct {
		ref *firestore.DocumentRef
		doc document
	}
	writes := make([]write, 0, len(customers))
	index := make(map[string]int, len(customers))
	for _, c := range customers {
		docID, ok := DocID(c.ID)
		if !ok {
			return fmt.Errorf("upsert customers: invalid customer id %q", c.ID)
		}
		w := write{ref: s.col.Doc(docID), doc: encode(c)}
		// A BulkWriter refuses two writes to one document.
		if i, dup := index[c.ID]; dup {
			writes[i] = w
			continue
		}
		index[c.ID] = len(writes)
		writes = append(writes, w)
	}
	switch len(writes) {
	case 0:
		return nil
	case 1:
		// One write needs no BulkWriter and its goroutines.
		if _, err := writes[0].ref.Set(ctx, writes[0].doc); err != nil {
			return fmt.Errorf("upsert customer %q: %w", writes[0].doc.CustomerID, err)
		}
		return nil
	}
	out := bulk(ctx, s.client, len(writes), func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error) {
		return bw.Set(writes[i].ref, writes[i].doc)
	})
	if out.refused != nil {
		return fmt.Errorf("upsert customers: %d of %d not sent: %w", len(writes)-out.sent, len(writes), out.refused)
	}
	if out.failed > 0 {
		return fmt.Errorf("upsert customers: %d of %d failed: %w", out.failed, len(writes), out.failure)
	}
	return nil
}

// bulkOutcome is what a BulkWriter did of n writes: it sent the first
// sent of them and refused the next (refused: why); failed of those sent
// failed, failure the first of their errors.
type bulkOutcome struct {
	sent, failed     int
	refused, failure error
}

// err is the first error of the outcome, the refusal first.
func (o bulkOutcome) err() error { return cmp.Or(o.refused, o.failure) }

// bulk sends n writes through one BulkWriter, write(bw, i) enqueueing the
// i-th, and waits for their results. It stops enqueueing at the first
// refusal.
func bulk(ctx context.Context, client *firestore.Client, n int, write func(*firestore.BulkWriter, int) (*firestore.BulkWriterJob, error)) bulkOutcome {
	var out bulkOutcome
	bw := client.BulkWriter(ctx)
	jobs := make([]*firestore.BulkWriterJob, 0, n)
	for i := range n {
		job, err := write(bw, i)
		if err != nil {
			out.refused = err
			break
		}
		jobs = append(jobs, job)
	}
	bw.End()
	out.sent = len(jobs)
	for _, job := range jobs {
		if _, err := job.Results(); err != nil {
			out.failed++
			out.failure = cmp.Or(out.failure, err)
		}
	}
	return out
}

// Delete removes the customers with these ids; unknown ids are ignored.
func (s *Store) Delete(ctx context.Context, ids ...string) error {
	if s.err != nil {
		return s.err
	}
	seen := make(map[string]bool, len(ids))
	var refs []*firestore.DocumentRef
	for _, id := range ids {
		docID, ok := DocID(id)
		if !ok || seen[docID] {
			continue // an id without a document id was never stored
		}
		seen[docID] = true
		refs = append(refs, s.col.Doc(docID))
	}
	switch len(refs) {
	case 0:
		return nil
	case 1:
		if _, err := refs[0].Delete(ctx); err != nil {
			return fmt.Errorf("delete customer: %w", err)
		}
		return nil
	}
	out := bulk(ctx, s.client, len(refs), func(bw *firestore.BulkWriter, i int) (*firestore.BulkWriterJob, error) {
		return bw.Delete(refs[i])
	})
	if err := out.err(); err != nil {
		return fmt.Errorf("delete customers: %w", err)
	}
	return nil
}

// DeleteSyncedBefore removes every customer whose SyncedAt is before t. It
// streams the matching document names and deletes them in bounded chunks,
// each only if the document is unchanged since it was read, so a customer
// rewritten meanwhile (a webhook during the sweep) survives and is not
// counted.
func (s *Store) DeleteSyncedBefore(ctx context.Context, t time.Time) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	it := s.col.Where("synced_at", "<", t).Select().Documents(ctx)
	defer it.Stop()
	bw := s.client.BulkWriter(ctx)
	var (
		jobs     []*firestore.BulkWriterJob
		deleted  int
		firstErr error
	)
	settle := func() {
		bw.Flush()
		for _, job := range jobs {
			_, err := job.Results()
			switch {
			case err == nil:
				deleted++
			case status.Code(err) == codes.FailedPrecondition:
				// Rewritten since the query read it.
			default:
				firstErr = cmp.Or(firstErr, err)
			}
		}
		jobs = jobs[:0]
	}
	for firstErr == nil {
		snap, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			firstErr = err
			break
		}
		job, err := bw.Delete(snap.Ref, firestore.LastUpdateTime(snap.UpdateTime))
		if err != nil {
			firstErr = err
			break
		}
		if jobs = append(jobs, job); len(jobs) == sweepChunk {
			settle()
		}
	}
	settle()
	bw.End()
	if firstErr != nil {
		return deleted, fmt.Errorf("delete customers synced before %v: %w", t, firstErr)
	}
	return deleted, nil
}

// CountSyncedBefore returns how many customers have a SyncedAt before t:
// one aggregation query, billed as one read per 1000 documents counted.
func (s *Store) CountSyncedBefore(ctx context.Context, t time.Time) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	q := s.col.Where("synced_at", "<", t)
	res, err := q.NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return 0, fmt.Errorf("count customers synced before %v: %w", t, err)
	}
	n, ok := res.Data()["n"].(int64)
	if !ok {
		return 0, fmt.Errorf("count customers synced before %v: no count in %v", t, res.Data())
	}
	return int(n), nil
}

type syncState struct {
	RunStart time.Time `firestore:"run_start"`
	After    string    `firestore:"after"`
	Done     bool      `firestore:"done"`
	Kept     int       `firestore:"kept,omitempty"`
}

func stateDoc(st crm.SyncState) syncState {
	return syncState{RunStart: st.RunStart, After: st.After, Done: st.Done, Kept: st.Kept}
}

// SyncState returns the last checkpoint, or the zero state if none was
// stored.
func (s *Store) SyncState(ctx context.Context) (crm.SyncState, error) {
	if s.err != nil {
		return crm.SyncState{}, s.err
	}
	return readState(ctx, s.state)
}

// readState reads a full-sync checkpoint document.
func readState(ctx context.Context, ref *firestore.DocumentRef) (crm.SyncState, error) {
	snap, err := ref.Get(ctx)
	if status.Code(err) == codes.NotFound {
		return crm.SyncState{}, nil
	}
	if err != nil {
		return crm.SyncState{}, fmt.Errorf("read sync state: %w", err)
	}
	var st syncState
	if err := snap.DataTo(&st); err != nil {
		return crm.SyncState{}, fmt.Errorf("read sync state: %w", err)
	}
	return crm.SyncState{RunStart: st.RunStart, After: st.After, Done: st.Done, Kept: st.Kept}, nil
}

// PutSyncState stores the checkpoint.
func (s *Store) PutSyncState(ctx context.Context, st crm.SyncState) error {
	if s.err != nil {
		return s.err
	}
	return writeState(ctx, s.state, st, "sync state")
}

// writeState writes a full-sync checkpoint document; what names it in
// errors.
func writeState(ctx context.Context, ref *firestore.DocumentRef, st crm.SyncState, what string) error {
	if _, err := ref.Set(ctx, stateDoc(st)); err != nil {
		return fmt.Errorf("write %s: %w", what, err)
	}
	return nil
}

func foldWorker(w string) string { return strings.ToLower(strings.TrimSpace(w)) }

// validCollection applies Firestore's rules for collection ids.
func validCollection(c string) bool {
	return c != "" && len(c) <= maxDocID && utf8.ValidString(c) && !strings.Contains(c, "/") &&
		c != "." && c != ".." && !(strings.HasPrefix(c, "__") && strings.HasSuffix(c, "__"))
}
