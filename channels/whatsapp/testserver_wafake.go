//go:build wafake

package whatsapp

import (
	"encoding/hex"
	"fmt"
	"os"
)

// testServerFromEnv is compiled only with -tags wafake (never in release
// builds): it lets process-level tests run the real binary against
// `go run ./channels/whatsapp/wafake/cmd/wafake`.
func testServerFromEnv() (*TestServer, error) {
	addr := os.Getenv("LINDUNGI_WHATSAPP_TEST_ADDR")
	if addr == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(os.Getenv("LINDUNGI_WHATSAPP_TEST_ROOT_KEY"))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("LINDUNGI_WHATSAPP_TEST_ROOT_KEY must be 32 bytes of hex")
	}
	return &TestServer{Addr: addr, RootKey: [32]byte(key)}, nil
}
