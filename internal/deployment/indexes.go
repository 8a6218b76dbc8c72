package deployment

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
)

// IndexesFile lists the Firestore composite indexes the queries of
// internal/fsstore need, relative to the module root, in the
// firestore.indexes.json format. Both deploy paths read it, so an index
// ships with the code that needs it.
const IndexesFile = "internal/fsstore/indexes.json"

// Index is one composite index of IndexesFile.
type Index struct {
	CollectionGroup string       `json:"collectionGroup"`
	QueryScope      string       `json:"queryScope"` // COLLECTION or COLLECTION_GROUP
	Fields          []IndexField `json:"fields"`
}

// IndexField is one field of an Index: Order or ArrayConfig is set.
type IndexField struct {
	FieldPath   string `json:"fieldPath"`
	Order       string `json:"order,omitempty"`       // ASCENDING or DESCENDING
	ArrayConfig string `json:"arrayConfig,omitempty"` // CONTAINS
}

// TTLField is a field whose time makes Firestore delete its document
// (a fieldOverrides entry with "ttl": true in the indexes file).
type TTLField struct {
	CollectionGroup string `json:"collectionGroup"`
	FieldPath       string `json:"fieldPath"`
	TTL             bool   `json:"ttl"`
}

// Indexes are the contents of an indexes file.
type Indexes struct {
	Composite []Index    `json:"indexes"`
	TTL       []TTLField `json:"fieldOverrides"` // only those with TTL set
}

// ReadIndexes reads and checks the indexes file at path.
func ReadIndexes(path string) (Indexes, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Indexes{}, fmt.Errorf("read indexes: %w", err)
	}
	ix, err := ParseIndexes(b)
	if err != nil {
		return Indexes{}, fmt.Errorf("read indexes %s: %w", path, err)
	}
	return ix, nil
}

// ParseIndexes parses and checks the contents of an indexes file: each
// composite index has fields, each with a path and either an order or an
// array config.
func ParseIndexes(b []byte) (Indexes, error) {
	var ix Indexes
	if err := json.Unmarshal(b, &ix); err != nil {
		return Indexes{}, err
	}
	ix.TTL = slices.DeleteFunc(ix.TTL, func(f TTLField) bool { return !f.TTL })
	for i, c := range ix.Composite {
		if len(c.Fields) == 0 {
			return Indexes{}, fmt.Errorf("index %d has no fields", i)
		}
		for _, f := range c.Fields {
			if f.FieldPath == "" || (f.Order == "") == (f.ArrayConfig == "") {
				return Indexes{}, fmt.Errorf("index %d: each field needs a fieldPath and either order or arrayConfig", i)
			}
		}
	}
	return ix, nil
}
