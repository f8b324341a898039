package graphfake

import (
	"encoding/json"
	"strconv"
	"time"
)

// Citizen is a WhatsApp user writing to the business number.
type Citizen struct {
	WaID string // digits, e.g. 6281233334444
	Name string
}

// notification wraps one change in the envelope Meta's messages webhook
// documents: object, entry[{id, changes[{value, field}]}].
func (s *Server) notification(field string, value map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []map[string]any{{
			"id":      s.opts.BusinessAccountID,
			"changes": []map[string]any{{"value": value, "field": field}},
		}},
	})
	return b
}

func (s *Server) metadata() map[string]string {
	return map[string]string{"display_phone_number": s.opts.DisplayPhoneNumber, "phone_number_id": s.opts.PhoneNumberID}
}

// Message builds the webhook of one citizen message of type typ whose
// type-named object is obj (e.g. "text", {"body": "halo"}), and returns it
// with the message's wamid. The citizen's 24-hour window opens.
func (s *Server) Message(c Citizen, typ string, obj any) (body []byte, wamid string) {
	return s.MessageAt(c, typ, obj, time.Now())
}

// MessageAt is Message with the timestamp WhatsApp gives it.
func (s *Server) MessageAt(c Citizen, typ string, obj any, at time.Time) (body []byte, wamid string) {
	wamid = s.newID("wamid.HBgN")
	m := map[string]any{"from": c.WaID, "id": wamid, "timestamp": strconv.FormatInt(at.Unix(), 10), "type": typ}
	if obj != nil {
		m[typ] = obj
	}
	s.mu.Lock()
	if at.After(s.lastIn[c.WaID]) {
		s.lastIn[c.WaID] = at
	}
	s.mu.Unlock()
	return s.notification("messages", map[string]any{
		"messaging_product": "whatsapp",
		"metadata":          s.metadata(),
		"contacts":          []map[string]any{{"profile": map[string]string{"name": c.Name}, "wa_id": c.WaID}},
		"messages":          []map[string]any{m},
	}), wamid
}

// Text is a text message's webhook.
func (s *Server) Text(c Citizen, text string) ([]byte, string) {
	return s.Message(c, "text", map[string]string{"body": text})
}

// Image stores data as an uploaded photo and returns the webhook of the
// message carrying it.
func (s *Server) Image(c Citizen, caption string, data []byte, mime string) ([]byte, string) {
	id := s.PutMedia(data, mime)
	return s.Message(c, "image", map[string]string{"id": id, "mime_type": mime, "caption": caption, "sha256": ""})
}

// ListReply is the webhook of a choice from an interactive list.
func (s *Server) ListReply(c Citizen, id, title string) ([]byte, string) {
	return s.Message(c, "interactive", map[string]any{"type": "list_reply", "list_reply": map[string]string{"id": id, "title": title}})
}

// Reaction is the webhook of an emoji on one of our messages.
func (s *Server) Reaction(c Citizen, onWAMID, emoji string) ([]byte, string) {
	return s.Message(c, "reaction", map[string]string{"message_id": onWAMID, "emoji": emoji})
}

// Unsupported is the webhook of a message WhatsApp cannot pass on.
func (s *Server) Unsupported(c Citizen) ([]byte, string) {
	body, id := s.Message(c, "unsupported", nil)
	// Meta adds an errors array to the message itself.
	var n map[string]any
	json.Unmarshal(body, &n)
	msg := n["entry"].([]any)[0].(map[string]any)["changes"].([]any)[0].(map[string]any)["value"].(map[string]any)["messages"].([]any)[0].(map[string]any)
	msg["errors"] = []map[string]any{{"code": 131051, "title": "Message type unknown", "message": "Message type unknown",
		"error_data": map[string]string{"details": "Message type is currently not supported."}}}
	b, _ := json.Marshal(n)
	return b, id
}

// Status is the webhook of a status of a message the gateway sent. errCode
// (with status "failed") goes into its errors array.
func (s *Server) Status(m Sent, status string, errCode int) []byte {
	st := map[string]any{"id": m.WAMID, "status": status, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "recipient_id": m.To}
	if m.CallbackData != "" {
		st["biz_opaque_callback_data"] = m.CallbackData
	}
	if status == "sent" {
		st["conversation"] = map[string]any{"id": "CONVERSATION_ID", "origin": map[string]string{"type": "service"}}
		st["pricing"] = map[string]any{"billable": true, "pricing_model": "CBP", "category": "service"}
	}
	if errCode != 0 {
		st["errors"] = []map[string]any{{"code": errCode, "title": "fault injected by graphfake", "message": "fault injected by graphfake",
			"error_data": map[string]string{"details": "fault injected by graphfake"}}}
	}
	return s.notification("messages", map[string]any{
		"messaging_product": "whatsapp", "metadata": s.metadata(), "statuses": []any{st},
	})
}

// QualityUpdate is the phone_number_quality_update webhook.
func (s *Server) QualityUpdate(event, limit string) []byte {
	return s.notification("phone_number_quality_update", map[string]any{
		"display_phone_number": s.opts.DisplayPhoneNumber, "event": event, "current_limit": limit,
	})
}
