package conversation

import (
	"slices"
	"testing"
)

func TestMark(t *testing.T) {
	tests := []struct {
		attrs string
		want  mark
		ok    bool
	}{
		{mark{InReplyTo: "IM1"}.String(), mark{InReplyTo: "IM1"}, true},
		{mark{InReplyTo: "IM1", Connect: "ann@example.com"}.String(), mark{InReplyTo: "IM1", Connect: "ann@example.com"}, true},
		{mark{InReplyTo: "CH1", Correction: true}.String(), mark{InReplyTo: "CH1", Correction: true}, true},
		{`{"in_reply_to":"IM1","other":1}`, mark{InReplyTo: "IM1"}, true},
		{"{}", mark{}, false},
		{"not json", mark{}, false},
		{`{"in_reply_to":7}`, mark{}, false},
	}
	for _, tt := range tests {
		got, ok := readMark(tt.attrs)
		if got != tt.want || ok != tt.ok {
			t.Errorf("readMark(%s) = %+v, %v; want %+v, %v", tt.attrs, got, ok, tt.want, tt.ok)
		}
	}
}

// conversationOf builds a history: a customer (MB1, +33679500001), and
// messages written as "c:IMx:body" (customer), "s:IMx→IMy" (the bot's
// answer to IMy, "s:IMx→IMy@worker" promising worker, "s:IMx→IMy!" a
// correction) or "w:IMx" (a worker).
func conversationOf(workers []string, msgs ...[4]string) history {
	h := history{participants: []Participant{{SID: "MB1", Address: "+33679500001"}}}
	for i, w := range workers {
		h.participants = append(h.participants, Participant{SID: "MB" + string(rune('2'+i)), Identity: w})
	}
	for _, m := range msgs {
		msg := Message{SID: m[1]}
		switch m[0] {
		case "c":
			msg.Author, msg.ParticipantSID, msg.Body = "+33679500001", "MB1", m[2]
		case "s":
			msg.Author = systemAuthor
			msg.Attributes = mark{InReplyTo: m[2], Connect: m[3], Correction: m[3] == "!"}.String()
		case "w":
			msg.Author, msg.ParticipantSID = "ann@example.com", "MB9"
		}
		h.messages = append(h.messages, msg)
	}
	return h
}

func TestPending(t *testing.T) {
	tests := []struct {
		name   string
		h      history
		target string
		want   []string
	}{
		{"first message", conversationOf(nil, [4]string{"c", "IM0", "hi"}), "IM0", []string{"IM0"}},
		{"after the welcome", conversationOf(nil, [4]string{"s", "IM0", "CH1"}, [4]string{"c", "IM1", "hi"}), "IM1", []string{"IM1"}},
		{"already answered", conversationOf(nil, [4]string{"c", "IM0", "hi"}, [4]string{"s", "IM1", "IM0"}), "IM0", nil},
		{"an earlier message waits", conversationOf(nil,
			[4]string{"c", "IM0", "hi"}, [4]string{"s", "IM1", "IM0"}, [4]string{"c", "IM2", "agent"}, [4]string{"c", "IM3", "hello"}),
			"IM3", []string{"IM2", "IM3"}},
		{"the earlier one was answered after", conversationOf(nil,
			[4]string{"c", "IM0", "a"}, [4]string{"c", "IM1", "b"}, [4]string{"s", "IM2", "IM0"}), "IM1", []string{"IM1"}},
		{"a later message is not this one's business", conversationOf(nil,
			[4]string{"c", "IM0", "a"}, [4]string{"c", "IM1", "b"}), "IM0", []string{"IM0"}},
		{"not in the window", conversationOf(nil, [4]string{"c", "IM0", "hi"}), "IM9", nil},
		{"a worker spoke before", conversationOf(nil, [4]string{"c", "IM0", "a"}, [4]string{"w", "IM1", ""}, [4]string{"c", "IM2", "b"}),
			"IM2", []string{"IM2"}},
	}
	for _, tt := range tests {
		var got []string
		for _, m := range tt.h.pending(tt.target) {
			got = append(got, m.SID)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: pending = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPromise(t *testing.T) {
	tests := []struct {
		name string
		h    history
		want string
	}{
		{"none", conversationOf(nil, [4]string{"c", "IM0", "agent"}), ""},
		{"a plain answer", conversationOf(nil, [4]string{"c", "IM0", "hi"}, [4]string{"s", "IM1", "IM0"}), ""},
		{"promised", conversationOf(nil, [4]string{"c", "IM0", "agent"}, [4]string{"s", "IM1", "IM0", "bob@example.com"}), "bob@example.com"},
		{"taken back", conversationOf(nil, [4]string{"c", "IM0", "agent"}, [4]string{"s", "IM1", "IM0", "bob@example.com"},
			[4]string{"s", "IM2", "IM0", "!"}), ""},
	}
	for _, tt := range tests {
		got, ok := tt.h.promise("IM0")
		if got != tt.want || ok != (tt.want != "") {
			t.Errorf("%s: promise = %q, %v; want %q", tt.name, got, ok, tt.want)
		}
	}
}

func TestOpenPromise(t *testing.T) {
	tests := []struct {
		name              string
		h                 history
		wantSID, wantWork string
	}{
		{"no promise", conversationOf(nil, [4]string{"c", "IM1", "hi"}, [4]string{"s", "IM2", "IM1"}), "", ""},
		{"promise not kept", conversationOf(nil,
			[4]string{"c", "IM1", "AGENT"}, [4]string{"s", "IM2", "IM1", "ann@example.com"}, [4]string{"c", "IM3", "hello?"}),
			"IM1", "ann@example.com"},
		{"worker in", conversationOf([]string{"ann@example.com"},
			[4]string{"c", "IM1", "AGENT"}, [4]string{"s", "IM2", "IM1", "ann@example.com"}), "", ""},
		{"taken back", conversationOf(nil,
			[4]string{"c", "IM1", "AGENT"}, [4]string{"s", "IM2", "IM1", "ann@example.com"}, [4]string{"s", "IM3", "IM1", "!"}), "", ""},
		{"a worker wrote since: kept, then left", conversationOf(nil,
			[4]string{"c", "IM1", "AGENT"}, [4]string{"s", "IM2", "IM1", "ann@example.com"}, [4]string{"w", "IM3"}, [4]string{"c", "IM4", "hi"}),
			"", ""},
		{"the newest of two", conversationOf(nil,
			[4]string{"c", "IM1", "AGENT"}, [4]string{"s", "IM2", "IM1", "ann@example.com"}, [4]string{"s", "IM3", "IM1", "!"},
			[4]string{"c", "IM4", "AGENT"}, [4]string{"s", "IM5", "IM4", "bob@example.com"}),
			"IM4", "bob@example.com"},
	}
	for _, tt := range tests {
		sid, worker, ok := tt.h.openPromise()
		if sid != tt.wantSID || worker != tt.wantWork || ok != (tt.wantWork != "") {
			t.Errorf("%s: openPromise() = %q, %q, %v; want %q, %q", tt.name, sid, worker, ok, tt.wantSID, tt.wantWork)
		}
	}
}
