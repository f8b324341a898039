package tracing

import (
	"context"
	"sort"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
	"lindungi/tracing/score"
)

// BenchmarkUpload20k: one positive citizen uploads 20,000 records (40
// contacts over 14 days) through Service.Upload: validation, sealing,
// storage, matching, exposures. Each iteration changes one record so it is
// not a replay. "first": every upload creates 40 × 14 exposures and 40
// prompts; "reupload": they exist already (an overlapping upload).
//
//	go test ./tracing -run XXX -bench Upload20k -benchtime 20x
func BenchmarkUpload20k(b *testing.B) {
	for _, fresh := range []bool{false, true} {
		name := "reupload"
		if fresh {
			name = "first"
		}
		b.Run("sqlite/"+name, func(b *testing.B) { benchUpload(b, storetest.SQLite(b), fresh) })
		b.Run("postgres/"+name, func(b *testing.B) { benchUpload(b, storetest.Postgres(b), fresh) })
	}
}

// fresh: exposures are deleted between iterations (outside the timing), so
// every upload creates 560 exposures and prompts 40 contacts.
func benchUpload(b *testing.B, db *store.DB, fresh bool) {
	ctx := context.Background()
	f := newFixture(b, db, Config{Score: score.Params{MinMinutes: 5}, UploadsPerDevice: 1 << 30, RegisterPerIP: 1 << 30, VerifyPerIP: 1 << 30})
	svc := f.svc
	start := f.clk.Now()
	a := f.register(b, phoneA)
	const contacts, days, perDay = 40, 14, 20000 / 40 / 14
	var recs []Record
	for c := 0; c < contacts; c++ {
		d := f.register(b, phoneFor(c))
		for day := 0; day < days; day++ {
			at := start.Add(time.Duration(day) * 24 * time.Hour)
			batch, err := svc.TempIDs(ctx, d, at)
			if err != nil {
				b.Fatal(err)
			}
			recs = append(recs, encounters(batch, at.Add(time.Duration(c)*time.Minute), perDay, -65)...)
		}
	}
	for len(recs) < 20000 {
		recs = append(recs, recs[len(recs)%1000])
	}
	f.clk.Advance(days * 24 * time.Hour)
	if _, err := svc.MarkPositive(ctx, "bench", phoneA, start.Add(48*time.Hour), time.Time{}); err != nil {
		b.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *store.Tx) error { return svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, "") }); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		recs[0].RSSI = float64(-40 - i%60)
		recs[1].Timestamp = recs[1].Timestamp + float64(i%2)
		if fresh {
			if _, err := db.Exec(ctx, `DELETE FROM tracing_exposures`); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		res, err := svc.Upload(ctx, a, recs)
		lat = append(lat, time.Since(t0))
		if fresh && res.Notified != contacts {
			b.Fatalf("notified %d", res.Notified)
		}
		if err != nil {
			b.Fatal(err)
		}
		if res.Replay || res.Accepted < 19000 {
			b.Fatalf("%+v", res)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
	b.ReportMetric(20000/lat[len(lat)/2].Seconds(), "records/s")
}

func phoneFor(i int) string {
	return "+6281300" + string(rune('0'+i/10%10)) + string(rune('0'+i%10)) + "1234"
}
