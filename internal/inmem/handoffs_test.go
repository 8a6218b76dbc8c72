package inmem_test

import (
	"testing"

	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/handoff/handofftest"
	"github.com/experthub/experthub/internal/inmem"
)

func TestHandoffBindings(t *testing.T) {
	handofftest.TestBindings(t, func(*testing.T) handoff.Bindings { return inmem.NewHandoffs() })
}

func TestHandoffNotes(t *testing.T) {
	handofftest.TestNotes(t, func(*testing.T) handoff.Notes { return inmem.NewHandoffs() })
}

func TestOpenHandoffs(t *testing.T) {
	handofftest.TestOpenHandoffs(t, func(*testing.T) handoff.OpenHandoffs { return inmem.NewHandoffs() })
}
