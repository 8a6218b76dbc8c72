package firestoretest

import (
	"strings"
	"testing"

	"cloud.google.com/go/firestore"
)

func TestMain(m *testing.M) { Main(m) }

func TestClientProjectsAreIsolated(t *testing.T) {
	ctx := t.Context()
	a, b := Client(t), Client(t)
	if _, err := a.Collection("c").Doc("d").Set(ctx, map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Collection("c").Doc("d").Get(ctx); err != nil {
		t.Fatalf("own write: %v", err)
	}
	if snap, err := b.Collection("c").Doc("d").Get(ctx); err == nil || snap.Exists() {
		t.Error("a document written through one client is visible through another")
	}
}

func TestClientsShareAProject(t *testing.T) {
	ctx := t.Context()
	cs := Clients(t, 3)
	if _, err := cs[0].Collection("c").Doc("d").Set(ctx, map[string]any{"v": 1}); err != nil {
		t.Fatal(err)
	}
	for i, c := range cs[1:] {
		if _, err := c.Collection("c").Doc("d").Get(ctx); err != nil {
			t.Errorf("client %d does not see the document client 0 wrote: %v", i+1, err)
		}
	}
	if snap, err := Client(t).Collection("c").Doc("d").Get(ctx); err == nil || snap.Exists() {
		t.Error("a document written through Clients is visible to another test's client")
	}
}

func TestClientCleanupClearsProject(t *testing.T) {
	var path string
	t.Run("writer", func(t *testing.T) {
		c := Client(t)
		ref := c.Collection("c").Doc("d")
		if _, err := ref.Set(t.Context(), map[string]any{"v": 1}); err != nil {
			t.Fatal(err)
		}
		path = ref.Path
	})
	// path is projects/<project>/databases/(default)/documents/c/d.
	project := strings.Split(path, "/")[1]
	c, err := firestore.NewClient(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if snap, err := c.Collection("c").Doc("d").Get(t.Context()); err == nil || snap.Exists() {
		t.Errorf("project %s still holds its data after the test", project)
	}
}

func TestTail(t *testing.T) {
	b := &tail{max: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		b.Write([]byte(s))
	}
	if got := b.String(); got != "defgh" {
		t.Errorf("tail = %q, want %q", got, "defgh")
	}
}
