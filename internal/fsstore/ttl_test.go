package fsstore

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

// The flow's records say when they may go (expire_at);
// without a TTL policy on that field they would pile up forever.
func TestTTLPoliciesListed(t *testing.T) {
	raw, err := os.ReadFile("indexes.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		FieldOverrides []struct {
			CollectionGroup string `json:"collectionGroup"`
			FieldPath       string `json:"fieldPath"`
			TTL             bool   `json:"ttl"`
		} `json:"fieldOverrides"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var ttl []string
	for _, f := range file.FieldOverrides {
		if f.TTL && f.FieldPath == "expire_at" {
			ttl = append(ttl, f.CollectionGroup)
		}
	}
	for _, c := range []string{LedgerCollection, AssignmentsCollection, LineCollection, HandoffsCollection, NotesCollection, ToFlexCollection} {
		if !slices.Contains(ttl, c) {
			t.Errorf("indexes.json has no TTL policy on %s.expire_at", c)
		}
	}
}
