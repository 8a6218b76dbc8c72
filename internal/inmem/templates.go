package inmem

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// Templates keeps message templates in memory. It is safe for concurrent
// use.
type Templates struct {
	mu    sync.RWMutex
	byID  map[string]crm.Template
	state checkpoint
}

var _ crm.TemplateStore = (*Templates)(nil)

var errEmptyTemplateID = errors.New("put templates: template without id")

// NewTemplates returns an empty template store.
func NewTemplates() *Templates { return &Templates{byID: map[string]crm.Template{}} }

// Templates returns every template, sorted by crm.SortTemplates.
func (s *Templates) Templates(context.Context) ([]crm.Template, error) {
	s.mu.RLock()
	out := make([]crm.Template, 0, len(s.byID))
	for _, t := range s.byID {
		out = append(out, t)
	}
	s.mu.RUnlock()
	crm.SortTemplates(out)
	return out, nil
}

// PutTemplates stores templates, replacing any with the same id.
func (s *Templates) PutTemplates(_ context.Context, ts ...crm.Template) error {
	for _, t := range ts {
		if t.ID == "" {
			return errEmptyTemplateID
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range ts {
		s.byID[t.ID] = t
	}
	return nil
}

// DeleteTemplates removes templates; unknown ids are ignored.
func (s *Templates) DeleteTemplates(_ context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		delete(s.byID, id)
	}
	return nil
}

// DeleteTemplatesSyncedBefore removes the templates stamped before t.
func (s *Templates) DeleteTemplatesSyncedBefore(_ context.Context, t time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, tp := range s.byID {
		if tp.SyncedAt.Before(t) {
			delete(s.byID, id)
			n++
		}
	}
	return n, nil
}

// TemplateSyncState returns the checkpoint of the templates' full sync.
func (s *Templates) TemplateSyncState(context.Context) (crm.SyncState, error) {
	return s.state.get(), nil
}

// PutTemplateSyncState stores the checkpoint.
func (s *Templates) PutTemplateSyncState(_ context.Context, st crm.SyncState) error {
	s.state.put(st)
	return nil
}
