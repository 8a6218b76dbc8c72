// Package deploy describes how Expert Hub runs on Google Cloud (one Cloud
// Run function per entry point, their identities, secrets, the Firestore
// indexes and the sync schedule) and turns that description into the gcloud
// commands that create it. terraform/ describes the same deployment for the
// Terraform path; deploy_test.go at the module root keeps both in step with
// the registered entry points and config.Vars.
package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/config"
)

// Runtime is the Cloud Functions runtime. It must match go.mod's go
// directive: the buildpack refuses a go.mod newer than the runtime.
const Runtime = "go126"

// Function is how one entry point is deployed. The Cloud Functions name
// equals the entry point, so each function's URL ends in /<entry point>,
// which is what PUBLIC_BASE_URL + "/" + name assumes for signatures.
type Function struct {
	Name         string // entry point and function name
	Memory       string // e.g. "512Mi"
	CPU          string // vCPUs; concurrency above 1 needs at least 1
	Concurrency  int    // requests one instance serves at once
	Timeout      time.Duration
	MinInstances int // 1 keeps an instance warm: Twilio gives up after 5 s
	MaxInstances int
}

// Functions lists every entry point of function.go with its settings.
// terraform/main.tf holds the same table (checked by deploy_test.go).
var Functions = []Function{
	webhook("crm", 0),
	webhook("outgoing", 0),
	{
		Name: "sync", Memory: "512Mi", CPU: "1", Concurrency: 40,
		// A full sync pages through the whole Strapi collection. One
		// instance: the one-full-sync-at-a-time guard is per process, and
		// webhooks share the instance through concurrency.
		Timeout:      15 * time.Minute,
		MinInstances: 0,
		MaxInstances: 1,
	},
	// Routing and the Conversations hooks sit in the path of an inbound
	// message, where a cold start could exceed Twilio's 5 s limit.
	webhook("routing", 1),
	webhook("pre-event", 1),
	webhook("post-event", 1),
}

func webhook(name string, minInstances int) Function {
	return Function{
		Name: name, Memory: "512Mi", CPU: "1", Concurrency: 40,
		Timeout: 60 * time.Second, MinInstances: minInstances, MaxInstances: 10,
	}
}

// Service accounts (account ids) the deployment creates; terraform/iam.tf
// uses the same ids so both paths manage the same identities.
const (
	RuntimeAccount   = "expert-hub-run"       // identity of the functions
	BuildAccount     = "expert-hub-build"     // builds the functions' images
	SchedulerAccount = "expert-hub-scheduler" // signs the full-sync OIDC token
)

// SchedulerJob is the Cloud Scheduler job that triggers a full sync.
const SchedulerJob = "expert-hub-full-sync"

// Where Twilio and Strapi must send their events (README "Deploy"); the
// Terraform outputs list the same.
var (
	PreEventFilters  = []string{"onConversationAdd"}
	PostEventFilters = []string{"onParticipantAdded", "onMessageAdded"}
	StrapiEvents     = []string{"entry.create", "entry.update", "entry.delete", "entry.publish", "entry.unpublish"}
)

// APIs are the services a fresh project needs.
var APIs = []string{
	"artifactregistry.googleapis.com",
	"cloudbuild.googleapis.com",
	"cloudfunctions.googleapis.com",
	"cloudresourcemanager.googleapis.com",
	"cloudscheduler.googleapis.com",
	"firestore.googleapis.com",
	"iam.googleapis.com",
	"run.googleapis.com",
	"secretmanager.googleapis.com",
	"storage.googleapis.com",
}

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

// SecretVars returns the variables Secret Manager delivers, in config.Vars
// order. They are never set as plain environment variables.
func SecretVars() []string {
	var names []string
	for _, v := range config.Vars {
		if v.Secret {
			names = append(names, v.Name)
		}
	}
	return names
}

// SecretID names the Secret Manager secret holding env var name:
// TWILIO_AUTH_TOKEN is stored in twilio-auth-token.
func SecretID(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// WiredSecrets returns the secret variables the functions read given the
// non-secret settings env. An optional secret is wired only when its
// setting is in use: Cloud Run refuses to start a revision whose secret has
// no version, and config rejects e.g. an API secret without its key.
// terraform/secrets.tf applies the same rules.
func WiredSecrets(env map[string]string) []string {
	optional := map[string]bool{
		"TWILIO_API_SECRET": env["TWILIO_API_KEY"] != "",
		"STRAPI_PASSWORD":   env["STRAPI_IDENTIFIER"] != "",
		"STRAPI_API_TOKEN":  env["STRAPI_URL"] != "" && env["STRAPI_IDENTIFIER"] == "",
	}
	var names []string
	for _, name := range SecretVars() {
		if wired, ok := optional[name]; ok && !wired {
			continue
		}
		names = append(names, name)
	}
	return names
}
