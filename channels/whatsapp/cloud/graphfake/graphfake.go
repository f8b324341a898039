// Package graphfake is a fake of Meta's Graph API for the WhatsApp Cloud
// API, for tests and demos (as wafake is for the linked device). It is a
// real HTTP server: the gateway's real client sends to it, and it sends
// the gateway signed webhooks as Meta does — citizens' messages and the
// statuses of what the gateway sent — retrying those not answered 2xx.
//
// It serves POST /{version}/{phone-number-id}/messages, POST …/media,
// GET /{version}/{phone-number-id} (the number, with its quality rating),
// GET /{version}/{media-id} (the media URL) and GET /media/{id} (the file),
// each only with the configured access token (else error 190). Payload
// shapes follow Meta's published reference for the messages endpoint, the
// media endpoints and the messages webhook. Faults can be injected per
// send: any error code with its HTTP status, a 5xx without a body, a delay
// longer than the client waits.
package graphfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configures the fake.
type Options struct {
	PhoneNumberID      string // default 109000000000001
	DisplayPhoneNumber string // default 6281110500567
	BusinessAccountID  string // default 102000000000001
	AccessToken        string
	AppSecret          string
	// WebhookURL is the gateway's POST /webhooks/whatsapp; it may be set
	// later with SetWebhookURL (the gateway's port is known after start).
	WebhookURL string
	// EnforceWindow answers 131047 to free text for a citizen who has not
	// written in the last 24 hours (by the fake's own record), as Meta does.
	EnforceWindow bool
	// Quality is the number's quality_rating (default GREEN).
	Quality string
	// Senders is how many webhooks the fake has in flight at once
	// (default 16).
	Senders int
}

// Sent is one message the gateway sent, as the fake understood it.
type Sent struct {
	WAMID        string
	To           string
	Type         string // text, template, image, document
	Text         string // text body or media caption
	Template     string
	Language     string
	Params       []string
	CallbackData string
	MediaID      string
	Rows         []string // an interactive list's row IDs
	Raw          json.RawMessage
}

// Fault is what the fake answers to one messages request instead of
// accepting it; the zero Fault accepts it (to fail a later one).
type Fault struct {
	Code       int           // Graph error code; 0 with HTTPStatus ≥ 500 is a bare server error
	HTTPStatus int           // default 400
	Delay      time.Duration // wait this long first (a timeout when longer than the client's)
}

// Server is the running fake.
type Server struct {
	opts Options
	ln   net.Listener
	srv  *http.Server
	hc   *http.Client

	mu       sync.Mutex
	webhook  string
	targets  []string // round-robin webhook URLs (replicas behind a balancer)
	next     int
	lat      []time.Duration // per accepted enqueued webhook: its last attempt
	sent     []Sent
	faults   []Fault
	media    map[string]mediaFile
	lastIn   map[string]time.Time // wa_id → when the citizen last wrote
	seq      int
	requests int

	queue   chan []byte
	pending sync.WaitGroup
	stop    chan struct{}
	workers sync.WaitGroup
	nAcked  int
	early   []string // statuses reported before a send's answer
	earlyCd int      // the error code of an early "failed"
}

type mediaFile struct {
	data []byte
	mime string
}

// New starts the fake on addr ("127.0.0.1:0").
func New(addr string, opts Options) (*Server, error) {
	if opts.PhoneNumberID == "" {
		opts.PhoneNumberID = "109000000000001"
	}
	if opts.DisplayPhoneNumber == "" {
		opts.DisplayPhoneNumber = "6281110500567"
	}
	if opts.BusinessAccountID == "" {
		opts.BusinessAccountID = "102000000000001"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("graphfake: listen: %w", err)
	}
	s := &Server{opts: opts, ln: ln, webhook: opts.WebhookURL, media: map[string]mediaFile{}, lastIn: map[string]time.Time{},
		queue: make(chan []byte, 100000), stop: make(chan struct{}),
		hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /{version}/{id}/messages", s.auth(s.messages))
	mux.HandleFunc("POST /{version}/{id}/media", s.auth(s.upload))
	mux.HandleFunc("GET /{version}/{id}", s.auth(s.mediaURL))
	mux.HandleFunc("GET /media/{id}", s.auth(s.download))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	if opts.Senders <= 0 {
		opts.Senders = 16
	}
	for i := 0; i < opts.Senders; i++ {
		s.workers.Add(1)
		go s.deliverLoop()
	}
	return s, nil
}

// URL is the fake's base URL (the gateway's whatsapp.cloud.api_url).
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// PhoneNumberID is the business number's ID in the fake.
func (s *Server) PhoneNumberID() string { return s.opts.PhoneNumberID }

// SetWebhookURL points the webhooks at the gateway.
func (s *Server) SetWebhookURL(u string) {
	s.mu.Lock()
	s.webhook = u
	s.mu.Unlock()
}

// SetWebhookURLs spreads webhooks over several URLs in turn, as a
// round-robin load balancer in front of replicas would.
func (s *Server) SetWebhookURLs(urls ...string) {
	s.mu.Lock()
	s.targets = append([]string(nil), urls...)
	s.mu.Unlock()
}

// Latencies returns, for each enqueued webhook accepted so far, how long
// its accepted attempt took.
func (s *Server) Latencies() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.lat...)
}

// Close stops the server and the webhook retries.
func (s *Server) Close() {
	close(s.stop)
	s.srv.Close()
	s.workers.Wait()
}

// Fail queues faults for the next messages requests, in order.
func (s *Server) Fail(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

// StatusesBeforeAnswer makes the fake report these statuses of every
// accepted message by webhook before it answers the send, as Meta may
// (it promises no order); code is the error of a "failed" among them.
func (s *Server) StatusesBeforeAnswer(code int, statuses ...string) {
	s.mu.Lock()
	s.early, s.earlyCd = statuses, code
	s.mu.Unlock()
}

// Acked counts the enqueued webhooks the gateway accepted.
func (s *Server) Acked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nAcked
}

// Sent returns what the gateway sent to wa_id (all when empty).
func (s *Server) Sent(to string) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Sent
	for _, m := range s.sent {
		if to == "" || m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// Requests counts messages requests answered (accepted or faulted).
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func graphError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("(#%d) %s", code, msg), "type": "OAuthException", "code": code,
		"error_data": map[string]any{"messaging_product": "whatsapp", "details": msg},
		"fbtrace_id": "AfakeTraceID",
	}})
}

func (s *Server) auth(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.opts.AccessToken {
			graphError(w, http.StatusUnauthorized, 190, "Error validating access token")
			return
		}
		h(w, r)
	}
}

func (s *Server) newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + strings.ToUpper(hex.EncodeToString(b[:]))
}

func (s *Server) messages(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != s.opts.PhoneNumberID {
		graphError(w, http.StatusBadRequest, 100, "Unsupported post request: unknown phone number ID")
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.requests++
	var f *Fault
	if len(s.faults) > 0 {
		if s.faults[0] != (Fault{}) { // a zero Fault lets its request through
			f = &s.faults[0]
		}
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	if f != nil {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-r.Context().Done():
				return
			}
		}
		st := f.HTTPStatus
		if st == 0 {
			st = http.StatusBadRequest
		}
		if f.Code == 0 && st >= 500 {
			http.Error(w, "Service Unavailable", st)
			return
		}
		if f.Code != 0 || st != 200 {
			graphError(w, st, f.Code, "fault injected by graphfake")
			return
		}
	}
	var req struct {
		MessagingProduct string `json:"messaging_product"`
		To               string `json:"to"`
		Type             string `json:"type"`
		Text             *struct {
			Body string `json:"body"`
		} `json:"text"`
		Template *struct {
			Name     string `json:"name"`
			Language struct {
				Code string `json:"code"`
			} `json:"language"`
			Components []struct {
				Type       string `json:"type"`
				Parameters []struct {
					Type string `json:"type"`
					Text string `json:"text"`
				} `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
		Image, Document *struct {
			ID      string `json:"id"`
			Caption string `json:"caption"`
		}
		Interactive *struct {
			Type string `json:"type"`
			Body struct {
				Text string `json:"text"`
			} `json:"body"`
			Action struct {
				Button   string `json:"button"`
				Sections []struct {
					Rows []struct {
						ID          string `json:"id"`
						Title       string `json:"title"`
						Description string `json:"description"`
					} `json:"rows"`
				} `json:"sections"`
			} `json:"action"`
		} `json:"interactive"`
		BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.MessagingProduct != "whatsapp" || req.To == "" {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter")
		return
	}
	m := Sent{To: req.To, Type: req.Type, CallbackData: req.BizOpaqueCallbackData, Raw: body}
	switch req.Type {
	case "text":
		if req.Text == nil || req.Text.Body == "" {
			graphError(w, http.StatusBadRequest, 100, "Invalid parameter: text.body")
			return
		}
		m.Text = req.Text.Body
	case "template":
		if req.Template == nil || req.Template.Name == "" {
			graphError(w, http.StatusBadRequest, 132001, "Template name does not exist in the translation")
			return
		}
		m.Template, m.Language = req.Template.Name, req.Template.Language.Code
		for _, c := range req.Template.Components {
			for _, p := range c.Parameters {
				m.Params = append(m.Params, p.Text)
			}
		}
	case "image", "document":
		md := req.Image
		if req.Type == "document" {
			md = req.Document
		}
		if md == nil || md.ID == "" {
			graphError(w, http.StatusBadRequest, 100, "Invalid parameter: media id")
			return
		}
		m.MediaID, m.Text = md.ID, md.Caption
	case "interactive":
		// The list message's documented limits: body 1,024 characters,
		// button 20, at most 10 rows, titles 24, descriptions 72.
		it := req.Interactive
		bad := it == nil || it.Type != "list" || it.Body.Text == "" || len([]rune(it.Body.Text)) > 1024 ||
			it.Action.Button == "" || len([]rune(it.Action.Button)) > 20
		if !bad {
			for _, sec := range it.Action.Sections {
				for _, row := range sec.Rows {
					bad = bad || row.ID == "" || row.Title == "" || len([]rune(row.Title)) > 24 || len([]rune(row.Description)) > 72
					m.Rows = append(m.Rows, row.ID)
				}
			}
			bad = bad || len(m.Rows) == 0 || len(m.Rows) > 10
		}
		if bad {
			graphError(w, http.StatusBadRequest, 131009, "Parameter value is not valid")
			return
		}
		m.Text = it.Body.Text
	default:
		graphError(w, http.StatusBadRequest, 131051, "Unsupported message type")
		return
	}
	s.mu.Lock()
	last, wrote := s.lastIn[req.To]
	s.mu.Unlock()
	if s.opts.EnforceWindow && req.Type != "template" && (!wrote || time.Since(last) >= 24*time.Hour) {
		graphError(w, http.StatusBadRequest, 131047, "Re-engagement message")
		return
	}
	m.WAMID = s.newID("wamid.HBgN")
	s.mu.Lock()
	s.sent = append(s.sent, m)
	early, code := s.early, s.earlyCd
	s.mu.Unlock()
	for _, st := range early {
		c := 0
		if st == "failed" {
			c = code
		}
		if err := s.Deliver(r.Context(), s.Status(m, st, c)); err != nil {
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.To, "wa_id": req.To}},
		"messages":          []map[string]string{{"id": m.WAMID}},
	})
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(64 << 20); err != nil {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter: multipart")
		return
	}
	if r.FormValue("messaging_product") != "whatsapp" {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter: messaging_product")
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		graphError(w, http.StatusBadRequest, 100, "Invalid parameter: file")
		return
	}
	data, _ := io.ReadAll(f)
	id := s.PutMedia(data, firstNonEmpty(r.FormValue("type"), hdr.Header.Get("Content-Type")))
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"id": id})
}

// PutMedia stores a file as a citizen's phone would upload it and returns
// its media ID.
func (s *Server) PutMedia(data []byte, mime string) string {
	id := s.newID("")[:16]
	s.mu.Lock()
	s.media[id] = mediaFile{data: data, mime: mime}
	s.mu.Unlock()
	return id
}

// Media returns a stored file (what the gateway uploaded).
func (s *Server) Media(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.media[id]
	return m.data, ok
}

func (s *Server) mediaURL(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == s.opts.PhoneNumberID {
		// The phone number node, as GET /{phone-number-id} answers it.
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"id": id, "display_phone_number": s.opts.DisplayPhoneNumber,
			"verified_name": "Kementerian Kesehatan RI", "quality_rating": firstNonEmpty(s.opts.Quality, "GREEN")})
		return
	}
	s.mu.Lock()
	m, ok := s.media[id]
	s.mu.Unlock()
	if !ok {
		graphError(w, http.StatusNotFound, 100, "Unsupported get request: media not found")
		return
	}
	sum := sha256.Sum256(m.data)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{
		"messaging_product": "whatsapp", "url": s.URL() + "/media/" + id, "mime_type": m.mime,
		"sha256": hex.EncodeToString(sum[:]), "file_size": strconv.Itoa(len(m.data)), "id": id,
	})
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	m, ok := s.media[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.mime)
	w.Write(m.data)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Sign is the X-Hub-Signature-256 header Meta would put on body.
func (s *Server) Sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(s.opts.AppSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Post sends body to the webhook once with the given signature header
// ("" for none) and returns the HTTP status.
func (s *Server) Post(ctx context.Context, body []byte, signature string) (int, error) {
	s.mu.Lock()
	u := s.webhook
	if len(s.targets) > 0 {
		u = s.targets[s.next%len(s.targets)]
		s.next++
	}
	s.mu.Unlock()
	if u == "" {
		return 0, errors.New("graphfake: no webhook URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Deliver posts a signed webhook and, like Meta, sends it again until it
// gets a 2xx (or ctx ends).
func (s *Server) Deliver(ctx context.Context, body []byte) error {
	_, err := s.deliver(ctx, body)
	return err
}

// deliver is Deliver that also says how long the accepted attempt took.
func (s *Server) deliver(ctx context.Context, body []byte) (time.Duration, error) {
	backoff := 20 * time.Millisecond
	sig := s.Sign(body)
	for {
		start := time.Now()
		code, err := s.Post(ctx, body, sig)
		if err == nil && code/100 == 2 {
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("graphfake: webhook not accepted (last %d, %v): %w", code, err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

// Enqueue hands a webhook to the fake's delivery workers, which retry it
// until the gateway answers 2xx (Wait waits for all of them).
func (s *Server) Enqueue(body []byte) {
	s.pending.Add(1)
	s.queue <- body
}

// Wait returns once every enqueued webhook was accepted, or ctx ends.
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.pending.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) deliverLoop() {
	defer s.workers.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { <-s.stop; cancel() }()
	for {
		select {
		case <-s.stop:
			return
		case b := <-s.queue:
			if d, err := s.deliver(ctx, b); err == nil {
				s.mu.Lock()
				s.nAcked++
				s.lat = append(s.lat, d)
				s.mu.Unlock()
			}
			s.pending.Done()
		}
	}
}
