package taskqueue_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/experthub/experthub/internal/taskqueue"
)

func TestTaskID(t *testing.T) {
	long := strings.Repeat("x", 600)
	tests := []struct {
		parts []string
		want  string
	}{
		{[]string{"turn", "IM0123456789abcdef0123456789abcdef"}, "turn-IM0123456789abcdef0123456789abcdef"},
		{[]string{"welcome", "CH00", "MB11"}, "welcome-CH00-MB11"},
		{[]string{"a-b", "c"}, "a_2Db-c"},
		{[]string{"a", "b-c"}, "a-b_2Dc"},
		{[]string{"a_b"}, "a_5Fb"},
		{[]string{"enrich", "+33612345678"}, "enrich-_2B33612345678"},
		{[]string{"é"}, "_C3_A9"},
		{[]string{"", "x"}, "-x"},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := taskqueue.TaskID(tt.parts...); got != tt.want {
			t.Errorf("TaskID(%q) = %q, want %q", tt.parts, got, tt.want)
		}
	}

	// Distinct parts give distinct IDs, all valid, hashed beyond 500.
	inputs := [][]string{
		{"a-b", "c"}, {"a", "b-c"}, {"a_2Db", "c"}, {"a-b-c"}, {"a", "b", "c"},
		{long}, {long + "y"}, {long, "y"}, {"x", long[1:]},
		{strings.Repeat("_", 200)}, {strings.Repeat("/", 170)},
	}
	seen := map[string][]string{}
	for _, parts := range inputs {
		id := taskqueue.TaskID(parts...)
		if other, dup := seen[id]; dup {
			t.Errorf("TaskID(%q) = TaskID(%q) = %q", parts, other, id)
		}
		seen[id] = parts
		if err := (taskqueue.Task{Name: id}).Validate(); err != nil {
			t.Errorf("TaskID(%.20q…) is invalid: %v", parts, err)
		}
		if len(id) > taskqueue.MaxNameLen {
			t.Errorf("TaskID(%.20q…) has %d characters", parts, len(id))
		}
		if id != taskqueue.TaskID(parts...) {
			t.Errorf("TaskID(%.20q…) is not deterministic", parts)
		}
	}
	if h := taskqueue.TaskID(long); !strings.HasPrefix(h, "xxxx") || !strings.Contains(h, "__") || len(h) != taskqueue.MaxNameLen {
		t.Errorf("hashed ID %q: want the start kept, \"__\", a hash, 500 characters", h)
	}
}

func TestTaskValidate(t *testing.T) {
	tests := []struct {
		name string
		task taskqueue.Task
		ok   bool
	}{
		{"valid", taskqueue.Task{Name: "turn-IM1_x", Body: []byte(`{}`)}, true},
		{"no name", taskqueue.Task{Body: []byte(`{}`)}, false},
		{"slash", taskqueue.Task{Name: "a/b"}, false},
		{"dot", taskqueue.Task{Name: "a.b"}, false},
		{"space", taskqueue.Task{Name: "a b"}, false},
		{"500 chars", taskqueue.Task{Name: strings.Repeat("a", 500)}, true},
		{"501 chars", taskqueue.Task{Name: strings.Repeat("a", 501)}, false},
		{"largest body", taskqueue.Task{Name: "a", Body: make([]byte, taskqueue.MaxBodyLen)}, true},
		{"body too large", taskqueue.Task{Name: "a", Body: make([]byte, taskqueue.MaxBodyLen+1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.task.Validate()
			if tt.ok && err != nil {
				t.Errorf("Validate: %v", err)
			}
			if !tt.ok && !errors.Is(err, taskqueue.ErrInvalidTask) {
				t.Errorf("Validate: %v, want ErrInvalidTask", err)
			}
		})
	}
}
