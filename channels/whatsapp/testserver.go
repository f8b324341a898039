package whatsapp

import (
	"context"
	"net"
	"net/http"
	"time"

	"go.mau.fi/whatsmeow"
)

// TestServer points the client at a fake WhatsApp server (channels/whatsapp/wafake)
// instead of web.whatsapp.com. It never changes the URL — that would switch
// whatsmeow into Messenger mode — but dials every connection, websocket and
// media alike, as plain TCP to Addr; Go treats a connection returned by
// DialTLSContext as already secure.
type TestServer struct {
	Addr    string   // host:port of the fake server
	RootKey [32]byte // the fake server's certificate root (whatsmeow.WACertPubKey)
}

func (ts *TestServer) apply(cli *whatsmeow.Client) {
	// WACertPubKey is a package variable shared by every client in the
	// process; write it only when it changes so that parallel clients of
	// the same fake root never race on it.
	if whatsmeow.WACertPubKey != ts.RootKey {
		whatsmeow.WACertPubKey = ts.RootKey
	}
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ts.Addr)
	}
	newClient := func() *http.Client {
		return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
			DialContext: dial, DialTLSContext: dial, ForceAttemptHTTP2: false,
		}}
	}
	cli.SetPreLoginHTTPClient(newClient())
	cli.SetWebsocketHTTPClient(newClient())
	cli.SetMediaHTTPClient(newClient())
}
