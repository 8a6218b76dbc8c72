package app_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/app/apptest"
	"github.com/experthub/experthub/internal/bot"
	"github.com/experthub/experthub/internal/config"
)

// TestConversations plays whole conversations through the fake Twilio:
// each text goes through the signed pre-event, post-event and routing
// webhooks in Twilio's order.
func TestConversations(t *testing.T) {
	tests := []struct {
		name     string
		from     string
		texts    []string
		fallback string
		// workers of the pool queue: identity → available
		workers      map[string]bool
		wantName     string   // the conversation's friendly name
		want         []string // the transcript (apptest.Marked), customer as "C"
		wantWorkers  []string
		wantCustomer string // customer_id set on the participant; "" none
	}{
		{
			name:     "menu then e-mail",
			from:     maria,
			texts:    []string{"hi", "I'd like to talk to ANN@example.com please"},
			workers:  map[string]bool{"ann@example.com": true, "bob@example.com": true},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: hi",
				"system: " + bot.Menu,
				"C: I'd like to talk to ANN@example.com please",
				apptest.Connect("ann@example.com"),
			},
			wantWorkers:  []string{"ann@example.com"},
			wantCustomer: "1",
		},
		{
			// A named worker who is away is waited for: the customer is
			// told their place, nobody is added until ann is back.
			name:     "named worker away",
			from:     maria,
			texts:    []string{"ann@example.com"},
			workers:  map[string]bool{"ann@example.com": false, "bob@example.com": true},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: ann@example.com",
				"system: " + bot.InLine(1, "ann@example.com", "", false),
			},
			wantCustomer: "1",
		},
		{
			name:     "canonical identity is the worker's friendly name",
			from:     joAnne,
			texts:    []string{"dan@example.com"},
			workers:  map[string]bool{"Dan@Example.com": true},
			wantName: "Jo Anne",
			want: []string{
				"system: " + welcome,
				"C: dan@example.com",
				apptest.Connect("Dan@Example.com"),
			},
			wantWorkers:  []string{"Dan@Example.com"},
			wantCustomer: "2",
		},
		{
			name:     "AGENT",
			from:     maria,
			texts:    []string{"AGENT"},
			workers:  map[string]bool{"ann@example.com": true, "bob@example.com": true, "off@example.com": false},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: AGENT",
				apptest.Connect("ann@example.com"),
			},
			wantWorkers:  []string{"ann@example.com"},
			wantCustomer: "1",
		},
		{
			name:     "agent in lower case, in a sentence",
			from:     susan,
			texts:    []string{"can I get an agent?"},
			workers:  map[string]bool{"bob@example.com": true},
			wantName: "Susan Smith",
			want: []string{
				"system: " + welcome,
				"C: can I get an agent?",
				apptest.Connect("bob@example.com"),
			},
			wantWorkers:  []string{"bob@example.com"},
			wantCustomer: "3",
		},
		{
			name:     "unknown e-mail",
			from:     maria,
			texts:    []string{"zoe@example.com"},
			workers:  map[string]bool{"ann@example.com": true},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: zoe@example.com",
				"system: " + bot.UnknownWorker("zoe@example.com"),
			},
			wantCustomer: "1",
		},
		{
			name:     "nobody available",
			from:     maria,
			texts:    []string{"AGENT"},
			workers:  map[string]bool{"ann@example.com": false},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: AGENT",
				"system: " + bot.InLine(1, "", "", false),
			},
			wantCustomer: "1",
		},
		{
			name:     "nobody available, fallback worker",
			from:     maria,
			texts:    []string{"AGENT"},
			fallback: "ann@example.com",
			workers:  map[string]bool{"ann@example.com": false},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: AGENT",
				apptest.Connect("ann@example.com"),
			},
			wantWorkers:  []string{"ann@example.com"},
			wantCustomer: "1",
		},
		{
			name:     "fallback that is not a worker is never added",
			from:     maria,
			texts:    []string{"AGENT"},
			fallback: "ghost@example.com",
			workers:  map[string]bool{"ann@example.com": false},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: AGENT",
				"system: " + bot.InLine(1, "", "", false),
			},
			wantCustomer: "1",
		},
		{
			name:     "customer not in the CRM",
			from:     stranger,
			texts:    []string{"hello", "bob@example.com"},
			workers:  map[string]bool{"bob@example.com": true},
			wantName: "+*********23",
			want: []string{
				"system: " + welcome,
				"C: hello",
				"system: " + bot.Menu,
				"C: bob@example.com",
				apptest.Connect("bob@example.com"),
			},
			wantWorkers: []string{"bob@example.com"},
		},
		{
			name:     "bot is silent once a worker is in",
			from:     maria,
			texts:    []string{"ann@example.com", "thanks", "AGENT", "bob@example.com"},
			workers:  map[string]bool{"ann@example.com": true, "bob@example.com": true},
			wantName: "Maria Sanchez",
			want: []string{
				"system: " + welcome,
				"C: ann@example.com",
				apptest.Connect("ann@example.com"),
				"C: thanks",
				"C: AGENT",
				"C: bob@example.com",
			},
			wantWorkers:  []string{"ann@example.com"},
			wantCustomer: "1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, apptest.Options{Env: config.Env{"FALLBACK_WORKER": tt.fallback}})
			for _, id := range sortedKeys(tt.workers) {
				e.Twilio.AddWorker(id, tt.workers[id], nil, e.Twilio.QueueSID())
			}
			var conv string
			for _, text := range tt.texts {
				conv = e.text(tt.from, text).ConversationSID
			}
			got := e.Marked(conv)
			for i := range got {
				got[i] = strings.Replace(got[i], tt.from+": ", "C: ", 1)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("transcript:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if w := e.Workers(conv); !slices.Equal(w, tt.wantWorkers) {
				t.Errorf("workers in the conversation = %v, want %v", w, tt.wantWorkers)
			}
			c, _ := e.Twilio.Conversation(conv)
			if c.FriendlyName != tt.wantName {
				t.Errorf("friendly name = %q, want %q", c.FriendlyName, tt.wantName)
			}
			var attrs map[string]string
			_ = json.Unmarshal([]byte(e.customer(conv).Attributes), &attrs)
			if attrs["customer_id"] != tt.wantCustomer {
				t.Errorf("customer participant attributes = %s, want customer_id %q", e.customer(conv).Attributes, tt.wantCustomer)
			}
			if tt.wantCustomer != "" && (attrs["display_name"] != tt.wantName || !strings.HasPrefix(attrs["avatar"], "https://")) {
				t.Errorf("customer participant attributes = %s, want display_name and avatar", e.customer(conv).Attributes)
			}
			var convAttrs map[string]string
			_ = json.Unmarshal([]byte(c.Attributes), &convAttrs)
			if (tt.wantCustomer != "") != strings.HasPrefix(convAttrs["avatar"], "https://") {
				t.Errorf("conversation attributes = %s", c.Attributes)
			}
			if rj := e.Twilio.Rejections(); len(rj) > 0 {
				t.Errorf("actions rejected: %+v", rj)
			}
			e.checkRepliesFollow(conv)
			e.checkNoWebhookLoops()
			if strings.Contains(e.Logs.String(), strings.TrimPrefix(tt.from, "whatsapp:")) {
				t.Errorf("the customer's number is in the logs unmasked")
			}
		})
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
