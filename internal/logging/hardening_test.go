package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestAttributesNamedLikeCloudLoggingFields checks that an attribute named
// "message" or "severity" (a message SID, say) does not repeat the key
// Cloud Logging reads, where the last one would win.
func TestAttributesNamedLikeCloudLoggingFields(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, "info").Error("bot turn failed", "message", "IM00000000000000000000000000000016", "severity", "low")
	line := strings.TrimSpace(buf.String())
	for _, key := range []string{`"message":`, `"severity":`} {
		if n := strings.Count(line, key); n != 1 {
			t.Errorf("%s appears %d times: %s", key, n, line)
		}
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["message"] != "bot turn failed" || rec["severity"] != "ERROR" {
		t.Errorf("message, severity = %v, %v; want the record's own", rec["message"], rec["severity"])
	}
	if rec["attr_message"] != "IM00000000000000000000000000000016" || rec["attr_severity"] != "low" {
		t.Errorf("attributes lost: %s", line)
	}
}
