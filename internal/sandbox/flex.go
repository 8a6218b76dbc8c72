package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

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

func (sb *Sandbox) flexTasks(w http.ResponseWriter, _ *http.Request) {
	out := []FlexTask{}
	for _, t := range sb.Flex.Tasks() {
		out = append(out, FlexTask{SID: t.SID, Status: t.AssignmentStatus, Attributes: t.Attributes})
	}
	httpjson.Write(w, http.StatusOK, out)
}

// describeTask is one line for the chat: who the task is about and the
// transcript's size.
func describeTask(t FlexTask) string {
	var a struct {
		Customer struct {
			Name, Address string
		}
		Transcript string
	}
	_ = json.Unmarshal([]byte(t.Attributes), &a)
	who := a.Customer.Name
	if who == "" {
		who = a.Customer.Address
	}
	return fmt.Sprintf("== Flex task %s (%s) for %s, %d characters of transcript: %s sees it in Flex", t.SID, t.Status, who, len(a.Transcript), FlexAgent)
}
