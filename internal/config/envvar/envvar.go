// Package envvar describes the environment variables Expert Hub reads.
// It stands apart from config so that a package owning a group of
// settings (the CRM's, say) documents its variables in the same terms
// without importing config, which lists them all (config.Vars).
package envvar

// Var documents one environment variable.
type Var struct {
	Name    string
	Aliases []string // older names still accepted (the seed's .env)
	Secret  bool     // delivered by Secret Manager when deployed
	Local   bool     // meaningful only for local runs; never deployed
	Default string
	Help    string
}
