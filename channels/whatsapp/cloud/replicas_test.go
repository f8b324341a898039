package cloud_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"lindungi/channels/whatsapp/cloud/graphfake"
	"lindungi/internal/app/proctest"
	"lindungi/store"
	"lindungi/store/storetest"
)

// TestWhatsAppCloudReplicasPostgres is issue 17's "must show 4": three
// replicas of the real binary on one PostgreSQL database behind a
// round-robin balancer (the fake spreads its webhooks over them), 2,000
// webhooks sent as fast as the fake can: every message is stored once and
// every reply sent once. It reports webhook latency p50/p99 and
// messages/s, beside the same figures against a trivial handler (reads
// the body, answers 200) measured in the same run.
//
//	LINDUNGI_TEST_POSTGRES_URL=… go test -run TestWhatsAppCloudReplicasPostgres -v ./channels/whatsapp/cloud/
func TestWhatsAppCloudReplicasPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	url := storetest.PostgresURL(t)
	bin := proctest.Binary(t)
	fake, err := graphfake.New("127.0.0.1:0", graphfake.Options{AccessToken: proctest.CloudToken, AppSecret: proctest.CloudAppSecret, Senders: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	const citizens, each = 200, 10
	bodies := func(round int) [][]byte {
		var out [][]byte
		for m := 0; m < each; m++ {
			for c := 0; c < citizens; c++ {
				b, _ := fake.Text(graphfake.Citizen{WaID: fmt.Sprintf("6281%d4%06d", round, c), Name: "Warga"}, "halo "+fmt.Sprint(m))
				out = append(out, b)
			}
		}
		return out
	}
	burst := func(what string, bs [][]byte) (p50, p99 time.Duration, rate float64) {
		t.Helper()
		before := len(fake.Latencies())
		start := time.Now()
		for _, b := range bs {
			fake.Enqueue(b)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := fake.Wait(ctx); err != nil {
			t.Fatalf("%s: webhooks not all accepted", what)
		}
		el := time.Since(start)
		lat := fake.Latencies()[before:]
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p50, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
		rate = float64(len(bs)) / el.Seconds()
		t.Logf("%s: %d webhooks in %s: %.0f msgs/s, p50 %s, p99 %s", what, len(bs), el.Round(time.Millisecond), rate, p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond))
		return
	}

	trivial := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer trivial.Close()
	fake.SetWebhookURLs(trivial.URL)
	_, _, _ = burst("trivial handler", bodies(1))

	key := strings.Repeat("cd", 32)
	var addrs []string
	var procs []*proctest.Proc
	for i := 0; i < 3; i++ {
		addr := proctest.FreePort(t)
		env := proctest.CloudEnv(t, fake.URL(), fake.PhoneNumberID(), "LINDUNGI_DATABASE_URL="+url, "LINDUNGI_DATA_DIR="+t.TempDir(), "LINDUNGI_DATA_KEY="+key,
			"LINDUNGI_LISTEN="+addr, "LINDUNGI_LOG_LEVEL=warn")
		procs = append(procs, proctest.Start(t, bin, env, "serve"))
		addrs = append(addrs, "http://"+addr+"/webhooks/whatsapp")
	}
	for _, a := range addrs {
		proctest.WaitHealthy(t, strings.TrimSuffix(strings.TrimPrefix(a, "http://"), "/webhooks/whatsapp"))
	}
	fake.SetWebhookURLs(addrs...)
	_, _, _ = burst("3 replicas on PostgreSQL", bodies(2))

	db, err := store.Open(context.Background(), store.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	proctest.WaitOutboxSent(t, db, 2*time.Minute, func() string { return "" })
	var keys, msgs, distinct, rows int
	db.QueryRow(ctx, `SELECT COUNT(*) FROM inbound_keys WHERE channel = 'whatsapp'`).Scan(&keys)
	db.QueryRow(ctx, `SELECT COUNT(*), COUNT(DISTINCT external_id) FROM messages WHERE direction = 'in'`).Scan(&msgs, &distinct)
	db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox`).Scan(&rows)
	if keys != citizens*each || msgs != keys || distinct != msgs {
		t.Errorf("inbound: %d keys, %d messages (%d distinct), want %d", keys, msgs, distinct, citizens*each)
	}
	sent := map[string]int{}
	for _, s := range fake.Sent("") {
		sent[s.CallbackData]++
	}
	twice := 0
	for _, n := range sent {
		if n > 1 {
			twice++
		}
	}
	if len(sent) != rows || twice != 0 {
		t.Errorf("outbound: %d rows, %d sent, %d sent twice", rows, len(sent), twice)
	}
	// Every replica took webhooks: nothing was elected.
	for i, p := range procs {
		if strings.Contains(p.Logs(), "level=ERROR") {
			t.Errorf("replica %d logged errors:\n%s", i, p.Logs())
		}
	}
}
