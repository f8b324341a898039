// Command wafake runs the fake WhatsApp server of package wafake on its own,
// for process-level tests and for trying the gateway without a phone:
//
//	go run ./channels/whatsapp/wafake/cmd/wafake -listen 127.0.0.1:5280 -control 127.0.0.1:5281
//
// then start a gateway built with -tags wafake with the two environment
// variables it prints. See package wafake for the control API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"lindungi/channels/whatsapp/wafake"
)

func main() {
	if err := realMain(); err != nil {
		log.Fatal(err)
	}
}

func realMain() error {
	listen := flag.String("listen", "127.0.0.1:0", "address for WhatsApp clients")
	control := flag.String("control", "127.0.0.1:0", "address for the HTTP control API")
	account := flag.String("account", "6281110500567", "account phone number (digits) the fake phone pairs")
	verbose := flag.Bool("v", false, "log protocol events")
	flag.Parse()

	opts := wafake.Options{AccountPhone: *account}
	if *verbose {
		opts.Logf = log.Printf
	}
	srv, err := wafake.New(*listen, opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *control)
	if err != nil {
		return fmt.Errorf("control listen: %w", err)
	}
	hs := &http.Server{Handler: srv.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Print(err)
		}
	}()
	fmt.Printf("LINDUNGI_WHATSAPP_TEST_ADDR=%s\n", srv.Addr())
	fmt.Printf("LINDUNGI_WHATSAPP_TEST_ROOT_KEY=%s\n", srv.RootKeyHex())
	fmt.Printf("WAFAKE_CONTROL=http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return hs.Shutdown(sctx)
}
