package experthub_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/config"
)

// TestNoSecretsInRepository reads every file git would commit (tracked,
// or new and not ignored), test data aside, for what looks like a real
// credential: a Twilio auth token or API secret, a SID that is not
// obviously made up, a private key, a service account key, a secret in
// an env file or a Terraform variable file.
func TestNoSecretsInRepository(t *testing.T) {
	files := repositoryFiles(t)
	var lines int
	for _, path := range files {
		b, err := os.ReadFile(path)
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree
			}
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary
		}
		if filepath.Base(path) == ".env" {
			t.Errorf("%s: an env file is in the repository; .env holds local secrets and is git-ignored", path)
		}
		for i, line := range strings.Split(string(b), "\n") {
			lines++
			if what := secretIn(path, line); what != "" {
				t.Errorf("%s:%d: %s: %s", path, i+1, what, strings.TrimSpace(line))
			}
		}
	}
	if len(files) < 20 {
		t.Fatalf("only %d files to read: is this the repository?", len(files))
	}
	t.Logf("secrets scan: %d files, %d lines", len(files), lines)
}

// repositoryFiles lists the files git would commit, test data aside.
func repositoryFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	out, err := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err == nil {
		files = strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	} else {
		// No git (a source archive): every file but git-ignored local ones.
		t.Logf("git ls-files: %v; walking the tree", err)
		err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if !d.IsDir() && d.Name() != ".env" && !strings.HasSuffix(d.Name(), ".test") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return slices.DeleteFunc(files, func(p string) bool {
		return p == "" || slices.Contains(strings.Split(filepath.ToSlash(p), "/"), "testdata")
	})
}

var (
	privateKey    = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----`)
	serviceKey    = regexp.MustCompile(`"private_key(_id)?"\s*:\s*"[^"]+"|"type"\s*:\s*"service_account"`)
	sid           = regexp.MustCompile(`\b[A-Z]{2}[0-9a-fA-F]{32}\b`)
	hex32         = regexp.MustCompile(`\b[0-9a-fA-F]{32}\b`)
	tokenContext  = regexp.MustCompile(`(?i)auth[_-]?token|api[_-]?secret|authtoken|apisecret`)
	secretData    = regexp.MustCompile(`\bsecret_data\s*=`)
	tfvarsSecret  = regexp.MustCompile(`(?i)^\s*[a-z0-9_]*(secret|password|token)[a-z0-9_]*\s*=\s*"[^"]+"`)
	envAssignment = regexp.MustCompile(`^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=["']?([^"'\s#]*)`)
)

// secretVars are the variables config reads from Secret Manager, with
// their old names.
var secretVars = func() map[string]bool {
	m := map[string]bool{}
	for _, v := range config.Vars {
		if v.Secret {
			m[v.Name] = true
			for _, a := range v.Aliases {
				m[a] = true
			}
		}
	}
	return m
}()

// secretIn names the credential line seems to hold, or returns "".
func secretIn(path, line string) string {
	switch {
	case privateKey.MatchString(line):
		return "private key"
	case serviceKey.MatchString(line):
		return "service account key"
	}
	for _, s := range sid.FindAllString(line, -1) {
		if !madeUp(s[2:]) {
			return "real-looking SID " + s[:2] + "…"
		}
	}
	if tokenContext.MatchString(line) {
		for _, s := range hex32.FindAllString(line, -1) {
			if !madeUp(s) {
				return "real-looking Twilio auth token or API secret"
			}
		}
	}
	ext := filepath.Ext(strings.TrimSuffix(path, ".example"))
	if (ext == ".tf" || ext == ".tfvars") && secretData.MatchString(line) {
		return "secret value in Terraform (it ends up in the state)"
	}
	if ext == ".tfvars" && tfvarsSecret.MatchString(line) {
		return "secret in a Terraform variable file"
	}
	if ext != ".go" {
		if m := envAssignment.FindStringSubmatch(line); m != nil && secretVars[m[1]] && !placeholder(m[2]) {
			return m[1] + " set to a value"
		}
	}
	return ""
}

// madeUp reports whether 32 hex digits are obviously not a real
// credential: a long run of one digit ("AC000…0", "fa4e000…0a07"), a
// repeated pattern ("a1a1…") or counting ("0123456789abcdef…"). Real SIDs
// and tokens are random.
func madeUp(h string) bool {
	h = strings.ToLower(h)
	run := 1
	for i := 1; i < len(h); i++ {
		if h[i] == h[i-1] {
			run++
			if run >= 6 {
				return true
			}
		} else {
			run = 1
		}
	}
	for _, p := range []int{1, 2, 4, 8, 16} {
		if h == strings.Repeat(h[:p], len(h)/p) {
			return true
		}
	}
	return strings.Contains(h, "0123456789") || strings.Contains(h, "123456789a")
}

// placeholder reports whether an env file value stands for one.
func placeholder(v string) bool {
	l := strings.ToLower(v)
	return v == "" || strings.HasPrefix(v, "<") || strings.HasPrefix(v, "$") ||
		strings.Contains(l, "...") || strings.Contains(l, "…") || strings.Contains(l, "xxx") ||
		strings.Contains(l, "your") || strings.Contains(l, "changeme") || strings.Contains(l, "example")
}

// TestSecretIn checks the scan itself on lines that must and must not
// pass. The credentials are built at run time, so that this file does not
// hold them.
func TestSecretIn(t *testing.T) {
	random := func(seed string) string {
		sum := sha256.Sum256([]byte(seed))
		return hex.EncodeToString(sum[:16])
	}
	tests := []struct {
		path, line string
		secret     bool
	}{
		{"a.go", `const token = "` + random("token") + `" // TWILIO_AUTH_TOKEN`, true},
		{"a.go", `authToken: "` + random("token") + `",`, true},
		{"a.go", `apiSecret := "` + strings.ToUpper(random("s")) + `"`, true},
		{"a.go", `sum := "` + random("token") + `" // a hash, no credential near`, false},
		{"a.go", `DefaultAuthToken = "fa4e0000000000000000000000000a07"`, false},
		{"a.go", `authToken = "0123456789abcdef0123456789abcdef"`, false},
		{"a.md", "account `AC" + random("sid") + "`", true},
		{"a.go", `sid := "CH` + random("conv") + `"`, true},
		{"a.go", `"AC00000000000000000000000000000000", "CHa1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1"`, false},
		{"a.go", `"WQ0000000000000000000000000000beef", "CH33679500001000000000000000000000"`, false},
		{"k.pem", "-----BEGIN " + "RSA PRIVATE KEY-----", true},
		{"k.pem", "-----BEGIN " + "PRIVATE KEY-----", true},
		{"k.txt", "-----BEGIN " + "OPENSSH PRIVATE KEY-----", true},
		{"sa.json", `  "type": "service_` + `account",`, true},
		{"sa.json", `  "private_` + `key": "-----BEGIN...",`, true},
		{"main.tf", `  secret_` + `data = "hunter2"`, true},
		{"main.tf", `  secret_id = each.value`, false},
		{"prod.tfvars", `strapi_api_` + `token = "0f3c9e"`, true},
		{"prod.tfvars", `twilio_account_sid = "AC00000000000000000000000000000000"`, false},
		{"environments/staging.tfvars.example", `strapi_api_` + `token = "0f3c9e"`, true},
		{"environments/staging.tfvars.example", `# twilio_api_key = "SK00000000000000000000000000000000"`, false},
		{".env.sample", "TWILIO_AUTH_" + "TOKEN=" + random("env"), true},
		{"run.sh", "export STRAPI_WEBHOOK_" + "SECRET=s3cr3t-value", true},
		{"README.md", "DB_" + "PASS=hunter2", true},
		{"README.md", "TWILIO_AUTH_" + "TOKEN=<your auth token>", false},
		{"README.md", "TWILIO_AUTH_" + "TOKEN=$(gcloud secrets versions access latest --secret=twilio-auth-token)", false},
		{"README.md", "STRAPI_API_" + "TOKEN=", false},
		{"README.md", "TWILIO_ACCOUNT_SID=AC00000000000000000000000000000000", false},
		{"a.go", `env := "TWILIO_AUTH_` + `TOKEN=` + random("go") + `"`, true},
	}
	for _, tt := range tests {
		if got := secretIn(tt.path, tt.line); (got != "") != tt.secret {
			t.Errorf("secretIn(%s, %q) = %q, want a secret: %t", tt.path, tt.line, got, tt.secret)
		}
	}
}
