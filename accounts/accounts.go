// Package accounts owns operator accounts: users with one role each,
// passwords (bcrypt), API tokens and console sessions (both stored only as
// SHA-256 hashes, so a database leak does not leak a credential).
package accounts

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"lindungi/audit"
	"lindungi/coded"
	"lindungi/store"
)

// Roles. Operators answer tickets; supervisors also watch queues; health
// officers mark Sijejak cases; admins do everything. A simulator account
// only talks to the gateway as simulated citizens (the simulator channel,
// `lindungi chat`, demos): writing "from" any number is a development
// tool, so no operator gets it with their role.
const (
	Operator      = "operator"
	Supervisor    = "supervisor"
	HealthOfficer = "health_officer"
	Admin         = "admin"
	Simulator     = "simulator"
)

// Roles lists the valid roles.
var Roles = []string{Operator, Supervisor, HealthOfficer, Admin, Simulator}

// User is an authenticated operator.
type User struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
	// Lang is the console's language for this user: "id" (default) or
	// "en".
	Lang string `json:"lang,omitempty"`
	// Via says how they authenticated: "token:ID" or "session".
	Via string `json:"-"`
}

// Has reports whether the user holds one of the roles (admin holds all).
func (u User) Has(roles ...string) bool {
	if u.Role == Admin {
		return true
	}
	for _, r := range roles {
		if u.Role == r {
			return true
		}
	}
	return false
}

// Actor names the user in audit rows.
func (u User) Actor() string { return "user:" + u.Name }

// Active reports whether name is an account that may work tickets (exists
// and is not disabled), e.g. before a ticket is assigned to it.
func (s *Store) Active(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE name = ? AND disabled = ?`, name, false).Scan(&n)
	return n > 0, err
}

// DeviceSecret is what a console device cookie of name is bound to: the
// account's password hash and its epoch, so that a password reset or a
// disable revokes every cookie issued before it — for good, even when the
// account is enabled again with the same password. A disabled or unknown
// account has none ("").
func (s *Store) DeviceSecret(ctx context.Context, name string) (string, error) {
	var hash string
	var epoch int64
	err := s.db.QueryRow(ctx, `SELECT password_hash, epoch FROM users WHERE name = ? AND disabled = ?`, name, false).Scan(&hash, &epoch)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("accounts: device secret: %w", err)
	}
	return hash + "\x00" + strconv.FormatInt(epoch, 10), nil
}

// Exists reports whether name is an account, disabled or not (a list
// filter by assignee must still find a departed operator's tickets).
func (s *Store) Exists(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

// Store manages accounts.
type Store struct {
	db *store.DB
	// TokenTTL is how long an API token works after it was made (0:
	// forever). Applied when a token is used, so shortening it takes effect
	// at once for tokens already issued.
	TokenTTL time.Duration
}

// New makes a Store. The dummy hash is made in the background now, so the
// first unknown name does not pay for it (and stand out by its timing).
func New(db *store.DB) *Store {
	go dummyHash()
	return &Store{db: db}
}

var validName = regexp.MustCompile(`^[a-zA-Z0-9._@-]{2,64}$`)

// Created is what Add returns: shown once, never stored in clear.
type Created struct {
	User     User
	Password string
	Token    string
}

// Add creates a user with a generated password and API token, without an
// audit row (tests, the chat command's own simulator account); people are
// added with AddBy.
func (s *Store) Add(ctx context.Context, name, role string) (Created, error) {
	return s.AddBy(ctx, "", name, role)
}

// AddBy creates a user like Add and records "user.created" with actor in
// the same transaction (actor "": no audit row).
func (s *Store) AddBy(ctx context.Context, actor, name, role string) (Created, error) {
	if !validName.MatchString(name) {
		return Created{}, coded.New(coded.Invalid, "bad_name", "user name must be 2–64 letters, digits or . _ @ -")
	}
	if err := checkRole(role); err != nil {
		return Created{}, err
	}
	pw := randomString(18)
	hash, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return Created{}, err
	}
	token := "lgw_" + randomString(30)
	c := Created{User: User{Name: name, Role: role}, Password: pw, Token: token}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
			name, role, string(hash), store.Now()).Scan(&c.User.ID); err != nil {
			if store.IsUniqueViolation(err) {
				return coded.New(coded.Conflict, "user_exists", "a user named %q already exists", name)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO api_tokens (user_id, token_hash, created_at) VALUES (?, ?, ?)`, c.User.ID, HashSecret(token), store.Now()); err != nil {
			return err
		}
		if actor == "" {
			return nil
		}
		return audit.Record(ctx, tx, actor, "user.created", "user", strconv.FormatInt(c.User.ID, 10), "role="+role)
	})
	return c, err
}

func checkRole(role string) error {
	for _, r := range Roles {
		if r == role {
			return nil
		}
	}
	return coded.New(coded.Invalid, "bad_role", "role %q is not one of %s", role, strings.Join(Roles, ", "))
}

// HashSecret is how tokens and session IDs are stored.
func HashSecret(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// ErrUnauthenticated is returned for a wrong or unknown credential.
var ErrUnauthenticated = coded.New(coded.Unauthorized, "unauthenticated", "missing or invalid credentials")

// ByToken authenticates an API token.
func (s *Store) ByToken(ctx context.Context, token string) (User, error) {
	var u User
	var tid int64
	var disabled bool
	var created time.Time
	err := s.db.QueryRow(ctx, `SELECT u.id, u.name, u.role, u.lang, u.disabled, t.id, t.created_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`,
		HashSecret(token)).Scan(&u.ID, &u.Name, &u.Role, &u.Lang, &disabled, &tid, &created)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (disabled || s.expired(created))) {
		return User{}, ErrUnauthenticated
	}
	if err != nil {
		return u, fmt.Errorf("accounts: token: %w", err)
	}
	u.Via = fmt.Sprintf("token:%d", tid)
	return u, nil
}

// compareHash is bcrypt's check; a variable so tests can see that every
// login pays for one.
var compareHash = bcrypt.CompareHashAndPassword

// dummyHash is what an unknown or disabled account's password is checked
// against: the same bcrypt cost as a real one, so the answer takes as long
// whether or not the name exists (otherwise timing enumerates accounts).
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(randomString(18)), bcrypt.DefaultCost)
	if err != nil {
		panic("accounts: dummy hash: " + err.Error())
	}
	return h
})

// Login checks a password and opens a console session.
func (s *Store) Login(ctx context.Context, name, password string, ttl time.Duration) (sessionID, csrf string, u User, err error) {
	var hash string
	var disabled bool
	var epoch int64
	err = s.db.QueryRow(ctx, `SELECT id, name, role, lang, password_hash, disabled, epoch FROM users WHERE name = ?`, name).Scan(&u.ID, &u.Name, &u.Role, &u.Lang, &hash, &disabled, &epoch)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", "", User{}, fmt.Errorf("accounts: login: %w", err)
	}
	if err != nil || disabled {
		// Same work and the same error whatever failed: no user
		// enumeration by the answer or by its timing.
		compareHash(dummyHash(), []byte(password))
		return "", "", User{}, ErrUnauthenticated
	}
	if compareHash([]byte(hash), []byte(password)) != nil {
		return "", "", User{}, ErrUnauthenticated
	}
	sessionID, csrf = randomString(32), randomString(24)
	// The session carries the account's epoch: a disable or password reset
	// that happens while this login is under way still ends it.
	_, err = s.db.Exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf, expires_at, epoch) VALUES (?, ?, ?, ?, ?)`, HashSecret(sessionID), u.ID, csrf, store.Now().Add(ttl), epoch)
	u.Via = "session"
	return sessionID, csrf, u, err
}

// BySession authenticates a console session cookie.
func (s *Store) BySession(ctx context.Context, sessionID string) (User, string, error) {
	var u User
	var csrf string
	var exp time.Time
	err := s.db.QueryRow(ctx, `SELECT u.id, u.name, u.role, u.lang, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND u.disabled = ? AND s.epoch = u.epoch`,
		HashSecret(sessionID), false).Scan(&u.ID, &u.Name, &u.Role, &u.Lang, &csrf, &exp)
	if err != nil || store.Now().After(exp) {
		return u, "", ErrUnauthenticated
	}
	u.Via = "session"
	return u, csrf, nil
}

// Languages are the console's languages, Indonesian first (the default).
var Languages = []string{"id", "en"}

// SetLang stores the console language of user id ("id" or "en").
func (s *Store) SetLang(ctx context.Context, id int64, lang string) error {
	ok := false
	for _, l := range Languages {
		ok = ok || l == lang
	}
	if !ok {
		return coded.New(coded.Invalid, "bad_lang", "language must be one of %s", strings.Join(Languages, ", "))
	}
	if _, err := s.db.Exec(ctx, `UPDATE users SET lang = ? WHERE id = ?`, lang, id); err != nil {
		return fmt.Errorf("accounts: set language: %w", err)
	}
	return nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, sessionID string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, HashSecret(sessionID))
	return err
}
