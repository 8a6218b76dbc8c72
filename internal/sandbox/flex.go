package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/experthub/experthub/internal/flexauth"
	"github.com/experthub/experthub/internal/httpjson"
)

// handoffRequest is the chat's "/handoff <customer>": the sandbox plays
// the Flex agent handing the customer over.
type handoffRequest struct {
	Customer string `json:"customer"` // a CRM customer id or an address
}

// handoff plays the Flex side of a handover: the agent's conversation
// with the customer in the Flex account, then the plugin's backend
// calling the handoff function with the bearer secret.
func (sb *Sandbox) handoff(w http.ResponseWriter, r *http.Request) {
	var req handoffRequest
	if !decode(w, r, &req) {
		return
	}
	if req.Customer == "" {
		http.Error(w, "customer is required", http.StatusBadRequest)
		return
	}
	byAddress := req.Customer[0] == '+' || strings.HasPrefix(req.Customer, "whatsapp:")
	author := "customer"
	if byAddress {
		author = req.Customer
	}
	conv := sb.Flex.AddConversation("Flex: "+req.Customer, "")
	sb.Flex.AddMessage(conv, author, "My watch needs a repair, can someone in the shop look at it?")
	sb.Flex.AddMessage(conv, FlexAgent, "Of course, I am transferring you to one of our onsite experts.")
	form := url.Values{
		"handoff_id":            {fmt.Sprintf("sandbox-%d", time.Now().UnixNano())},
		"summary":               {"Watch repair, customer prefers to come to the shop."},
		"flex_conversation_sid": {conv},
		"message_count":         {"2"},
	}
	if byAddress {
		form.Set("address", req.Customer)
	} else {
		form.Set("customer_id", req.Customer)
	}
	call, err := http.NewRequestWithContext(r.Context(), http.MethodPost, sb.handoffURL, bytes.NewReader([]byte(form.Encode())))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	call.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	call.Header.Set("Authorization", "Bearer "+sb.handoffSecret)
	resp, err := http.DefaultClient.Do(call)
	if err != nil {
		http.Error(w, "calling handoff: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// FlexTask is a task of the sandbox's Flex workspace, as the agent sees it.
type FlexTask struct {
	SID        string `json:"sid"`
	Status     string `json:"status"`
	Attributes string `json:"attributes"`
}

// flexTasks lists the Flex workspace's tasks; with ?conversation=CH…,
// only those about that Frontline conversation (a chat shows its own
// customer's, not every customer's since the sandbox started).
func (sb *Sandbox) flexTasks(w http.ResponseWriter, r *http.Request) {
	conv := r.URL.Query().Get("conversation")
	out := []FlexTask{}
	for _, t := range sb.Flex.Tasks() {
		if conv != "" && taskConversation(t.Attributes) != conv {
			continue
		}
		out = append(out, FlexTask{SID: t.SID, Status: t.AssignmentStatus, Attributes: t.Attributes})
	}
	httpjson.Write(w, http.StatusOK, out)
}

// taskAttributes are the parts of a Flex task's attributes the chat
// shows (set by the bot's contact-center route).
type taskAttributes struct {
	Customer struct {
		Name, Address string
	}
	Conversation string `json:"frontline_conversation_sid"`
	Transcript   string
}

func taskConversation(attributes string) string {
	var a taskAttributes
	_ = json.Unmarshal([]byte(attributes), &a)
	return a.Conversation
}

// describeTask is what the Flex agent sees of a task: who it is about,
// then the transcript it carries, indented.
func describeTask(t FlexTask) string {
	var a taskAttributes
	_ = json.Unmarshal([]byte(t.Attributes), &a)
	who := a.Customer.Name
	if who == "" {
		who = a.Customer.Address
	}
	var b strings.Builder
	fmt.Fprintf(&b, "== Flex task %s (%s) for %s: %s sees it in Flex, with the transcript:", t.SID, t.Status, who, FlexAgent)
	for line := range strings.SplitSeq(a.Transcript, "\n") {
		b.WriteString("\n    | " + line)
	}
	return b.String()
}

// flexTokenAnswer is the agent's token, as the Flex UI holds it.
type flexTokenAnswer struct {
	Token    string `json:"token"`
	Identity string `json:"identity"`
}

// flexToken hands out the token of the sandbox's Flex agent, which the
// Flex plugin sends to handoff and experts (FLEX_UI_ORIGINS). A page
// served on this machine may read it (CORS): the sandbox is local, its
// token worth nothing elsewhere.
func (sb *Sandbox) flexToken(w http.ResponseWriter, r *http.Request) {
	if origin := r.Header.Get("Origin"); flexauth.Origins(localOrigins).Allows(origin) {
		w.Header().Set("Access-Control-Allow-Origin", origin)
	}
	w.Header().Add("Vary", "Origin")
	httpjson.Write(w, http.StatusOK, flexTokenAnswer{Token: sb.agentToken, Identity: FlexAgent})
}

// endTask is the chat's "/flex completed|canceled|deleted": the Flex
// agent (or TaskRouter) ends the conversation's latest task; the fake
// posts the task's events to flex-events, as the Flex workspace does.
func (sb *Sandbox) endTask(w http.ResponseWriter, r *http.Request) {
	conv, end := r.URL.Query().Get("conversation"), r.URL.Query().Get("end")
	var sid string
	for _, t := range sb.Flex.Tasks() {
		if taskConversation(t.Attributes) == conv {
			sid = t.SID
		}
	}
	if sid == "" {
		httpjson.Error(w, http.StatusNotFound, "no Flex task for this conversation: write \"support\" first")
		return
	}
	switch end {
	case "completed":
		// An agent accepts, wraps up, then completes it.
		for _, s := range []string{"assigned", "wrapping", "completed"} {
			sb.Flex.SetTaskStatus(sid, s, "")
		}
	case "canceled":
		sb.Flex.SetTaskStatus(sid, "canceled", "canceled in the sandbox")
	case "deleted":
		sb.Flex.DeleteTask(sid)
	default:
		httpjson.Error(w, http.StatusBadRequest, "end must be completed, canceled or deleted")
		return
	}
	sb.awaitSettled(r.Context(), conv)
	httpjson.Write(w, http.StatusOK, map[string]string{"sid": sid, "end": end})
}

// awaitSettled waits, up to settleWait, until the conversation is no
// longer handed to Flex (closed, or its mark cleared): flex-events
// queues its work, and the chat shows the outcome next.
func (sb *Sandbox) awaitSettled(ctx context.Context, conv string) {
	ctx, cancel := context.WithTimeout(ctx, settleWait)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, ok := sb.Fake.Conversation(conv)
		if !ok || c.State == "closed" || !strings.Contains(c.Attributes, `"to":"flex"`) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// settleWait bounds how long the chat's "/flex" waits for flex-events.
const settleWait = 5 * time.Second
