package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/channels/simulator"
	"lindungi/internal/app"
	"lindungi/internal/app/apptest"
	"lindungi/store"
)

// timedChannel wraps the simulator channel to timestamp each delivery per
// recipient, so the benchmark can measure inbound → reply latency.
type timedChannel struct {
	*simulator.Channel
	mu    sync.Mutex
	first map[string]time.Time
}

func (c *timedChannel) Send(ctx context.Context, m channels.Outbound) error {
	err := c.Channel.Send(ctx, m)
	c.mu.Lock()
	if _, ok := c.first[m.To]; !ok {
		c.first[m.To] = time.Now()
	}
	c.mu.Unlock()
	return err
}

// sqliteCeiling measures single-row-transaction inserts per second on the
// same disk, in the same run, with the given connection parameters. With
// store.SQLiteParams (the service's own durability: fsync per commit) it
// is the figure the pipeline is compared to; with synchronous=NORMAL it
// shows what the same disk does when a commit is not made durable.
func sqliteCeiling(b *testing.B, dir, params string, n int) float64 {
	db, err := sql.Open(store.SQLiteDriver, "file:"+filepath.Join(dir, "ceiling.db")+"?"+params)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, "sertifikat saya belum keluar"); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkPipeline drives the simulator pipeline (inbound → bot → ticket
// → outbox → channel) as fast as it goes: one first message per contact,
// from 32 concurrent senders. It reports messages/s, p50/p99 first-reply
// latency (dominated by queueing at full load), the SQLite single-row
// transaction ceiling measured in the same run, and their ratio.
//
//	go test -run '^$' -bench 'Pipeline$' -benchtime 4000x ./internal/app/
func BenchmarkPipeline(b *testing.B) { runPipeline(b, b.N, 0) }

// BenchmarkPipelinePaced offers 200 messages/s and reports the latency a
// citizen sees at that load, and the process's peak RSS.
//
//	go test -run '^$' -bench PipelinePaced -benchtime 2000x ./internal/app/
func BenchmarkPipelinePaced(b *testing.B) { runPipeline(b, b.N, 200) }

func runPipeline(b *testing.B, n int, perSecond float64) {
	cfg := apptest.Config(b, "LINDUNGI_LOG_LEVEL=error", "LINDUNGI_BOT_FLOOD_LIMIT=1000000")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := app.New(ctx, cfg, os.Stderr, app.Options{})
	if err != nil {
		b.Fatal(err)
	}
	tc := &timedChannel{Channel: a.Simulator, first: map[string]time.Time{}}
	a.Outbox.Register(tc) // replaces the plain simulator under the same name
	done := make(chan struct{})
	go func() { a.Outbox.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; a.Close() }()

	sentAt := make([]time.Time, n)
	texts := []string{"halo", "sertifikat saya belum keluar", "menu", "gmn cara ubah data", "terima kasih"}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	workers := 32 // many citizens writing at once
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				in, _ := simulator.Inbound(simulator.Submission{ID: fmt.Sprintf("bench-%d", i), From: fmt.Sprintf("+6281%09d", i), Text: texts[i%len(texts)]})
				sentAt[i] = time.Now()
				if err := a.Bot.Deliver(ctx, in); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		if perSecond > 0 {
			if d := time.Until(start.Add(time.Duration(float64(i) / perSecond * float64(time.Second)))); d > 0 {
				time.Sleep(d)
			}
		}
		next <- i
	}
	close(next)
	wg.Wait()
	// Wait for every contact's first reply.
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		tc.mu.Lock()
		got := len(tc.first)
		tc.mu.Unlock()
		if got >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d contacts got a reply", got, n)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	lat := make([]float64, 0, n)
	tc.mu.Lock()
	for i := 0; i < n; i++ {
		lat = append(lat, tc.first[fmt.Sprintf("+6281%09d", i)].Sub(sentAt[i]).Seconds()*1000)
	}
	tc.mu.Unlock()
	sort.Float64s(lat)
	rate := float64(n) / elapsed.Seconds()
	ceiling := sqliteCeiling(b, b.TempDir(), store.SQLiteParams, 2000)
	volatile := sqliteCeiling(b, b.TempDir(), strings.Replace(store.SQLiteParams, "_synchronous=FULL", "_synchronous=NORMAL", 1), 5000)
	b.ReportMetric(rate, "msgs/s")
	b.ReportMetric(lat[n/2], "p50-ms")
	b.ReportMetric(lat[n*99/100], "p99-ms")
	b.ReportMetric(ceiling, "ceiling-tx/s")
	b.ReportMetric(rate/ceiling, "ratio")
	b.ReportMetric(volatile, "nosync-ceiling-tx/s")
	b.ReportMetric(rate/volatile, "nosync-ratio")
	b.ReportMetric(apptest.ProcStatusMB("VmHWM"), "peak-rss-MB")
}
