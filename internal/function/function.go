// Package function names Expert Hub's Cloud Functions, in one place. A
// function's Name is its entry point, the path it is served at locally
// (/<name>), the last part of its deployed name (eh-<environment>-<name>,
// internal/deployment) and, upper-cased with underscores, the suffix of
// its PUBLIC_URL_<FUNCTION> setting (internal/config).
package function

// Name is the name of one function.
type Name string

// The functions. Twilio, Strapi, Cloud Tasks and Cloud Scheduler are
// configured with URLs ending in these names: renaming one is a migration.
const (
	CRM              Name = "crm"               // Frontline's CRM callback
	Outgoing         Name = "outgoing"          // Frontline's outgoing conversations callback
	Templates        Name = "templates"         // Frontline's templates callback
	Sync             Name = "sync"              // Strapi's webhook and the scheduled full sync
	Routing          Name = "routing"           // Frontline's custom routing
	PreEvent         Name = "pre-event"         // Conversations' pre-action webhook
	PostEvent        Name = "post-event"        // Conversations' post-action webhook
	Work             Name = "work"              // the Cloud Tasks queue's deliveries
	TaskRouterEvents Name = "taskrouter-events" // TaskRouter's event callback and the waiting line's sweep
	Handoff          Name = "handoff"           // the contact center's calls back
	Experts          Name = "experts"           // the contact center's panel: areas and available experts
	FlexEvents       Name = "flex-events"       // the Flex workspace's TaskRouter event callback
)

// All returns every function, in the order the README lists them.
func All() []Name {
	return []Name{CRM, Outgoing, Templates, Sync, Routing, PreEvent, PostEvent, Work, TaskRouterEvents, Handoff, Experts, FlexEvents}
}

// FlexTaskEvents are the Flex workspace's TaskRouter events flex-events
// handles (task.wrapup tells that an agent took the task); experthub
// setup subscribes the workspace's event callback to them.
var FlexTaskEvents = []string{"task.completed", "task.canceled", "task.deleted", "task.wrapup"}
