package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"lindungi/audit"
	"lindungi/coded"
	"lindungi/store"
)

// Account management for admins (`lindungi user …`, `lindungi token …`
// and the /api/v1/users and /api/v1/tokens routes). Every change is audited
// in its own transaction with the actor who made it.

// ErrUserNotFound and ErrTokenNotFound name what was not there.
var (
	ErrUserNotFound  = coded.New(coded.NotFound, "user_not_found", "no user by that name")
	ErrTokenNotFound = coded.New(coded.NotFound, "token_not_found", "no API token with that ID")
)

// Account is a user as admins see it.
type Account struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"createdAt"`
	// Tokens counts the user's API tokens that still work by date.
	Tokens int `json:"tokens"`
}

// Token is an API token as admins see it; the secret itself is never
// stored, so it is shown only when made.
type Token struct {
	ID        int64      `json:"id"`
	User      string     `json:"user"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	Expired   bool       `json:"expired"`
}

func (s *Store) expiry(created time.Time) *time.Time {
	if s.TokenTTL <= 0 {
		return nil
	}
	t := created.UTC().Add(s.TokenTTL)
	return &t
}

func (s *Store) expired(created time.Time) bool {
	e := s.expiry(created)
	return e != nil && !store.Now().Before(*e)
}

// Users lists every account, by name.
func (s *Store) Users(ctx context.Context) ([]Account, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name, role, disabled, created_at FROM users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("accounts: users: %w", err)
	}
	out := []Account{}
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Name, &a.Role, &a.Disabled, &a.CreatedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("accounts: users: %w", err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("accounts: users: %w", err)
	}
	toks, err := s.Tokens(ctx, "")
	if err != nil {
		return nil, err
	}
	live := map[string]int{}
	for _, t := range toks {
		if !t.Expired {
			live[t.User]++
		}
	}
	for i := range out {
		out[i].Tokens = live[out[i].Name]
	}
	return out, nil
}

// User returns one account.
func (s *Store) User(ctx context.Context, name string) (Account, error) {
	var a Account
	err := s.db.QueryRow(ctx, `SELECT id, name, role, disabled, created_at FROM users WHERE name = ?`, name).Scan(&a.ID, &a.Name, &a.Role, &a.Disabled, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrUserNotFound
	}
	if err != nil {
		return a, fmt.Errorf("accounts: user: %w", err)
	}
	a.CreatedAt = a.CreatedAt.UTC()
	return a, nil
}

// SetDisabled disables or enables an account. Disabling takes effect on the
// next request: its console sessions are deleted and its epoch moves on (so
// neither a session opened meanwhile nor a console device cookie issued
// before comes back when it is enabled again), and its API tokens are
// refused while it stays disabled (they work again once it is enabled,
// unless they expired or were revoked meanwhile).
func (s *Store) SetDisabled(ctx context.Context, actor, name string, disabled bool) (Account, error) {
	a, err := s.User(ctx, name)
	if err != nil {
		return a, err
	}
	action := map[bool]string{true: "user.disabled", false: "user.enabled"}[disabled]
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET disabled = ?, epoch = epoch + 1 WHERE id = ?`, disabled, a.ID); err != nil {
			return err
		}
		if disabled {
			if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, a.ID); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, actor, action, "user", strconv.FormatInt(a.ID, 10), "")
	})
	if err != nil {
		return a, fmt.Errorf("accounts: %s: %w", action, err)
	}
	a.Disabled = disabled
	return a, nil
}

// SetRole gives the account another role. It takes effect on the next
// request (sessions and tokens read the role from the account).
func (s *Store) SetRole(ctx context.Context, actor, name, role string) (Account, error) {
	if err := checkRole(role); err != nil {
		return Account{}, err
	}
	a, err := s.User(ctx, name)
	if err != nil {
		return a, err
	}
	if a.Role == role {
		return a, nil
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET role = ? WHERE id = ?`, role, a.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "user.role_changed", "user", strconv.FormatInt(a.ID, 10), a.Role+"→"+role)
	})
	if err != nil {
		return a, fmt.Errorf("accounts: set role: %w", err)
	}
	a.Role = role
	return a, nil
}

// ResetPassword gives the account a new generated password (returned once)
// and ends its console sessions; its API tokens are untouched.
func (s *Store) ResetPassword(ctx context.Context, actor, name string) (string, error) {
	a, err := s.User(ctx, name)
	if err != nil {
		return "", err
	}
	pw := randomString(18)
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", err
	}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = ?, epoch = epoch + 1 WHERE id = ?`, string(hash), a.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, a.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "user.password_reset", "user", strconv.FormatInt(a.ID, 10), "")
	})
	if err != nil {
		return "", fmt.Errorf("accounts: reset password: %w", err)
	}
	return pw, nil
}

// Tokens lists API tokens, oldest first; user "" means everyone's.
func (s *Store) Tokens(ctx context.Context, user string) ([]Token, error) {
	q := `SELECT t.id, u.name, t.created_at FROM api_tokens t JOIN users u ON u.id = t.user_id`
	var args []any
	if user != "" {
		if _, err := s.User(ctx, user); err != nil {
			return nil, err
		}
		q += ` WHERE u.name = ?`
		args = append(args, user)
	}
	rows, err := s.db.Query(ctx, q+` ORDER BY t.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("accounts: tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		var t Token
		if err := rows.Scan(&t.ID, &t.User, &t.CreatedAt); err != nil {
			return nil, fmt.Errorf("accounts: tokens: %w", err)
		}
		t.CreatedAt = t.CreatedAt.UTC()
		t.ExpiresAt, t.Expired = s.expiry(t.CreatedAt), s.expired(t.CreatedAt)
		out = append(out, t)
	}
	return out, rows.Err()
}

// AddToken makes a new API token for the account (after the old one
// expired or was revoked) and returns it with its secret, shown once.
func (s *Store) AddToken(ctx context.Context, actor, name string) (Token, string, error) {
	a, err := s.User(ctx, name)
	if err != nil {
		return Token{}, "", err
	}
	secret := "lgw_" + randomString(30)
	t := Token{User: a.Name, CreatedAt: store.Now().UTC()}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (?, ?, ?) RETURNING id`,
			a.ID, HashSecret(secret), t.CreatedAt).Scan(&t.ID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, "token.created", "api_token", strconv.FormatInt(t.ID, 10), "user "+strconv.FormatInt(a.ID, 10))
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("accounts: add token: %w", err)
	}
	t.ExpiresAt = s.expiry(t.CreatedAt)
	return t, secret, nil
}

// RevokeToken deletes an API token: the next request with it is refused.
func (s *Store) RevokeToken(ctx context.Context, actor string, id int64) error {
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM api_tokens WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrTokenNotFound
		}
		return audit.Record(ctx, tx, actor, "token.revoked", "api_token", strconv.FormatInt(id, 10), "")
	})
	if errors.Is(err, ErrTokenNotFound) {
		return err
	}
	if err != nil {
		return fmt.Errorf("accounts: revoke token: %w", err)
	}
	return nil
}
