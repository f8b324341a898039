package app_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/testlog"
)

// In JSON log mode the pairing QR is not drawn in block characters among
// the JSON lines; the log says where the PNG is.
func TestPairingQRInJSONLogs(t *testing.T) {
	logs := &testlog.Buffer{}
	cfg := apptest.Config(t, "LINDUNGI_LOG_FORMAT=json")
	a, err := app.New(context.Background(), cfg, logs, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.ShowQR("2@Zm9vYmFyLXBhaXJpbmctY29kZQ==,c2VjcmV0,aWRlbnRpdHk=")
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var saw bool
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON in JSON log mode: %q", l)
		}
		if v, _ := rec["qr_png"].(string); strings.HasSuffix(v, "/api/v1/whatsapp/qr.png") {
			saw = true
		}
	}
	if !saw {
		t.Errorf("no log record pointing at the QR PNG:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "Zm9vYmFy") {
		t.Errorf("the pairing code itself was logged")
	}
}
