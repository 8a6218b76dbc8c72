package bot

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const sampleAreas = "watches=Watches|montre|watch; bridal=Bridal|wedding|mariage;fine_jewellery=Fine jewellery|jewelry"

func TestParseAreas(t *testing.T) {
	as, err := ParseAreas(sampleAreas)
	if err != nil {
		t.Fatal(err)
	}
	want := Areas{
		{Key: "watches", Label: "Watches", Synonyms: []string{"montre", "watch"}},
		{Key: "bridal", Label: "Bridal", Synonyms: []string{"wedding", "mariage"}},
		{Key: "fine_jewellery", Label: "Fine jewellery", Synonyms: []string{"jewelry"}},
	}
	if !slices.EqualFunc(as, want, func(a, b Area) bool {
		return a.Key == b.Key && a.Label == b.Label && slices.Equal(a.Synonyms, b.Synonyms)
	}) {
		t.Errorf("ParseAreas = %+v, want %+v", as, want)
	}
	for _, tt := range []struct {
		spec string
		ok   bool
		keys []string
	}{
		{"", true, nil},
		{" ; ", true, nil},
		{"Watches", true, []string{"watches"}},
		{"leather_goods", true, []string{"leather_goods"}},
		{"watches;watches=Montres", false, nil},
		{"watches=Watches;bridal=watches", false, nil},
		{"watches=Watches|ring;bridal=Bridal|Ring", false, nil},
		{"=Watches", false, nil},
		{"wat ches=Watches", false, nil},
		{"fine-jewellery", false, nil},
		{"watches=|montre", true, []string{"watches"}},
	} {
		as, err := ParseAreas(tt.spec)
		if (err == nil) != tt.ok || err != nil && !errors.Is(err, ErrBadAreas) {
			t.Errorf("ParseAreas(%q) error = %v, want ok %v", tt.spec, err, tt.ok)
			continue
		}
		var keys []string
		for _, a := range as {
			keys = append(keys, a.Key)
		}
		if tt.ok && !slices.Equal(keys, tt.keys) {
			t.Errorf("ParseAreas(%q) keys = %v, want %v", tt.spec, keys, tt.keys)
		}
	}
	if as, _ := ParseAreas("watches=|montre"); as[0].Label != "Watches" {
		t.Errorf("default label = %q", as[0].Label)
	}
}

func TestMenu(t *testing.T) {
	as, _ := ParseAreas(sampleAreas)
	menu := as.Menu([]string{"leather_goods", "bridal", "watches"})
	var labels []string
	for _, a := range menu {
		labels = append(labels, a.Label)
	}
	if want := []string{"Watches", "Bridal", "Leather goods"}; !slices.Equal(labels, want) {
		t.Errorf("menu = %v, want %v: configured order, then the rest", labels, want)
	}
	text := AreaMenu(menu)
	for _, want := range []string{"1. Watches\n", "2. Bridal\n", "3. Leather goods\n", "AGENT"} {
		if !strings.Contains(text, want) {
			t.Errorf("AreaMenu lacks %q:\n%s", want, text)
		}
	}
	if AreaMenu(nil) != Menu || len(as.Menu(nil)) != 0 {
		t.Error("without areas present the menu is today's")
	}
	if as.Label("bridal") != "Bridal" || as.Label("leather_goods") != "Leather goods" {
		t.Error("Label")
	}
}

func TestDecideMenu(t *testing.T) {
	as, _ := ParseAreas(sampleAreas)
	menu := as.Menu([]string{"watches", "bridal"})
	tests := []struct {
		text  string
		route Route
		area  string
	}{
		{"1", RouteArea, "watches"},
		{" 2. ", RouteArea, "bridal"},
		{"#2", RouteArea, "bridal"},
		{"3", RouteNone, ""},
		{"0", RouteNone, ""},
		{"watches", RouteArea, "watches"},
		{"I'm looking for a WATCH for my husband", RouteArea, "watches"},
		{"une montre, s'il vous plaît", RouteArea, "watches"},
		{"Wedding rings?", RouteArea, "bridal"},
		{"MARIAGE!", RouteArea, "bridal"},
		{"mariagé", RouteArea, "bridal"},
		{"watchmaker", RouteNone, ""},
		{"jewelry", RouteNone, ""}, // configured, but nobody of the pool has it
		{"agent for bridal", RouteArea, "bridal"},
		{"agent", RouteAgent, ""},
		{"ann@example.com about a watch", RouteWorker, ""},
		{"hello", RouteNone, ""},
		{"", RouteNone, ""},
	}
	for _, tt := range tests {
		d := DecideMenu(tt.text, menu)
		if d.Route != tt.route || d.Area != tt.area {
			t.Errorf("DecideMenu(%q) = %v %q, want %v %q", tt.text, d.Route, d.Area, tt.route, tt.area)
		}
		if tt.route == RouteNone && d.Reply != AreaMenu(menu) {
			t.Errorf("DecideMenu(%q).Reply = %q, want the area menu", tt.text, d.Reply)
		}
	}
	// Without areas: exactly Decide.
	for _, text := range []string{"1", "hello", "watch", "agent", "ann@example.com"} {
		if got, want := DecideMenu(text, nil), Decide(text); got != want {
			t.Errorf("DecideMenu(%q, nil) = %+v, want Decide's %+v", text, got, want)
		}
	}
}

func TestDecideOffer(t *testing.T) {
	as, _ := ParseAreas(sampleAreas)
	menu := as.Menu([]string{"watches"})
	const advisor = "ann@example.com"
	tests := []struct {
		text  string
		menu  []Area
		route Route
	}{
		{"wait", nil, RouteWait},
		{"I'll WAIT for her", nil, RouteWait},
		{"other", nil, RouteOther},
		{"another expert please", nil, RouteOther},
		{"anyone", menu, RouteOther},
		{"wait or someone else?", nil, RouteNone},
		{"hello", nil, RouteNone},
		{"agent", nil, RouteAgent},
		{"1", menu, RouteArea},
		{"bob@example.com", nil, RouteWorker},
	}
	for _, tt := range tests {
		d := DecideOffer(tt.text, advisor, tt.menu)
		if d.Route != tt.route {
			t.Errorf("DecideOffer(%q) = %v, want %v", tt.text, d.Route, tt.route)
		}
		if d.Route == RouteWait && d.Worker != advisor {
			t.Errorf("DecideOffer(%q) waits for %q", tt.text, d.Worker)
		}
		if d.Route == RouteNone && d.Reply != "" {
			t.Errorf("DecideOffer(%q) reply %q, want none: the caller offers again", tt.text, d.Reply)
		}
	}
	for _, name := range []string{"Ann", ""} {
		for _, got := range []string{AdvisorAway(name), OfferAgain(name), OfferLastWorker(name)} {
			if !strings.Contains(got, "WAIT") || !strings.Contains(got, name) {
				t.Errorf("offer %q: want WAIT and the name %q", got, name)
			}
		}
	}
}

// FuzzDecideMenu: whatever the customer writes and however the areas are
// configured, reading it neither panics nor picks an area off the menu,
// and every reply is valid text.
func FuzzDecideMenu(f *testing.F) {
	f.Add(sampleAreas, "2")
	f.Add(sampleAreas, "une montre")
	f.Add("a=B|c", "agent c")
	f.Add("x", "\xff\xfe 1")
	f.Fuzz(func(t *testing.T, spec, text string) {
		as, err := ParseAreas(spec)
		if err != nil {
			return
		}
		var present []string
		for _, a := range as {
			present = append(present, a.Key)
		}
		menu := as.Menu(append(present, "extra"))
		d := DecideMenu(text, menu)
		if d.Route == RouteArea && !slices.ContainsFunc(menu, func(a Area) bool { return a.Key == d.Area }) {
			t.Fatalf("DecideMenu(%q) picked %q, not on the menu", text, d.Area)
		}
		if d.Route == RouteNone && d.Reply == "" {
			t.Fatalf("DecideMenu(%q) reply %q", text, d.Reply)
		}
		_ = DecideOffer(text, "ann@example.com", menu)
	})
}
