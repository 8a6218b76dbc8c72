package twilio

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestParseObject(t *testing.T) {
	tests := []struct {
		in      string
		want    string // re-encoded
		wantErr bool
	}{
		{in: "", want: "{}"},
		{in: "null", want: "{}"},
		{in: " {} ", want: "{}"},
		{in: `{"n":12345678901234567890,"f":1.50,"s":"a&b"}`, want: `{"f":1.50,"n":12345678901234567890,"s":"a&b"}`},
		{in: `[1]`, wantErr: true},
		{in: `"x"`, wantErr: true},
		{in: `{"a":1} {"b":2}`, wantErr: true},
		{in: `{`, wantErr: true},
	}
	for _, tt := range tests {
		m, err := ParseAttributes(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseAttributes(%q) error = %v, want error %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if got, _ := EncodeAttributes(m); got != tt.want {
			t.Errorf("ParseAttributes(%q) re-encoded = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAddMissing(t *testing.T) {
	m := map[string]any{"customer_id": "7", "display_name": "", "avatar": nil, "tier": json.Number("2")}
	changed := AddMissing(m, map[string]string{"customer_id": "1", "display_name": "Maria", "avatar": "https://a", "extra": ""})
	got, _ := EncodeAttributes(m)
	if want := `{"avatar":"https://a","customer_id":"7","display_name":"Maria","tier":2}`; !changed || got != want {
		t.Errorf("AddMissing = %s changed=%v, want %s", got, changed, want)
	}
	if AddMissing(m, map[string]string{"customer_id": "1"}) {
		t.Error("AddMissing reported a change for a key already set")
	}
}

// TestMergeWithin: additions that would take the attributes over the
// limit are left out in order, customer_id never, and what was there is
// kept.
func TestMergeWithin(t *testing.T) {
	const limit = MaxParticipantAttributes
	big := func(n int) string { return "https://x/" + strings.Repeat("a", n-10) }
	tests := []struct {
		name        string
		have        map[string]any
		add         map[string]string
		wantKeys    []string // keys of the result
		wantDropped []string
		wantNothing bool // nothing to write
		wantErr     bool
	}{
		{name: "fits", add: map[string]string{"customer_id": "1", "display_name": "Ann", "avatar": "https://x/a.png"},
			wantKeys: []string{"avatar", "customer_id", "display_name"}},
		{name: "5 KB avatar", add: map[string]string{"customer_id": "1", "display_name": "Ann", "avatar": big(5 << 10)},
			wantKeys: []string{"customer_id", "display_name"}, wantDropped: []string{"avatar"}},
		{name: "avatar just over", add: map[string]string{"customer_id": "1", "display_name": "Ann", "avatar": big(limit - 40)},
			wantKeys: []string{"customer_id", "display_name"}, wantDropped: []string{"avatar"}},
		{name: "big attributes already there", have: map[string]any{"notes": strings.Repeat("n", limit-60)},
			add:      map[string]string{"customer_id": "1", "display_name": "Ann Smith-Jones", "avatar": "https://x/a.png"},
			wantKeys: []string{"customer_id", "notes"}, wantDropped: []string{"avatar", "display_name"}},
		{name: "only optional additions, none fit", have: map[string]any{"customer_id": "1", "notes": strings.Repeat("n", limit-40)},
			add: map[string]string{"customer_id": "1", "avatar": big(100)}, wantNothing: true, wantDropped: []string{"avatar"}},
		{name: "customer_id does not fit", have: map[string]any{"notes": strings.Repeat("n", limit-10)},
			add: map[string]string{"customer_id": "12345"}, wantErr: true},
		{name: "nothing missing", have: map[string]any{"customer_id": "1"}, add: map[string]string{"customer_id": "2"}, wantNothing: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have := tt.have
			if have == nil {
				have = map[string]any{}
			}
			before, _ := EncodeAttributes(have)
			s, dropped, err := MergeAttributes(have, tt.add, []string{"avatar", "display_name"}, limit)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if after, _ := EncodeAttributes(have); after != before {
				t.Errorf("MergeAttributes changed its argument")
			}
			if !slices.Equal(dropped, tt.wantDropped) {
				t.Errorf("dropped %v, want %v", dropped, tt.wantDropped)
			}
			if tt.wantErr || tt.wantNothing {
				if s != "" {
					t.Errorf("= %.80s…, want nothing to write", s)
				}
				return
			}
			if len(s) > limit {
				t.Errorf("%d bytes, over %d", len(s), limit)
			}
			m, err := ParseAttributes(s)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, tt.wantKeys) {
				t.Errorf("keys %v, want %v", got, tt.wantKeys)
			}
			if m["customer_id"] != tt.add["customer_id"] {
				t.Errorf("customer_id = %v", m["customer_id"])
			}
		})
	}
}

func TestMillis(t *testing.T) {
	tests := []struct {
		in   any
		want int64
		ok   bool
	}{
		{json.Number("1700000000000"), 1700000000000, true},
		{json.Number("1.7e12"), 1700000000000, true},
		{"1700000000000", 1700000000000, true},
		{float64(1700000000000), 1700000000000, true},
		{json.Number("0"), 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{nil, 0, false},
		{true, 0, false},
	}
	for _, tt := range tests {
		got, ok := Millis(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Millis(%#v) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsSID(t *testing.T) {
	tests := map[string]bool{
		"CH0123456789abcdef0123456789ABCDEF":  true,
		"CH0123456789abcdef0123456789abcde":   false,
		"IM0123456789abcdef0123456789abcdef":  false,
		"CH0123456789abcdef0123456789abcdeg":  false,
		"CH../../../../../../../../../../../": false,
		"":                                    false,
	}
	for s, want := range tests {
		if got := IsSID(s, "CH"); got != want {
			t.Errorf("IsSID(%q, CH) = %v", s, got)
		}
	}
}
