package certificate_test

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lindungi/certificate"
	"lindungi/internal/app/proctest"
)

// TestCertificateVerifyCommand runs `lindungi certificate verify`, the
// binary: JSON on stdout, an error (exit 1) when not valid.
func TestCertificateVerifyCommand(t *testing.T) {
	bin := proctest.Binary(t)
	s, err := certificate.DemoSigner(t.TempDir(), "ID", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	trust := filepath.Join(t.TempDir(), "signer.pem")
	if err := os.WriteFile(trust, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	qr := issueDemo(t, s)
	for _, c := range []struct {
		name   string
		args   []string
		valid  bool
		reason string
	}{
		{"now", nil, true, "ok"},
		{"after expiry", []string{"--at", time.Now().Add(2 * time.Hour).Format(time.RFC3339)}, false, "expired"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			cmd := exec.Command(bin, append([]string{"certificate", "verify", "--trust", trust}, c.args...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(qr+"\n"), &out, &stderr
			err := cmd.Run()
			var res struct {
				Valid   bool            `json:"valid"`
				Reason  string          `json:"reason"`
				Payload json.RawMessage `json:"payload"`
			}
			if jerr := json.Unmarshal(out.Bytes(), &res); jerr != nil {
				t.Fatalf("stdout %q: %v", out.String(), jerr)
			}
			if res.Valid != c.valid || res.Reason != c.reason || len(res.Payload) < 10 {
				t.Errorf("got %s", out.String())
			}
			var exit *exec.ExitError
			if c.valid != (err == nil) || (err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1 ||
				!strings.Contains(stderr.String(), certificate.ErrNotValid.Error()))) {
				t.Errorf("%v (%s) for valid=%v", err, stderr.String(), c.valid)
			}
		})
	}
}
