package fsstore

import (
	"testing"

	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/handoff"
	"github.com/experthub/experthub/internal/handoff/handofftest"
)

func TestHandoffBindings(t *testing.T) {
	handofftest.TestBindings(t, func(t *testing.T) handoff.Bindings { return NewHandoffs(firestoretest.Client(t)) })
}

func TestHandoffNotes(t *testing.T) {
	handofftest.TestNotes(t, func(t *testing.T) handoff.Notes { return NewHandoffs(firestoretest.Client(t)) })
}

func TestOpenHandoffs(t *testing.T) {
	handofftest.TestOpenHandoffs(t, func(t *testing.T) handoff.OpenHandoffs { return NewHandoffs(firestoretest.Client(t)) })
}
