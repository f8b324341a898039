//go:build !wafake

package whatsapp

import "testing"

// A release build ignores the test-server environment entirely.
func TestReleaseIgnoresTestServerEnv(t *testing.T) {
	t.Setenv("LINDUNGI_WHATSAPP_TEST_ADDR", "127.0.0.1:1")
	t.Setenv("LINDUNGI_WHATSAPP_TEST_ROOT_KEY", "00")
	if ts, err := testServerFromEnv(); ts != nil || err != nil {
		t.Fatalf("release build redirected: %+v, %v", ts, err)
	}
}
