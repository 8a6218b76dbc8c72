package deployment

import (
	"encoding/json"
	"fmt"
	"os"
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

type indexesFile struct {
	Indexes        []Index    `json:"indexes"`
	FieldOverrides []TTLField `json:"fieldOverrides"`
}

func readIndexesFile(path string) (indexesFile, error) {
	var file indexesFile
	b, err := os.ReadFile(path)
	if err != nil {
		return file, fmt.Errorf("read indexes: %w", err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		return file, fmt.Errorf("read indexes %s: %w", path, err)
	}
	return file, nil
}

// ReadTTLFields reads the TTL policies of an indexes file.
func ReadTTLFields(path string) ([]TTLField, error) {
	file, err := readIndexesFile(path)
	if err != nil {
		return nil, err
	}
	var out []TTLField
	for _, f := range file.FieldOverrides {
		if f.TTL {
			out = append(out, f)
		}
	}
	return out, nil
}

// ReadIndexes reads the composite indexes of an indexes file.
func ReadIndexes(path string) ([]Index, error) {
	file, err := readIndexesFile(path)
	if err != nil {
		return nil, err
	}
	for i, ix := range file.Indexes {
		if len(ix.Fields) == 0 {
			return nil, fmt.Errorf("read indexes %s: index %d has no fields", path, i)
		}
		for _, f := range ix.Fields {
			if f.FieldPath == "" || (f.Order == "") == (f.ArrayConfig == "") {
				return nil, fmt.Errorf("read indexes %s: index %d: each field needs a fieldPath and either order or arrayConfig", path, i)
			}
		}
	}
	return file.Indexes, nil
}
