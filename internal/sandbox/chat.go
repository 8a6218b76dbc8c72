package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Chat lets a person be the customer in the sandbox: each line is a text
// to the company number; "/as <identity> <text>" answers as a worker,
// "/away <identity>" and "/back <identity>" change a worker's
// availability (to see advisor routing's offer, say), "/leave
// <identity>" has a worker leave the conversation, "/close" closes it
// (the next text starts a new one) and "/flex completed" (canceled,
// deleted) has the contact center end the handoff's task. After each line it prints what Frontline would show: the conversation's name,
// who is in it, and the new messages — and the Flex tasks made for this
// conversation, with their transcript, as the Flex agent sees them; an
// empty line only prints what is new (the queue may finish work after a
// text's webhooks answered).
func Chat(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("chat", flag.ContinueOnError)
	fs.SetOutput(stdout)
	from := fs.String("from", "", "the customer's number, e.g. +33679500001 or whatsapp:+5521989500003")
	to := fs.String("to", CompanyNumber, "the company number texted")
	base := fs.String("sandbox", "http://127.0.0.1:8081", "the sandbox printed by `go run ./cmd/experthub`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *from == "" {
		return fmt.Errorf("chat: --from is required")
	}
	c := chatClient{base: strings.TrimRight(*base, "/"), http: &http.Client{Timeout: 30 * time.Second}, out: stdout, tasks: map[string]bool{}}
	fmt.Fprintf(stdout, "You are %s texting %s. Type a message (\"support\" hands you to the Flex contact center); \"/as ann@example.com hi\" replies as a worker; \"/away ann@example.com\" and \"/back ann@example.com\" change her availability; \"/leave ann@example.com\" has her leave the conversation, \"/close\" closes it; \"/handoff 2\" has the Flex agent hand customer 2 to an expert; \"/flex completed\" (canceled, deleted) has the contact center end your handoff; Enter shows what is new; Ctrl-D ends.\n", *from, *to)
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			if err := c.show(ctx); err != nil {
				return err
			}
			continue
		}
		if handled, err := c.command(ctx, line); handled || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		var err error
		if rest, ok := strings.CutPrefix(line, "/as "); ok {
			identity, body, _ := strings.Cut(strings.TrimSpace(rest), " ")
			if c.conversation == "" {
				fmt.Fprintln(stdout, "(no conversation yet: text as the customer first)")
				continue
			}
			err = c.text(ctx, "/sandbox/worker-texts", textRequest{Conversation: c.conversation, Identity: identity, Body: body})
			if err != nil && ctx.Err() == nil {
				// A worker not (yet) in the conversation: say so, keep chatting.
				fmt.Fprintf(stdout, "(%s cannot write here: %v)\n", identity, err)
				continue
			}
		} else {
			err = c.text(ctx, "/sandbox/texts", textRequest{From: *from, To: *to, Body: line})
		}
		if err != nil {
			return err
		}
		if err := c.show(ctx); err != nil {
			return err
		}
	}
	return sc.Err()
}

// command runs a line that is one of the chat's commands but /as, and
// reports whether it was one.
func (c *chatClient) command(ctx context.Context, line string) (bool, error) {
	cmd, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch cmd {
	case "/handoff":
		// The Flex agent hands a customer (id or address) over.
		if err := c.handoff(ctx, arg); err != nil {
			return true, err
		}
	case "/flex":
		// The Flex agent ends the conversation's task.
		return true, c.endTask(ctx, arg)
	case "/away", "/back":
		c.setAvailable(ctx, arg, cmd == "/back")
		return true, nil
	case "/close", "/leave":
		c.lifecycle(ctx, cmd, arg)
	default:
		return false, nil
	}
	return true, c.show(ctx)
}

// lifecycle closes the conversation (/close), as its timer or a
// Frontline user would, or has a worker leave it (/leave identity).
func (c *chatClient) lifecycle(ctx context.Context, cmd, identity string) {
	if c.conversation == "" {
		fmt.Fprintln(c.out, "(no conversation yet: text as the customer first)")
		return
	}
	body, _ := json.Marshal(textRequest{Conversation: c.conversation, Identity: identity})
	var done textRequest
	if err := c.do(ctx, "POST", "/sandbox"+cmd, body, &done); err != nil {
		fmt.Fprintf(c.out, "(%s: %v)\n", strings.TrimPrefix(cmd, "/"), err)
		return
	}
	if cmd == "/leave" {
		fmt.Fprintf(c.out, "== %s left the conversation\n", identity)
		return
	}
	fmt.Fprintln(c.out, "== the conversation is closed: your next text starts a new one")
}

type chatClient struct {
	base         string
	http         *http.Client
	out          io.Writer
	conversation string
	name         string
	members      string
	shown        int             // messages printed so far
	tasks        map[string]bool // the conversation's Flex tasks printed so far
}

// handoff has the sandbox's Flex agent hand who over, and follows the
// conversation the handoff answers with.
func (c *chatClient) handoff(ctx context.Context, who string) error {
	body, _ := json.Marshal(handoffRequest{Customer: who})
	var res struct {
		Conversation string `json:"conversation_sid"`
		Status       string `json:"status"`
	}
	if err := c.do(ctx, "POST", "/sandbox/handoff", body, &res); err != nil {
		fmt.Fprintf(c.out, "(handoff refused: %v)\n", err)
		return nil
	}
	fmt.Fprintf(c.out, "== the Flex agent handed %s over: conversation %s (%s)\n", who, res.Conversation, res.Status)
	fmt.Fprintln(c.out, "== the agent's summary and messages are in the customer's details (Frontline's CRM callback), never sent to the customer")
	if res.Conversation != c.conversation {
		c.conversation, c.name, c.members, c.shown = res.Conversation, "", "", 0
	}
	return nil
}

// endTask has the Flex agent end the conversation's task (completed,
// canceled or deleted), then shows what the customer got.
func (c *chatClient) endTask(ctx context.Context, end string) error {
	if c.conversation == "" {
		fmt.Fprintln(c.out, "(no conversation yet: text as the customer first)")
		return nil
	}
	q := url.Values{"conversation": {c.conversation}, "end": {end}}
	var res map[string]string
	if err := c.do(ctx, "POST", "/sandbox/flex-tasks/end?"+q.Encode(), nil, &res); err != nil {
		fmt.Fprintf(c.out, "(%v)\n", err)
		return nil
	}
	fmt.Fprintf(c.out, "== the Flex task is %s: flex-events settles the conversation\n", end)
	return c.show(ctx)
}

func (c *chatClient) text(ctx context.Context, path string, req textRequest) error {
	body, _ := json.Marshal(req)
	var res textResult
	if err := c.do(ctx, "POST", path, body, &res); err != nil {
		return err
	}
	if res.Rejected {
		fmt.Fprintln(c.out, "(Twilio rejected the message: a pre-event webhook refused it)")
	}
	if res.Conversation != "" && res.Conversation != c.conversation {
		c.conversation, c.name, c.members, c.shown = res.Conversation, "", "", 0
	}
	return nil
}

// setAvailable moves a worker to Available or Offline and says so.
func (c *chatClient) setAvailable(ctx context.Context, identity string, available bool) {
	body, _ := json.Marshal(availabilityRequest{Identity: identity, Available: available})
	var got availabilityRequest
	if err := c.do(ctx, "POST", "/sandbox/availability", body, &got); err != nil {
		fmt.Fprintf(c.out, "(%s: %v)\n", identity, err)
		return
	}
	state := "away"
	if available {
		state = "available"
	}
	fmt.Fprintf(c.out, "(%s is %s)\n", identity, state)
}

func (c *chatClient) show(ctx context.Context) error {
	if c.conversation == "" {
		return nil
	}
	var st State
	if err := c.do(ctx, "GET", "/sandbox/conversations/"+c.conversation, nil, &st); err != nil {
		return err
	}
	if st.FriendlyName != c.name {
		c.name = st.FriendlyName
		fmt.Fprintf(c.out, "== conversation %q\n", st.FriendlyName)
	}
	var members []string
	for _, p := range st.Participants {
		if p.Identity != "" {
			members = append(members, "worker "+p.Identity)
		} else {
			members = append(members, "customer "+p.Attributes)
		}
	}
	if m := strings.Join(members, ", "); m != c.members {
		c.members = m
		fmt.Fprintf(c.out, "== participants: %s\n", m)
	}
	for _, m := range st.Messages[min(c.shown, len(st.Messages)):] {
		fmt.Fprintf(c.out, "[%d] %s: %s\n", m.Index, m.Author, strings.ReplaceAll(m.Body, "\n", "\n    "))
	}
	c.shown = len(st.Messages)
	var tasks []FlexTask
	if err := c.do(ctx, "GET", "/sandbox/flex-tasks?conversation="+url.QueryEscape(c.conversation), nil, &tasks); err == nil {
		for _, t := range tasks {
			if !c.tasks[t.SID] {
				fmt.Fprintln(c.out, describeTask(t))
				c.tasks[t.SID] = true
			}
		}
	}
	return nil
}

func (c *chatClient) do(ctx context.Context, method, path string, body []byte, v any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox not reachable (is `go run ./cmd/experthub` running?): %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("sandbox: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, v)
}
