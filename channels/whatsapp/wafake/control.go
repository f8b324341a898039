package wafake

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// ControlHandler is the HTTP control API documented in the package comment.
// It is served on its own port by cmd/wafake, never on the WhatsApp port.
func (s *Server) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"addr": s.Addr(), "rootKey": s.RootKeyHex(), "account": s.AccountPhone(),
			"waitingForScan": s.PendingQR(), "connected": s.Connected(), "ready": s.ReadyForMessages(),
			"pending": s.Pending(), "logins": s.Logins(),
		})
	})
	mux.HandleFunc("POST /pair", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			QR   string `json:"qr"`
			Code string `json:"code"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		scan := func() error { return s.ScanQR(req.QR) }
		if req.Code != "" {
			scan = func() error { return s.EnterCode(req.Code) }
		}
		if err := scan(); err != nil {
			writeErr(w, http.StatusConflict, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"paired": true})
	})
	mux.HandleFunc("POST /contacts/{phone}/messages", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Name     string `json:"name"`
			Text     string `json:"text"`
			Image    string `json:"image"` // base64
			Mimetype string `json:"mimetype"`
			ViaLID   bool   `json:"viaLid"`
			HidePN   bool   `json:"hidePn"`
			QuotedID string `json:"quotedId"`
		}
		if !readJSON(w, r, &req) {
			return
		}
		phone := strings.TrimPrefix(r.PathValue("phone"), "+")
		ct := s.Contact(phone)
		if ct == nil {
			var err error
			if ct, err = s.AddContact(phone, "", req.Name); err != nil {
				writeErr(w, http.StatusBadRequest, err)
				return
			}
		}
		o := SendOptions{ViaLID: req.ViaLID, HidePN: req.HidePN, QuotedID: req.QuotedID}
		var id string
		var err error
		if req.Image != "" {
			img, derr := base64.StdEncoding.DecodeString(req.Image)
			if derr != nil {
				writeErr(w, http.StatusBadRequest, derr)
				return
			}
			if req.Mimetype == "" {
				req.Mimetype = "image/jpeg"
			}
			id, err = ct.SendImage(img, req.Mimetype, req.Text, o)
		} else {
			id, err = ct.SendText(req.Text, o)
		}
		if err != nil {
			writeErr(w, http.StatusConflict, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "lid": ct.LID})
	})
	mux.HandleFunc("GET /contacts/{phone}/received", func(w http.ResponseWriter, r *http.Request) {
		got := s.Received(r.PathValue("phone"))
		if got == nil {
			got = []Received{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"messages": got})
	})
	mux.HandleFunc("POST /faults/{name}", func(w http.ResponseWriter, r *http.Request) {
		on := r.URL.Query().Get("on") != "false"
		switch r.PathValue("name") {
		case "drop":
			s.DropConnections()
		case "restart":
			s.RestartStreams()
		case "logout":
			s.LogoutAll()
		case "withhold-acks":
			s.WithholdAcks(on)
		case "refuse":
			s.Refuse(r.URL.Query().Get("phone"), on)
		default:
			writeErr(w, http.StatusNotFound, errUnknownFault)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"ok": true})
	})
	return mux
}

type controlError string

func (e controlError) Error() string { return string(e) }

const errUnknownFault = controlError("unknown fault (drop, restart, logout, withhold-acks, refuse)")

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 32<<20)).Decode(v); err != nil {
		writeErr(w, http.StatusBadRequest, err)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]any{"error": map[string]string{"code": "wafake", "message": err.Error()}})
}
