// Package experthub is the Cloud Functions entry package of Expert Hub: it
// registers one HTTP function per Twilio/Strapi callback. The logic lives
// in internal/; this file only wires it.
package experthub

import (
	"net/http"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
)

// EntryPoints are the registered function names. Each is deployed as its
// own Cloud Function (entry point = name) and served locally at /<name>.
var EntryPoints = []string{"crm", "outgoing", "sync", "routing", "pre-event", "post-event"}

func init() {
	for _, name := range EntryPoints {
		functions.HTTP(name, handler(name))
	}
}

func handler(name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not implemented", http.StatusNotImplemented)
	}
}
