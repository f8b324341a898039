package bot_test

import (
	"slices"
	"sort"
	"testing"

	"lindungi/bot/catalog"
	"lindungi/bot/conversation"
	"lindungi/bot/intent"
	"lindungi/tickets"
)

// tickets owns the categories and statuses; the pure packages under bot
// write them out (they stay free of the database), so this test is what
// keeps every copy the same.
func TestVocabularyAgreesWithTickets(t *testing.T) {
	if !slices.Equal(conversation.Categories, tickets.Categories) {
		t.Errorf("conversation.Categories %v, tickets.Categories %v", conversation.Categories, tickets.Categories)
	}
	var flows []string
	for c := range conversation.Flows {
		flows = append(flows, c)
	}
	sort.Strings(flows)
	cats := slices.Clone(tickets.Categories)
	sort.Strings(cats)
	if !slices.Equal(flows, cats) {
		t.Errorf("conversation.Flows has flows for %v, tickets has categories %v", flows, cats)
	}
	for _, c := range tickets.Categories {
		for _, lang := range []string{"id", "en"} {
			if !catalog.Has(lang, "category_"+c) {
				t.Errorf("catalog %s has no text category_%s", lang, c)
			}
		}
		// Every category but "other" is what the intent matcher answers
		// for a complaint of that kind.
		if c != tickets.Other && !slices.Contains(intent.Names, c) {
			t.Errorf("category %s is no intent", c)
		}
	}
	for _, st := range []struct{ engine, owner string }{
		{conversation.StatusOpen, tickets.Open},
		{conversation.StatusResolved, tickets.Resolved},
		{conversation.StatusClosed, tickets.Closed},
	} {
		if st.engine != st.owner {
			t.Errorf("the engine's status %q is %q in tickets", st.engine, st.owner)
		}
	}
}
