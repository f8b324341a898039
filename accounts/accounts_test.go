package accounts

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"lindungi/store/storetest"
)

// Login must cost the same whether or not the name exists: an unknown or
// disabled account's password is checked against a dummy hash of the same
// bcrypt cost (measured by BenchmarkLogin; asserted here by the work done,
// not by a clock).
func TestLoginSameWorkForUnknownNames(t *testing.T) {
	db := storetest.SQLite(t)
	s := New(db)
	ctx := context.Background()
	c, err := s.Add(ctx, "petugas.eka", Operator)
	if err != nil {
		t.Fatal(err)
	}
	off, err := s.Add(ctx, "petugas.fajar", Operator)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, true, off.User.ID); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var costs []int
	orig := compareHash
	compareHash = func(hash, pw []byte) error {
		cost, err := bcrypt.Cost(hash)
		if err != nil {
			t.Errorf("checked against something that is not a bcrypt hash: %v", err)
		}
		mu.Lock()
		costs = append(costs, cost)
		mu.Unlock()
		return orig(hash, pw)
	}
	t.Cleanup(func() { compareHash = orig })

	for _, tc := range []struct {
		why, name, password string
		ok                  bool
	}{
		{"right password", "petugas.eka", c.Password, true},
		{"wrong password", "petugas.eka", "salah", false},
		{"unknown name", "tidak.ada", "salah", false},
		{"disabled account, right password", "petugas.fajar", off.Password, false},
	} {
		costs = nil
		_, _, _, err := s.Login(ctx, tc.name, tc.password, time.Hour)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrUnauthenticated)) {
			t.Errorf("%s: err %v", tc.why, err)
		}
		if len(costs) != 1 || costs[0] != bcrypt.DefaultCost {
			t.Errorf("%s: bcrypt checks at costs %v, want exactly one at cost %d", tc.why, costs, bcrypt.DefaultCost)
		}
	}
}

// BenchmarkLogin shows the timing the test above guarantees by
// construction: go test ./accounts -run '^$' -bench Login -benchtime 20x
func BenchmarkLogin(b *testing.B) {
	s := New(storetest.SQLite(b))
	ctx := context.Background()
	if _, err := s.Add(ctx, "petugas.eka", Operator); err != nil {
		b.Fatal(err)
	}
	dummyHash()
	for _, name := range []string{"petugas.eka", "tidak.ada"} {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				s.Login(ctx, name, "salah", time.Hour)
			}
		})
	}
}
