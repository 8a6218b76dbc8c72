package crm

// Op is what a Change does to the cached copy of a record.
type Op uint8

const (
	// Skip leaves the cache alone: the event is about a draft, another
	// content type or nothing the cache keeps. It is the zero Op, so a
	// Change nobody filled in changes nothing.
	Skip Op = iota
	// Upsert stores the record, replacing the cached one.
	Upsert
	// Delete removes the record from the cache.
	Delete
)

// String returns the Op as logs show it.
func (o Op) String() string {
	switch o {
	case Skip:
		return "skip"
	case Upsert:
		return "upsert"
	case Delete:
		return "delete"
	}
	return "unknown"
}

// Change is one change to a record of type T (Customer) that a CRM
// reported, in terms that do not depend on the CRM: each CRM package
// decodes its own webhooks into Changes, and the sync applies them.
type Change[T any] struct {
	// Event is the CRM's name for what happened ("entry.publish"), kept
	// for logs and for the answer to the webhook.
	Event string
	Op    Op
	// ID is the record's id in the cache (Customer.ID); required for
	// Upsert and Delete.
	ID string
	// Record is what to store on Upsert.
	Record T
	// Partial is set when the CRM sent only part of the record (Strapi v4
	// leaves components out on some write paths): storing it as it is
	// would lose fields, so the sync reads the record again from the CRM.
	Partial bool
	// Reason says why a Skip leaves the cache alone.
	Reason string
}
