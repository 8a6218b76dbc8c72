package conversation

import "context"

// displayName returns the name a customer may be told for the worker
// identity, or "" when there is none to tell.
//
// Replaced at merge by the names work (Frontline Users API friendly_name,
// else TaskRouter full_name, else "").
func (f *Flow) displayName(ctx context.Context, identity string) string { return "" }
