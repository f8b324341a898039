package wafake

import (
	"strings"

	waBinary "go.mau.fi/whatsmeow/binary"
)

// DropConnections closes every logged-in connection abruptly (no stream
// end), as a network failure would. Clients reconnect by themselves.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.conn != nil {
			d.conn.close()
		}
	}
}

// RestartStreams sends <stream:error code="515"/> to every logged-in client,
// which makes it reconnect.
func (s *Server) RestartStreams() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		if d.conn != nil {
			_ = d.conn.send(waBinary.Node{Tag: "stream:error", Attrs: waBinary.Attrs{"code": "515"}})
		}
	}
}

// LogoutAll unlinks every device, as when the phone removes linked devices:
// live connections drop and the next login gets <failure reason="401"/>.
func (s *Server) LogoutAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.devices {
		d.removed = true
		if d.conn != nil {
			d.conn.close()
		}
	}
	s.notifyLocked()
}

// FailLogins makes every following login fail with that reason (e.g. 503,
// 403); 0 restores normal logins.
func (s *Server) FailLogins(reason int) {
	s.mu.Lock()
	s.faults.failLogin = reason
	s.mu.Unlock()
}

// WithholdAcks stops (true) or resumes (false) acknowledging messages the
// client sends; they are still decrypted and recorded (Acked=false).
func (s *Server) WithholdAcks(on bool) {
	s.mu.Lock()
	s.faults.withholdAcks = on
	s.mu.Unlock()
}

// Refuse makes a contact look like a number that is not on WhatsApp (no
// devices in usync), or undoes it.
func (s *Server) Refuse(phone string, on bool) {
	s.mu.Lock()
	s.faults.refused[strings.TrimPrefix(phone, "+")] = on
	s.mu.Unlock()
}

// Received returns what the client sent to the contact with that phone
// (all contacts when phone is ""), in arrival order, retries included.
func (s *Server) Received(phone string) []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.receivedLocked(strings.TrimPrefix(phone, "+"))
}

func (s *Server) receivedLocked(phone string) []Received {
	var out []Received
	for _, r := range s.received {
		if phone == "" || r.To == phone {
			out = append(out, r)
		}
	}
	return out
}

// Logins counts login attempts (successful or refused) since start.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// Connected reports how many devices hold a logged-in connection.
func (s *Server) Connected() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, d := range s.devices {
		if d.conn != nil {
			n++
		}
	}
	return n
}

// Pending counts messages from contacts not yet receipted by the client.
func (s *Server) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, d := range s.devices {
		n += len(d.pending)
	}
	return n
}

// ReadyForMessages reports whether some device uploaded its pre-keys, i.e.
// contacts can write to the account.
func (s *Server) ReadyForMessages() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readyLocked()
}

func (s *Server) readyLocked() bool {
	for _, d := range s.devices {
		if !d.removed && d.keys != nil && d.conn != nil {
			return true
		}
	}
	return false
}

// CorruptNext garbles the ciphertext of the next n messages contacts send,
// so the client answers with retry receipts (which the contacts honour).
func (s *Server) CorruptNext(n int) {
	s.mu.Lock()
	s.faults.corrupt += n
	s.mu.Unlock()
}
