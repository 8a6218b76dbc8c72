package fsstore

import (
	"testing"

	"github.com/experthub/experthub/internal/assign/assigntest"
	"github.com/experthub/experthub/internal/firestoretest"
	"github.com/experthub/experthub/internal/ledger/ledgertest"
)

func TestAssignments(t *testing.T) {
	assigntest.TestStore(t, func(t *testing.T) assigntest.Store {
		return NewAssignments(firestoretest.Client(t))
	})
}

func TestLedger(t *testing.T) {
	ledgertest.TestStore(t, func(t *testing.T) ledgertest.Store {
		return NewLedger(firestoretest.Client(t))
	})
}
