package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NIKSystem is the identifier system SATUSEHAT gives the NIK.
const NIKSystem = "https://fhir.kemkes.go.id/id/nik"

// Config is what the FHIR client needs; zero durations take the defaults.
type Config struct {
	BaseURL      string // e.g. https://api-satusehat.kemkes.go.id/fhir-r4/v1
	TokenURL     string // e.g. https://api-satusehat.kemkes.go.id/oauth2/v1/accesstoken
	ClientID     string
	ClientSecret string
	// Timeout bounds one HTTP attempt; Attempts counts tries per request.
	Timeout  time.Duration
	Attempts int
	// BreakerFailures consecutive failed requests open the circuit for
	// BreakerCooldown: while the registry is down, citizens get "try later"
	// at once instead of waiting out every timeout.
	BreakerFailures int
	BreakerCooldown time.Duration
	// CacheTTL is how long an answer is reused. Short on purpose: the
	// cache holds health data in memory only, never longer than a
	// conversation, and corrections in the registry must show soon.
	CacheTTL time.Duration
}

// Defaults of the registry section.
const (
	DefaultTimeout         = 5 * time.Second
	DefaultAttempts        = 3
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 30 * time.Second
	DefaultCacheTTL        = 5 * time.Minute
	// MaxCacheTTL caps CacheTTL at the bot's default conversation expiry:
	// a cached record never outlives the conversation that asked for it.
	MaxCacheTTL = 30 * time.Minute
)

// FHIR is the Registry on a FHIR R4 server shaped like SATUSEHAT.
type FHIR struct {
	cfg  Config
	http *http.Client
	log  *slog.Logger
	now  func() time.Time
	// sleep waits between attempts; tests replace it so that no test
	// depends on wall-clock timing.
	sleep func(ctx context.Context, d time.Duration) error

	mu       sync.Mutex
	token    string
	tokenExp time.Time
	failures int
	openTill time.Time
	cache    map[string]cacheEntry
}

type cacheEntry struct {
	until time.Time
	val   any
}

// NewFHIR returns a client; log receives no personal data.
func NewFHIR(cfg Config, log *slog.Logger) *FHIR {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.BreakerFailures <= 0 {
		cfg.BreakerFailures = DefaultBreakerFailures
	}
	if cfg.BreakerCooldown <= 0 {
		cfg.BreakerCooldown = DefaultBreakerCooldown
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	cfg.CacheTTL = min(cfg.CacheTTL, MaxCacheTTL)
	if log == nil {
		log = slog.Default()
	}
	return &FHIR{
		cfg:   cfg,
		http:  &http.Client{Timeout: cfg.Timeout},
		log:   log.With("component", "registry"),
		now:   time.Now,
		sleep: sleepCtx,
		cache: map[string]cacheEntry{},
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cacheKey hashes what identifies a question, so that the cache's keys
// carry no NIK in clear (a heap dump is a leak too).
func cacheKey(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:])
}

func (f *FHIR) cached(key string) (any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.cache[key]
	if !ok {
		return nil, false
	}
	if f.now().After(e.until) {
		delete(f.cache, key)
		return nil, false
	}
	return e.val, true
}

func (f *FHIR) remember(key string, v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for k, e := range f.cache { // small map; sweeping here bounds it
		if now.After(e.until) {
			delete(f.cache, k)
		}
	}
	f.cache[key] = cacheEntry{until: now.Add(f.cfg.CacheTTL), val: v}
}

// Forget drops everything cached; a data-subject deletion or a correction
// in the registry calls it so that nothing stale is shown.
func (f *FHIR) Forget() {
	f.mu.Lock()
	f.cache = map[string]cacheEntry{}
	f.mu.Unlock()
}

// FindPerson implements Registry.
func (f *FHIR) FindPerson(ctx context.Context, nik, birthDate string) (Person, error) {
	key := cacheKey("person", nik, birthDate)
	if v, ok := f.cached(key); ok {
		if p, ok := v.(Person); ok {
			return p, nil
		}
		return Person{}, ErrNoMatch
	}
	var b bundle
	q := url.Values{"identifier": {NIKSystem + "|" + nik}}
	if err := f.search(ctx, "Patient", q, &b); err != nil {
		return Person{}, err
	}
	for _, e := range b.Entry {
		var p patient
		if err := json.Unmarshal(e.Resource, &p); err != nil || p.ResourceType != "Patient" {
			f.log.Warn("registry: malformed Patient in bundle")
			return Person{}, fmt.Errorf("%w: malformed Patient", ErrUnavailable)
		}
		// The search already matched the NIK; the birth date is what the
		// citizen proves on top of it. Compare here, not in the query, so
		// that an unknown NIK and a wrong date take the same path.
		if p.BirthDate == birthDate && p.hasNIK(nik) {
			person := p.person(nik)
			f.remember(key, person)
			return person, nil
		}
	}
	f.remember(key, false)
	return Person{}, ErrNoMatch
}

// Immunizations implements Registry.
func (f *FHIR) Immunizations(ctx context.Context, personID string) ([]Immunization, error) {
	key := cacheKey("immunizations", personID)
	if v, ok := f.cached(key); ok {
		return v.([]Immunization), nil
	}
	var b bundle
	if err := f.search(ctx, "Immunization", url.Values{"patient": {personID}}, &b); err != nil {
		return nil, err
	}
	var out []Immunization
	for _, e := range b.Entry {
		var im immunization
		if err := json.Unmarshal(e.Resource, &im); err != nil || im.ResourceType != "Immunization" {
			f.log.Warn("registry: malformed Immunization in bundle")
			return nil, fmt.Errorf("%w: malformed Immunization", ErrUnavailable)
		}
		// A dose recorded in error or not given is no dose.
		if im.Status != "completed" {
			continue
		}
		d, err := im.immunization()
		if err != nil {
			f.log.Warn("registry: Immunization without a usable date")
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Date.Before(out[j].Date) })
	f.remember(key, out)
	return out, nil
}

// search runs GET {base}/{resource}?q with the breaker, retries and token
// refresh, and decodes a searchset Bundle into b.
func (f *FHIR) search(ctx context.Context, resource string, q url.Values, b *bundle) error {
	if err := f.breakerAllows(); err != nil {
		return err
	}
	err := f.searchRetrying(ctx, resource, q, b)
	f.breakerRecord(err)
	if err != nil {
		// err names the resource and the failure, never the query (NIK).
		f.log.Warn("registry: search failed", "resource", resource, "err", err)
		return err
	}
	f.log.Debug("registry: search", "resource", resource, "entries", len(b.Entry))
	return nil
}

func (f *FHIR) searchRetrying(ctx context.Context, resource string, q url.Values, b *bundle) error {
	var last error
	refreshed := false
	for attempt := 0; attempt < f.cfg.Attempts; attempt++ {
		if attempt > 0 {
			// Jittered exponential backoff: 200 ms, 400 ms, … ±50 %.
			d := time.Duration(200<<(attempt-1)) * time.Millisecond
			d = d/2 + time.Duration(rand.Int64N(int64(d)))
			if err := f.sleep(ctx, d); err != nil {
				return fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
		}
		status, err := f.get(ctx, resource, q, b)
		switch {
		case err == nil:
			return nil
		case status == http.StatusUnauthorized && !refreshed:
			// The token expired early or was revoked: fetch a new one once,
			// and do not count the attempt.
			f.dropToken()
			refreshed = true
			attempt--
			last = err
			continue
		case status >= 500 || status == http.StatusTooManyRequests || status == 0:
			last = err // worth another try
			continue
		default:
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, last)
}

// get makes one attempt; status 0 means no HTTP answer (network, timeout,
// or a body that is not a Bundle, which a retry may fix).
func (f *FHIR) get(ctx context.Context, resource string, q url.Values, b *bundle) (int, error) {
	tok, err := f.accessToken(ctx)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) {
			return se.status, err
		}
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	u := strings.TrimRight(f.cfg.BaseURL, "/") + "/" + resource + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("registry: request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := f.http.Do(req)
	if err != nil {
		// The URL carries the NIK: never let it reach a log line.
		return 0, fmt.Errorf("registry: GET %s: %w", resource, redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		f.log.Warn("registry: unexpected status", "resource", resource, "status", resp.StatusCode)
		return resp.StatusCode, fmt.Errorf("registry: GET %s: status %d", resource, resp.StatusCode)
	}
	*b = bundle{}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(b); err != nil {
		f.log.Warn("registry: malformed bundle", "resource", resource)
		return 0, fmt.Errorf("registry: GET %s: malformed bundle: %w", resource, err)
	}
	if b.ResourceType != "Bundle" || b.Type != "searchset" {
		f.log.Warn("registry: not a searchset bundle", "resource", resource)
		return 0, fmt.Errorf("registry: GET %s: got %q/%q, want a searchset Bundle", resource, b.ResourceType, b.Type)
	}
	return http.StatusOK, nil
}

// redactURLError keeps the error's kind (timeout, refused) and drops the
// URL, whose query holds the NIK.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

func (f *FHIR) dropToken() {
	f.mu.Lock()
	f.token = ""
	f.mu.Unlock()
}

// accessToken returns a cached OAuth2 client-credentials token, fetching
// a new one a minute before the old one expires.
func (f *FHIR) accessToken(ctx context.Context) (string, error) {
	f.mu.Lock()
	if f.token != "" && f.now().Before(f.tokenExp) {
		t := f.token
		f.mu.Unlock()
		return t, nil
	}
	f.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	u, err := url.Parse(f.cfg.TokenURL)
	if err != nil {
		return "", fmt.Errorf("registry: token URL: %w", err)
	}
	qs := u.Query()
	qs.Set("grant_type", "client_credentials")
	u.RawQuery = qs.Encode()
	form := url.Values{"client_id": {f.cfg.ClientID}, "client_secret": {f.cfg.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("registry: token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("registry: token: %w", redactURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		f.log.Warn("registry: token refused", "status", resp.StatusCode)
		// Retrying wrong credentials does not help; a 5xx may pass.
		st := resp.StatusCode
		if st == http.StatusUnauthorized || st == http.StatusBadRequest {
			st = http.StatusForbidden
		}
		return "", &statusError{status: st}
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&tr); err != nil || tr.AccessToken == "" {
		return "", fmt.Errorf("registry: token: malformed answer")
	}
	// SATUSEHAT sends expires_in as a string ("14399"); RFC 6749 as a number.
	secs, err := strconv.Atoi(strings.Trim(string(tr.ExpiresIn), `"`))
	if err != nil || secs <= 0 {
		secs = 300
	}
	life := max(time.Duration(secs)*time.Second-time.Minute, time.Duration(secs)*time.Second/2)
	f.mu.Lock()
	f.token, f.tokenExp = tr.AccessToken, f.now().Add(life)
	f.mu.Unlock()
	return tr.AccessToken, nil
}

type statusError struct{ status int }

func (e *statusError) Error() string { return fmt.Sprintf("registry: token: status %d", e.status) }

func (f *FHIR) breakerAllows() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures >= f.cfg.BreakerFailures && f.now().Before(f.openTill) {
		return fmt.Errorf("%w: circuit open", ErrUnavailable)
	}
	return nil
}

// breakerRecord counts consecutive failures. After the cooldown requests
// go through again (half-open): a success closes the circuit, a single
// failure opens it for another cooldown, since the count is still over.
func (f *FHIR) breakerRecord(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil || !errors.Is(err, ErrUnavailable) {
		f.failures = 0
		return
	}
	f.failures++
	if f.failures >= f.cfg.BreakerFailures {
		f.openTill = f.now().Add(f.cfg.BreakerCooldown)
		f.log.Warn("registry: circuit open", "failures", f.failures, "cooldown", f.cfg.BreakerCooldown)
	}
}
