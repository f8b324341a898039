package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

// A request whose client went away is not a server error: a `lindungi
// chat` ending in the middle of its long poll used to log one at ERROR.
// A cancellation while the client is still there still is one.
func TestWriteErrorClientGone(t *testing.T) {
	for _, tc := range []struct {
		name      string
		gone      bool
		err       error
		wantError bool
	}{
		{"client left", true, fmt.Errorf("accounts: token: %w", context.Canceled), false},
		{"canceled inside, client still there", false, fmt.Errorf("store: %w", context.Canceled), true},
		{"other failure, client left", true, errors.New("disk on fire"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ctx, cancel := context.WithCancel(context.Background())
			if tc.gone {
				cancel()
			} else {
				defer cancel()
			}
			r := httptest.NewRequest("GET", "/api/v1/simulator/messages", nil).WithContext(ctx)
			WriteError(httptest.NewRecorder(), r, tc.err, log)
			if got := strings.Contains(logs.String(), "level=ERROR"); got != tc.wantError {
				t.Errorf("logged at ERROR: %v, want %v:\n%s", got, tc.wantError, logs.String())
			}
		})
	}
}
