package crm

import (
	"errors"
	"testing"
)

func TestNormalizeAddress(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: "+33679500001", want: "+33679500001"},
		{in: "+33 6 79 50 00 01", want: "+33679500001"},
		{in: "0033679500001", want: "+33679500001"},
		{in: "whatsapp:+33679500001", want: "+33679500001"},
		{in: "WhatsApp: +33 (6) 79-50-00-01", want: "+33679500001"},
		{in: "+447491000002", want: "+447491000002"},
		{in: "447491000002", want: "+447491000002"},
		{in: "Ann@Example.com", want: "ann@example.com"},
		{in: "", wantErr: true},
		{in: "whatsapp:", wantErr: true},
		{in: "+1", wantErr: true},
		{in: "+999999999999999999999", wantErr: true},
	}
	for _, tt := range tests {
		got, err := NormalizeAddress(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ErrBadAddress) {
				t.Errorf("NormalizeAddress(%q) = %q, %v; want ErrBadAddress", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestRegionOf(t *testing.T) {
	tests := map[string]string{
		"+33679500001":           "FR",
		"whatsapp:+447491000002": "GB",
		"+5521989500003":         "BR",
		"alice":                  "",
	}
	for in, want := range tests {
		if got := RegionOf(in); got != want {
			t.Errorf("RegionOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCustomerAddresses(t *testing.T) {
	c := Customer{Channels: []Channel{
		{Type: "whatsapp", Value: "whatsapp:+5521989500003"},
		{Type: "sms", Value: "+55 21 98950-0003"},
		{Type: "sms", Value: "+5521989500099"},
		{Type: "sms", Value: ""},
	}}
	got := c.Addresses()
	want := []string{"+5521989500003", "+5521989500099"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("Addresses() = %v, want %v", got, want)
	}
}

func TestChannelAddress(t *testing.T) {
	tests := []struct {
		in, region, want string
		ok               bool
	}{
		{"+447700900123", "", "+447700900123", true},
		{" whatsapp:+44 7700 900123", "", "whatsapp:+447700900123", true},
		{"WhatsApp:+447700900123", "", "whatsapp:+447700900123", true},
		{"06 79 50 00 01", "FR", "+33679500001", true},
		{"06 79 50 00 01", "", "", false},
		{"messenger:123", "", "", false},
		{"whatsapp:", "", "", false},
		{"ann@example.com", "", "", false},
		{"", "FR", "", false},
	}
	for _, tt := range tests {
		got, ok := ChannelAddress(tt.in, tt.region)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ChannelAddress(%q, %q) = %q, %v; want %q, %v", tt.in, tt.region, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCustomerNumbers(t *testing.T) {
	c := Customer{Channels: []Channel{{Type: "email", Value: "m@example.com"}, {Type: "whatsapp", Value: "06 79 50 00 01"}, {Type: "sms", Value: "+447491000002"}}}
	if a, ok := c.MessagingAddress("FR"); !ok || a != "whatsapp:+33679500001" {
		t.Errorf("MessagingAddress = %q, %v", a, ok)
	}
	if a, ok := c.MessagingAddress(""); !ok || a != "+447491000002" {
		t.Errorf("MessagingAddress without a region = %q, %v: the national number is no number", a, ok)
	}
	if _, ok := (Customer{Channels: []Channel{{Type: "sms", Value: "n/a"}}}).MessagingAddress("FR"); ok {
		t.Error("a channel that is no number gave an address")
	}
	for address, want := range map[string]bool{"+33679500001": true, "whatsapp:+447491000002": true, "+14155550123": false} {
		if got := c.HasNumber(address, "FR"); got != want {
			t.Errorf("HasNumber(%q) = %v", address, got)
		}
	}
}
