package whatsapp_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"lindungi/channels/whatsapp/wafake"
	"lindungi/internal/app/proctest"
)

// `lindungi whatsapp pair` next to a running gateway pairs through it
// (that gateway holds the WhatsApp session; a second client on it would
// fight it): the QR it draws comes from the gateway, and once the phone
// scans it the command reports the linked device. Without a token it says
// how to pair instead of connecting on its own.
func TestWhatsAppPairThroughRunningGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level WhatsApp test skipped in -short mode")
	}
	bin := proctest.Binary(t, "wafake")
	fake, err := wafake.New("127.0.0.1:0", wafake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := proctest.WhatsAppEnv(fake, data, addr)
	token := proctest.AddUser(t, bin, data, "admin", "pairing-admin")
	proctest.Start(t, bin, env, "serve")
	proctest.WaitHealthy(t, addr)

	if code, out := proctest.Run(t, bin, env, "whatsapp", "pair"); code == 0 || !strings.Contains(out, "--token") || !strings.Contains(out, "/api/v1/whatsapp/qr.png") {
		t.Errorf("pair without a token next to a running gateway: exit %d\n%s", code, out)
	}

	pair := proctest.StartTerm(t, bin, env, "whatsapp", "pair", "--token", token)
	pair.Expect(t, "Pairing through the gateway at http://"+addr)
	pair.Expect(t, "Linked devices")
	pair.Expect(t, "█") // the QR, drawn in block characters

	var st struct{ State, JID, QR string }
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/api/v1/whatsapp/status", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if st.QR == "" {
		t.Fatalf("the gateway shows no QR: %+v", st)
	}
	if err := fake.ScanQR(st.QR); err != nil {
		t.Fatal(err)
	}
	pair.Expect(t, "paired as ")
	done := make(chan error, 1)
	go func() { done <- pair.Cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("pair exited with %v", err)
		}
	case <-time.After(time.Minute): // a guard, not a measurement
		t.Fatal("pair did not exit after pairing")
	}
}
