//go:build wafake

package whatsapp

import (
	"fmt"
	"strings"
	"testing"

	"lindungi/channels"
)

func TestTestServerFromEnv(t *testing.T) {
	key := strings.Repeat("ab", 32)
	tests := []struct {
		addr, key string
		wantNil   bool
		wantErr   bool
	}{
		{"", "", true, false},
		{"127.0.0.1:5280", key, false, false},
		{"127.0.0.1:5280", "zz", true, true},
		{"127.0.0.1:5280", "abcd", true, true},
	}
	for _, tc := range tests {
		t.Setenv("LINDUNGI_WHATSAPP_TEST_ADDR", tc.addr)
		t.Setenv("LINDUNGI_WHATSAPP_TEST_ROOT_KEY", tc.key)
		ts, err := testServerFromEnv()
		if (err != nil) != tc.wantErr || (ts == nil) != tc.wantNil {
			t.Fatalf("addr %q key %q: %+v, %v", tc.addr, tc.key, ts, err)
		}
		if ts != nil && (ts.Addr != tc.addr || ts.RootKey[0] != 0xab) {
			t.Fatalf("parsed %+v", ts)
		}
	}
}

// TestEnvRedirectPairs is what a binary built with -tags wafake does: no
// TestServer in the Config, only the environment, and pairing still works.
func TestEnvRedirectPairs(t *testing.T) {
	t.Setenv("LINDUNGI_WHATSAPP_TEST_ADDR", fake.Addr())
	t.Setenv("LINDUNGI_WHATSAPP_TEST_ROOT_KEY", fake.RootKeyHex())
	db := openDB(t, fmt.Sprintf("env-%d.db", contactSeq.Add(1)))
	ch, _ := startChannel(t, fake, db, func(c *Config) { c.TestServer = nil })
	waitUntil(t, "a QR code", func() bool { return ch.Status().QR != "" })
	if err := fake.ScanQR(ch.Status().QR); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "connected", func() bool { return ch.State() == channels.StateUp })
}
