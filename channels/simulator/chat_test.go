package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lindungi/accounts"
	"lindungi/config"
	"lindungi/internal/app/proctest"
	"lindungi/store"
)

// `lindungi chat` is the simulator channel's terminal: these run it, and
// the gateway it talks to, as processes.

// Must show 1 of issue 22: `lindungi chat` as a citizen would use it. A
// complaint handed to an operator; the operator's reply appears while the
// citizen types nothing; "hapus data saya" goes through to the erasure
// confirmation, which an earlier chat never showed (its cursor was past
// the sequence numbers reused after the erasure).
func TestChatComplaintOperatorReplyAndErasure(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level chat test skipped in -short mode")
	}
	bin := proctest.Binary(t)
	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_SIMULATOR=true",
		"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	operator := proctest.AddUser(t, bin, data, "operator", "petugas-uji")
	proctest.Start(t, bin, env, "serve")
	proctest.WaitHealthy(t, addr)

	chat := proctest.StartTerm(t, bin, env, "chat", "--from", "+6281299990001")
	chat.Expect(t, "Terhubung ke http://"+addr)

	chat.Say(t, "halo")
	chat.Expect(t, "Selamat datang")
	chat.Say(t, "4")
	got := chat.Expect(t, "Balas *MENU*")
	m := regexp.MustCompile(`PL-\d{4}-\d{6}`).FindString(got)
	if m == "" {
		t.Fatalf("no ticket number in the hand-off:\n%s", got)
	}
	chat.Say(t, "sertifikat vaksin saya belum muncul sejak Maret")
	// The bot stays silent on a handed-off ticket: the operator answers.

	reply := "Selamat siang, sertifikat Bapak/Ibu sedang kami periksa bersama Dinas Kesehatan."
	body, _ := json.Marshal(map[string]string{"text": reply})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/tickets/"+m+"/replies", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+operator)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("operator reply: status %d", resp.StatusCode)
	}
	// Nothing written to the chat since: the reply must appear on its own.
	chat.Expect(t, reply)

	// The hand-off keeps the bot quiet until the citizen asks for the menu.
	chat.Say(t, "menu")
	chat.Expect(t, "Layanan otomatis kembali aktif")
	chat.Say(t, "hapus data saya")
	chat.Expect(t, "tidak dapat dibatalkan")
	chat.Say(t, "YA")
	chat.Expect(t, "sedang kami proses")
	chat.Expect(t, "Data pribadi Bapak/Ibu telah kami hapus")

	chat.Stdin.Close()
	if err := chat.Cmd.Wait(); err != nil {
		t.Fatalf("chat did not end cleanly on end of input: %v\n%s", err, chat.Output())
	}
}

// `lindungi chat` keeps its operator token in the data directory; once it
// expires, chat makes a new one instead of failing with 401 forever.
func TestChatTokenRenewedAfterExpiry(t *testing.T) {
	bin := proctest.Binary(t)
	data := t.TempDir()
	addr := proctest.FreePort(t)
	env := []string{"LINDUNGI_DATA_DIR=" + data, "LINDUNGI_LISTEN=" + addr, "LINDUNGI_SIMULATOR=true",
		"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_JOBS_ENABLED=false"}
	proctest.Start(t, bin, env, "serve")
	proctest.WaitHealthy(t, addr)
	// A chat with nothing to say connects with the token it keeps (or
	// makes) and ends at the end of its input.
	chat := func() string {
		t.Helper()
		if code, out := proctest.Run(t, bin, env, "chat"); code != 0 || !strings.Contains(out, "Terhubung ke") {
			t.Fatalf("chat: exit %d\n%s", code, out)
		}
		b, err := os.ReadFile(filepath.Join(data, "simulator.token"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	first := chat()
	if again := chat(); again != first {
		t.Fatalf("second chat: token changed")
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(ctx, `UPDATE api_tokens SET created_at = ? WHERE token_hash = ?`, store.Now().Add(-config.Default().Accounts.TokenTTL.D()-time.Hour), accounts.HashSecret(first))
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if renewed := chat(); renewed == first {
		t.Fatalf("expired chat token not renewed")
	}
}
