package web

import (
	"testing"

	"lindungi/tickets"
)

// Every category, status and flag the tickets package knows has an
// Indonesian label in the console (a missing one would show the English
// key).
func TestLabelsCoverTicketsVocabulary(t *testing.T) {
	keys := append(append([]string{}, tickets.Categories...), tickets.Statuses...)
	for _, k := range append(keys, tickets.Flags...) {
		if _, ok := labels[k]; !ok {
			t.Errorf("no console label for %q", k)
		}
	}
}
