package app_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/config"
	"github.com/experthub/experthub/internal/crm"
)

// TestSampleFileUsesDefaultRegion: customers of CRM_SAMPLE_FILE written
// with national numbers are found by their E.164 numbers with
// DEFAULT_REGION, as the sync finds Strapi's; without it they are kept as
// written.
func TestSampleFileUsesDefaultRegion(t *testing.T) {
	sample, err := json.Marshal([]crm.Customer{
		{ID: "fr-1", DisplayName: "Chloé Martin", Channels: []crm.Channel{
			{Type: "sms", Value: "06 79 50 00 98"},
			{Type: "whatsapp", Value: "whatsapp:07 81 23 45 67"},
		}},
		{ID: "gb-1", DisplayName: "Jo Anne", Channels: []crm.Channel{{Type: "sms", Value: "+44 7491 000002"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "customers.json")
	if err := os.WriteFile(file, sample, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		region  string
		address string
		want    string // customer id; "" not found
	}{
		{"FR", "+33679500098", "fr-1"},
		{"FR", "whatsapp:+33679500098", "fr-1"},
		{"FR", "whatsapp:+33781234567", "fr-1"},
		{"FR", "+447491000002", "gb-1"},
		{"", "+33679500098", ""},
		{"", "+447491000002", "gb-1"},
	}
	harness := map[string]*apptest.Harness{}
	for _, tt := range tests {
		h := harness[tt.region]
		if h == nil {
			h = apptest.New(t, apptest.Options{Env: config.Env{"CRM_SAMPLE_FILE": file, "DEFAULT_REGION": tt.region}})
			harness[tt.region] = h
		}
		c, err := h.App.Customers.CustomerByAddress(t.Context(), tt.address)
		if tt.want == "" {
			if err == nil {
				t.Errorf("region %q: %s found %s, want not found", tt.region, tt.address, c.ID)
			}
			continue
		}
		if err != nil || c.ID != tt.want {
			t.Errorf("region %q: %s = %q, %v; want %s", tt.region, tt.address, c.ID, err, tt.want)
		}
	}
}
