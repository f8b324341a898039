// Command graphfake runs the fake Graph API of package graphfake on its
// own, for demos and process-level tests of whatsapp.provider cloud:
//
//	go run ./channels/whatsapp/cloud/graphfake/cmd/graphfake -webhook http://127.0.0.1:8080/webhooks/whatsapp
//
// It prints the settings to give the gateway (api_url, phone_number_id and
// the three secrets, written to files). A citizen writes with
//
//	curl -d '{"from":"6281233334444","name":"Budi","text":"halo"}' http://CONTROL/text
//
// and what the gateway sent is at GET http://CONTROL/sent?to=6281233334444.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"lindungi/channels/whatsapp/cloud/graphfake"
)

func main() {
	if err := realMain(); err != nil {
		log.Fatal(err)
	}
}

func realMain() error {
	listen := flag.String("listen", "127.0.0.1:0", "address of the fake Graph API")
	control := flag.String("control", "127.0.0.1:0", "address of the control API")
	webhook := flag.String("webhook", "http://127.0.0.1:8080/webhooks/whatsapp", "the gateway's webhook URL")
	dir := flag.String("secrets", "", "directory for the token, app secret and verify token files (default: a temporary one)")
	flag.Parse()

	if *dir == "" {
		d, err := os.MkdirTemp("", "graphfake-")
		if err != nil {
			return err
		}
		*dir = d
	}
	secrets := map[string]string{"access_token": "graphfake-token", "app_secret": "graphfake-app-secret", "verify_token": "graphfake-verify"}
	for name, v := range secrets {
		if err := os.WriteFile(filepath.Join(*dir, name), []byte(v), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	fake, err := graphfake.New(*listen, graphfake.Options{AccessToken: secrets["access_token"], AppSecret: secrets["app_secret"], WebhookURL: *webhook})
	if err != nil {
		return err
	}
	defer fake.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /text", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ From, Name, Text string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.From == "" || in.Text == "" {
			http.Error(w, `want {"from","name","text"}`, http.StatusBadRequest)
			return
		}
		body, id := fake.Text(graphfake.Citizen{WaID: in.From, Name: in.Name}, in.Text)
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		if err := fake.Deliver(ctx, body); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
	mux.HandleFunc("GET /sent", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"sent": fake.Sent(r.URL.Query().Get("to"))})
	})
	ln, err := net.Listen("tcp", *control)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	fmt.Printf("control API: http://%s\n", ln.Addr())
	fmt.Printf("LINDUNGI_WHATSAPP_PROVIDER=cloud\nLINDUNGI_WHATSAPP_CLOUD_API_URL=%s\nLINDUNGI_WHATSAPP_CLOUD_PHONE_NUMBER_ID=%s\n", fake.URL(), fake.PhoneNumberID())
	fmt.Printf("LINDUNGI_WHATSAPP_CLOUD_ACCESS_TOKEN_FILE=%s\nLINDUNGI_WHATSAPP_CLOUD_APP_SECRET_FILE=%s\nLINDUNGI_WHATSAPP_CLOUD_VERIFY_TOKEN_FILE=%s\n",
		filepath.Join(*dir, "access_token"), filepath.Join(*dir, "app_secret"), filepath.Join(*dir, "verify_token"))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
