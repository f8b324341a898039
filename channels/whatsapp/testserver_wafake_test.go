//go:build wafake

package whatsapp

import (
	"strings"
	"testing"
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
