package fsstore

import _ "embed"

// IndexesJSON is indexes.json: the composite indexes and TTL policies the
// stores need, in the firestore.indexes.json format. The deploy paths read
// the file; `experthub doctor` checks a database against this copy.
//
//go:embed indexes.json
var IndexesJSON []byte
