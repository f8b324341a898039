package tickets_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tickets"
)

// TestInboxViews builds one ticket of each queue state and checks which
// views and sort orders show which, and that paging the SLA order walks
// every ticket once.
func TestInboxViews(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ts := tickets.NewStore(db, storetest.Sealer(t), tickets.Config{SLA: time.Hour})
		now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
		clock := now.Add(-3 * time.Hour)
		ts.Now = func() time.Time { return clock }
		old := newTicket(t, db, ts, "+628100", "lama, belum dijawab", nil) // created 3 h ago: breaching
		clock = now.Add(-2 * time.Hour)
		answered := newTicket(t, db, ts, "+628101", "sudah dijawab", nil)
		clock = now.Add(-90 * time.Minute)
		mine := newTicket(t, db, ts, "+628102", "punya sari", nil)
		clock = now.Add(-10 * time.Minute)
		fresh := newTicket(t, db, ts, "+628103", "baru", nil)
		clock = now
		sari, pending := "sari", tickets.Pending
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := ts.MarkFirstResponse(ctx, tx, answered.ID); err != nil {
				return err
			}
			if _, err := ts.Update(ctx, tx, answered, tickets.Patch{Status: &pending}); err != nil {
				return err
			}
			_, err := ts.Update(ctx, tx, mine, tickets.Patch{Assignee: &sari})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			f    tickets.Filter
			want []tickets.Ticket
		}{
			{"all newest first", tickets.Filter{View: tickets.ViewAll}, []tickets.Ticket{fresh, mine, answered, old}},
			{"unassigned", tickets.Filter{View: tickets.ViewUnassigned}, []tickets.Ticket{fresh, answered, old}},
			{"mine", tickets.Filter{View: tickets.ViewMine, Me: "sari"}, []tickets.Ticket{mine}},
			{"mine of another", tickets.Filter{View: tickets.ViewMine, Me: "joko"}, nil},
			{"waiting for citizen", tickets.Filter{View: tickets.ViewWaiting}, []tickets.Ticket{answered}},
			{"breaching", tickets.Filter{View: tickets.ViewBreaching}, []tickets.Ticket{mine, old}},
			{"oldest first", tickets.Filter{Sort: tickets.SortOldest}, []tickets.Ticket{old, answered, mine, fresh}},
			{"sla order", tickets.Filter{Sort: tickets.SortSLA}, []tickets.Ticket{old, mine, fresh, answered}},
			{"assignee filter", tickets.Filter{Assignee: "sari"}, []tickets.Ticket{mine}},
			{"phone channel is valid", tickets.Filter{Channel: tickets.Phone}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, _, err := ts.List(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if g, w := numbers(got), numbers(tc.want); !slices.Equal(g, w) {
					t.Errorf("got %v, want %v", g, w)
				}
			})
		}
		// Paging one at a time in SLA order visits each ticket once.
		var seen []string
		cursor := ""
		for range 10 {
			page, next, err := ts.List(ctx, tickets.Filter{Sort: tickets.SortSLA, Limit: 1, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			seen = append(seen, numbers(page)...)
			if next == "" {
				break
			}
			cursor = next
		}
		if want := numbers([]tickets.Ticket{old, mine, fresh, answered}); !slices.Equal(seen, want) {
			t.Errorf("paged SLA order %v, want %v", seen, want)
		}
		// Take: the first operator gets it, the second is refused.
		for _, tc := range []struct {
			who     string
			wantErr bool
		}{{"joko", false}, {"joko", false}, {"sari", true}} {
			err := db.InTx(ctx, func(tx *store.Tx) error { return ts.Take(ctx, tx, fresh.ID, tc.who) })
			if (err != nil) != tc.wantErr {
				t.Errorf("%s takes: err %v, want error %v", tc.who, err, tc.wantErr)
			}
		}
		if got, _ := ts.Resolve(ctx, fresh.Number); got.Assignee != "joko" {
			t.Errorf("after the takes the assignee is %q, want joko", got.Assignee)
		}
		if due := ts.SLADue(old); due == nil || !due.Equal(old.CreatedAt.Add(time.Hour)) {
			t.Errorf("SLA due of an unanswered ticket: %v", due)
		}
		for _, bad := range []tickets.Filter{{View: "everything"}, {Sort: "random"}, {View: tickets.ViewMine}, {Sort: tickets.SortSLA, Cursor: "12"}} {
			if _, _, err := ts.List(ctx, bad); err == nil {
				t.Errorf("List(%+v) accepted", bad)
			}
		}
	})
}

func numbers(ts []tickets.Ticket) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Number)
	}
	return out
}
