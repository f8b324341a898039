package email

import (
	"strconv"
	"testing"

	"lindungi/channels/email/dovecottest"
)

// startDovecot runs a throwaway Dovecot (see package dovecottest).
func startDovecot(t testing.TB) *dovecottest.Server { return dovecottest.Start(t) }

// dovecotMailbox is the channel's configuration for d's INBOX.
func dovecotMailbox(d *dovecottest.Server, address string) MailboxConfig {
	return MailboxConfig{Address: address, IMAPURL: d.IMAPURL(), Username: d.User, Password: d.Password}
}

func itoa(n int) string { return strconv.Itoa(n) }
