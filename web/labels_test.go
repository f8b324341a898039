package web

import (
	"testing"

	"lindungi/tickets"
)

// Every category and status the tickets package knows has an Indonesian
// label in the console (a missing one would show the English key).
func TestLabelsCoverTicketsVocabulary(t *testing.T) {
	for _, k := range append(append([]string{}, tickets.Categories...), tickets.Statuses...) {
		if _, ok := labels[k]; !ok {
			t.Errorf("no console label for %q", k)
		}
	}
}
