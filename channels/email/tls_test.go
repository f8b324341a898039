package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
	"github.com/emersion/go-smtp"

	"lindungi/channels"
	"lindungi/store/storetest"
)

// testTLS makes a throwaway CA-less certificate for 127.0.0.1 and the
// client config that trusts it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

func TestTLSSchemes(t *testing.T) {
	srvTLS, cliTLS := testTLS(t)
	mem := imapmemserver.New()
	u := imapmemserver.NewUser("user", "pass")
	u.Create("INBOX", nil)
	mem.AddUser(u)
	isrv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:      capSet(nil),
		TLSConfig: srvTLS,
		Logger:    nopLogger{},
		// Only so the test can APPEND over plain TCP; the runner must use
		// TLS because of its URL scheme.
		InsecureAuth: true,
	})
	plain, _ := net.Listen("tcp", "127.0.0.1:0")
	implicit, _ := net.Listen("tcp", "127.0.0.1:0")
	go isrv.Serve(plain)
	go isrv.Serve(tls.NewListener(implicit, srvTLS))
	t.Cleanup(func() { isrv.Close() })

	capt := &smtpCapture{}
	ssrv := smtp.NewServer(capt)
	ssrv.Domain = "localhost"
	ssrv.TLSConfig = srvTLS
	sPlain, _ := net.Listen("tcp", "127.0.0.1:0")
	sImplicit, _ := net.Listen("tcp", "127.0.0.1:0")
	go ssrv.Serve(sPlain)
	go ssrv.Serve(tls.NewListener(sImplicit, srvTLS))
	t.Cleanup(func() { ssrv.Close() })

	for i, tc := range []struct{ imapURL, smtpURL string }{
		{"imap+starttls://" + plain.Addr().String(), "smtp+starttls://" + sPlain.Addr().String()},
		{"imaps://" + implicit.Addr().String(), "smtps://" + sImplicit.Addr().String()},
	} {
		db := storetest.SQLite(t)
		cfg := fastCfg()
		cfg.TLS = cliTLS
		cfg.Mailboxes = []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", IMAPURL: tc.imapURL, SMTPURL: tc.smtpURL, Username: "user", Password: "pass", AfterImport: "keep"}}
		ch, err := New(cfg, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		appendMsgs(t, plain.Addr().String(), "user", "pass", "INBOX", testMail(i))
		sink := newMemSink(db)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ch.Run(ctx, sink); close(done) }()
		sink.waitFor(t, i+1, 10*time.Second)
		cancel()
		<-done
		if err := ch.Send(context.Background(), channels.Outbound{ID: "o" + itoa(i), To: "budi@example.com", Kind: "reply", Text: "halo"}); err != nil {
			t.Errorf("%s: %v", tc.smtpURL, err)
		}
	}
	if len(capt.msgs) != 2 {
		t.Errorf("SMTP over TLS delivered %d messages", len(capt.msgs))
	}
	// Without trusting the test certificate the handshake must fail.
	untrusted, err := New(Config{Mailboxes: []MailboxConfig{{Address: "pedulilindungi@kemkes.go.id", SMTPURL: "smtps://" + sImplicit.Addr().String()}}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := untrusted.Send(context.Background(), channels.Outbound{ID: "x", To: "budi@example.com", Kind: "reply"}); err == nil {
		t.Error("SMTPS accepted an untrusted certificate")
	}
}
