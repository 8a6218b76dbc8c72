package conversation

import (
	"slices"
	"testing"

	"github.com/experthub/experthub/internal/twilio"
)

func TestWorkerAreas(t *testing.T) {
	tests := []struct {
		attributes string
		want       []string
	}{
		{``, nil},
		{`null`, nil},
		{`not json`, nil},
		{`{"expertise": "watches"}`, nil},
		{`{"expertise": [" Watches ", "bridal", "WATCHES", 3, ""]}`, []string{"watches", "bridal"}},
	}
	for _, tt := range tests {
		if got := workerAreas(tt.attributes); !slices.Equal(got, tt.want) {
			t.Errorf("workerAreas(%q) = %q, want %q", tt.attributes, got, tt.want)
		}
	}
	w := twilio.Worker{Attributes: `{"expertise": ["bridal"]}`}
	if !workerHasArea(w, "Bridal") || workerHasArea(w, "watches") || !workerHasArea(w, "") {
		t.Errorf("workerHasArea wrong for %q", w.Attributes)
	}
}
