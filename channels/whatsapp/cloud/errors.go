package cloud

import (
	"errors"
	"fmt"
	"net/http"

	"lindungi/channels"
)

// GraphError is the Graph API's error answer ({"error":{…}}) as far as the
// gateway reads it. Its text carries the code and Meta's title only, never
// the request (which holds a phone number) nor the token.
type GraphError struct {
	HTTPStatus int
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	Type       string `json:"type"`
	Message    string `json:"message"`
}

func (e *GraphError) Error() string {
	return fmt.Sprintf("whatsapp cloud: graph error %d (HTTP %d)", e.Code, e.HTTPStatus)
}

// errHold is the reason a message waits for the citizen: WhatsApp allows
// free text only within 24 hours of their last message.
var errHold = errors.New("outside WhatsApp's 24-hour customer service window: only an approved template may be sent; held until the citizen writes again")

// Outcomes of a Cloud API error code, for the outbox. The table is the
// one place they are decided (TestErrorCodeTable pins it).
type outcome int

const (
	retry     outcome = iota // transient: back off and send again
	hold                     // not allowed now (window): keep, do not retry
	permanent                // can never succeed: dead-letter, flag the ticket
	notReady                 // the account or token is broken: keep, spend no attempt
)

// codeOutcomes maps Meta's documented error codes. Codes not listed are
// retried with backoff (and dead-lettered after outbox.max_attempts): an
// unknown code must not lose a message at once.
var codeOutcomes = map[int]outcome{
	// Authorisation: nothing can be sent until the token is replaced.
	0: notReady, 3: notReady, 10: notReady, 190: notReady,
	// The account: locked, unpaid, number unregistered, policy block.
	131031: notReady, 131042: notReady, 133010: notReady, 368: notReady,
	// Throttling: app, account, per-number throughput, pair rate, spam rate.
	4: retry, 80007: retry, 130429: retry, 131056: retry, 131048: retry,
	// Meta's own trouble.
	1: retry, 2: retry, 131000: retry, 131016: retry, 131049: retry,
	// Re-engagement: more than 24 hours since the citizen wrote.
	131047: hold,
	// The recipient or the request can never work.
	100: permanent, 131026: permanent, 131021: permanent, 131051: permanent,
	131008: permanent, 131009: permanent, 131053: permanent, 131050: permanent,
	// Templates: missing, paused, wrong parameters — a configuration to fix.
	132000: permanent, 132001: permanent, 132005: permanent, 132007: permanent,
	132012: permanent, 132015: permanent, 132016: permanent,
}

// classify wraps a Cloud API error for the outbox: ErrPermanent,
// channels.ErrHeld, ErrNotReady, or plain (retry). httpStatus 0 means the
// error came by webhook.
func classify(code, httpStatus int, title string) error {
	o, known := codeOutcomes[code]
	if code == 0 {
		// No Graph error in the answer: the HTTP status decides. Code 0
		// proper (AuthException) comes with a 401.
		switch {
		case httpStatus == http.StatusUnauthorized:
			o = notReady
		case httpStatus == 0, httpStatus >= 500, httpStatus == 429, httpStatus == 408:
			o = retry
		default:
			o = permanent // a 4xx without a code: our request is wrong
		}
	} else if !known {
		o = retry
	}
	base := fmt.Errorf("whatsapp cloud: error %d", code)
	if title != "" {
		base = fmt.Errorf("whatsapp cloud: error %d (%s)", code, title)
	}
	switch o {
	case permanent:
		return fmt.Errorf("%w: %w", base, channels.ErrPermanent)
	case hold:
		return fmt.Errorf("%w: %w: %w", base, errHold, channels.ErrHeld)
	case notReady:
		return fmt.Errorf("%w: %w", base, channels.ErrNotReady)
	}
	return base
}
