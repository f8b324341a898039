package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/config"
	"lindungi/testlog"
)

type failingRunner struct{ err error }

func (f failingRunner) Run(context.Context, channels.Sink) error { return f.err }

// TestSingletonOutageLogsOnce: a channel whose server stays unreachable is
// restarted with backoff; the log warns once for the outage (then at DEBUG
// for the same error), not once per attempt.
func TestSingletonOutageLogsOnce(t *testing.T) {
	logs := &testlog.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := New(ctx, singletonConfig(t), logs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Attempts at about 0, 1 and 3 s (backoff 1 s, then 2 s).
	rctx, rcancel := context.WithTimeout(ctx, 3500*time.Millisecond)
	defer rcancel()
	a.runSingleton(rctx, namedRunner{name: "fake", runner: failingRunner{errors.New("dial tcp: connection refused")}})

	warns := strings.Count(logs.String(), `level=WARN msg="channel connection ended; restarting" runner=fake`)
	debugs := strings.Count(logs.String(), `level=DEBUG msg="channel connection ended; restarting" runner=fake`)
	if warns != 1 || debugs < 1 {
		t.Errorf("%d warnings and %d debug lines for one outage; want 1 warning, the rest at debug\n%s", warns, debugs, logs.String())
	}
}

// singletonConfig is a gateway with nothing but the simulator on a temp
// dir (apptest.Config's settings; apptest itself imports this package).
func singletonConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load("", []string{"LINDUNGI_WHATSAPP_ENABLED=false", "LINDUNGI_LISTEN=127.0.0.1:0", "LINDUNGI_DATA_DIR=" + t.TempDir(),
		"LINDUNGI_SIMULATOR=true", "LINDUNGI_TRACING_CHANNEL=simulator", "LINDUNGI_JOBS_ENABLED=false", "LINDUNGI_LOG_LEVEL=debug"})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
