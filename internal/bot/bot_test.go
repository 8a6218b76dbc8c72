package bot

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecide(t *testing.T) {
	tests := []struct {
		text   string
		route  Route
		worker string
	}{
		{"Hi, can I talk to Ann@Example.COM please?", RouteWorker, "ann@example.com"},
		{"ann@example.com", RouteWorker, "ann@example.com"},
		{"bob.smith+shop@mail.co.uk agent", RouteWorker, "bob.smith+shop@mail.co.uk"},
		{"AGENT", RouteAgent, ""},
		{"agent", RouteAgent, ""},
		{"I'd like an Agent, thanks", RouteAgent, ""},
		{"any agents free?", RouteAgent, ""},
		{"reagent stock", RouteNone, ""},
		{"hello", RouteNone, ""},
		{"", RouteNone, ""},
		{"write to me @ home", RouteNone, ""},
	}
	for _, tt := range tests {
		d := Decide(tt.text)
		if d.Route != tt.route || d.Worker != tt.worker {
			t.Errorf("Decide(%q) = %v %q, want %v %q", tt.text, d.Route, d.Worker, tt.route, tt.worker)
		}
		if tt.route == RouteNone && d.Reply != Menu {
			t.Errorf("Decide(%q).Reply = %q, want the menu", tt.text, d.Reply)
		}
	}
}

func TestReplies(t *testing.T) {
	if got := UnknownWorker("x@y.com"); !strings.Contains(got, "x@y.com") || !strings.Contains(got, Menu) {
		t.Errorf("UnknownWorker = %q, want the e-mail and the menu", got)
	}
}

// TestStillInLine: the place, and the unknown e-mail (quoted, bounded)
// when there is one; never the menu, which would ask the customer to
// choose again.
func TestStillInLine(t *testing.T) {
	long := strings.Repeat("x", 100) + "@example.com"
	for _, tt := range []struct {
		place   int
		unknown string
	}{{3, ""}, {1, "nobody@example.com"}, {2, long}} {
		got := StillInLine(tt.place, tt.unknown)
		if !strings.HasSuffix(got, InLine(tt.place, "", "", true)) || strings.Contains(got, Menu) {
			t.Errorf("StillInLine(%d, %q) = %q, want the place notice without the menu", tt.place, tt.unknown, got)
		}
		if tt.unknown != "" && !strings.Contains(got, quote(tt.unknown)) || len(got) > 300 {
			t.Errorf("StillInLine(%d, %q) = %q, want the e-mail, bounded", tt.place, tt.unknown, got)
		}
	}
}

// TestNamedReplies: every reply naming a worker names them by the name it
// is given, and with none says something whole that names nobody.
func TestNamedReplies(t *testing.T) {
	replies := map[string]func(name string) string{
		"Connecting":        Connecting,
		"ConnectingAgent":   ConnectingAgent,
		"ConnectingLast":    ConnectingLast,
		"ConnectingAdvisor": ConnectingAdvisor,
		"ConnectingExpert":  func(name string) string { return ConnectingExpert(name, "Watches") },
		"AdvisorAway":       AdvisorAway,
		"OfferLastWorker":   OfferLastWorker,
		"OfferAgain":        OfferAgain,
		"CouldNotConnect":   CouldNotConnect,
	}
	for fn, reply := range replies {
		t.Run(fn, func(t *testing.T) {
			if got := reply("Ann Lee"); !strings.Contains(got, "Ann Lee") {
				t.Errorf("%s(%q) = %q, without the name", fn, "Ann Lee", got)
			}
			neutral := strings.ReplaceAll(reply(""), Menu, "") // the menu's example address
			for _, bad := range []string{"@", "  ", " ,", " .", "%!", "()"} {
				if strings.Contains(neutral, bad) {
					t.Errorf("%s(\"\") = %q, holds %q", fn, neutral, bad)
				}
			}
			if neutral == reply("Ann Lee") {
				t.Errorf("%s ignores the name", fn)
			}
		})
	}
	for _, tt := range []struct {
		worker, want string
	}{
		{"Ann Lee", "Ann Lee is not available right now."},
		{NamedExpert, "The expert you asked for is not available right now."},
	} {
		if got := InLine(2, tt.worker, "", false); !strings.HasPrefix(got, tt.want) {
			t.Errorf("InLine(2, %q) = %q, want it to start %q", tt.worker, got, tt.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Ann Lee", "Ann Lee"},
		{"  Ann \t Lee \n", "Ann Lee"},
		{"", ""},
		{"   ", ""},
		{"ann@example.com", ""},             // a display name left as the identity
		{"Ann (ann@example.com)", ""},       // or holding it
		{"Ann\u202eeeL", "Ann eeL"},         // a bidi override
		{"Ann\x00\x1b[2JLee", "Ann [2JLee"}, // control characters
		{strings.Repeat("é", 70), strings.Repeat("é", 63) + "…"},
	}
	for _, tt := range tests {
		if got := SafeName(tt.in); got != tt.want {
			t.Errorf("SafeName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzDecide(f *testing.F) {
	for _, s := range []string{"AGENT", "a@b.co", "hello", "@@@.", "agent a@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := Decide(s)
		switch d.Route {
		case RouteWorker:
			if !strings.Contains(strings.ToLower(s), d.Worker) || !strings.Contains(d.Worker, "@") {
				t.Errorf("Decide(%q) routed to %q, not in the text", s, d.Worker)
			}
		case RouteNone:
			if d.Reply != Menu {
				t.Errorf("Decide(%q) gave no menu", s)
			}
		}
	})
}

// TestUnknownWorkerQuote: the reply repeats what the customer typed, but
// never more than maxQuoted characters of it.
func TestUnknownWorkerQuote(t *testing.T) {
	long := strings.Repeat("a", 1500) + "@example.com" // 1,512 characters
	tests := []struct {
		name, email, wantQuote string
	}{
		{"short", "zoe@example.com", "zoe@example.com"},
		{"exactly the bound", strings.Repeat("b", 52) + "@example.com", strings.Repeat("b", 52) + "@example.com"},
		{"one over", strings.Repeat("b", 53) + "@example.com", strings.Repeat("b", 53) + "@example.c…"},
		{"1,512 characters", long, long[:63] + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := UnknownWorker(tt.email)
			want := "Sorry, we could not find an expert with the email " + tt.wantQuote + ".\n\n" + Menu
			if got != want {
				t.Errorf("UnknownWorker = %q, want %q", got, want)
			}
			if n := utf8.RuneCountInString(tt.wantQuote); n > maxQuoted {
				t.Fatalf("test table: a quote of %d characters", n)
			}
		})
	}
}

func TestWantsContactCenter(t *testing.T) {
	kw := []string{"contact center", "support", "service client"}
	for _, tt := range []struct {
		text string
		want bool
	}{
		{"I want SUPPORT please", true},
		{"support!!", true},
		{"put me through to the Contact   Center", true},
		{"Service client, svp", true},
		{"supported devices?", false},
		{"contact me", false},
		{"support ann@example.com", false}, // a named expert wins
		{"support agent", false},           // so does "agent"
		{"", false},
	} {
		if got := WantsContactCenter(tt.text, kw); got != tt.want {
			t.Errorf("WantsContactCenter(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
	if WantsContactCenter("support", nil) {
		t.Error("no keywords: no contact center")
	}
}
