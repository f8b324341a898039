//go:build !wafake

package whatsapp

// testServerFromEnv is the release twin: the environment can never redirect
// a production binary away from WhatsApp.
func testServerFromEnv() (*TestServer, error) { return nil, nil }
