package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
)

// countingReader counts what is read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endless is `{"records":[` followed by `{},` forever.
type endless struct{ off int }

func (e *endless) Read(p []byte) (int, error) {
	const head = `{"records":[`
	for i := range p {
		if e.off < len(head) {
			p[i] = head[e.off]
		} else {
			p[i] = "{},"[(e.off-len(head))%3]
		}
		e.off++
	}
	return len(p), nil
}

// The body is decoded as a stream: the record cap refuses an upload as soon
// as record MaxRecords+1 starts, having read about that many records, not
// the 16 MiB the byte cap allows; shapes other than an object with a
// records array are malformed; unknown members are skipped.
func TestDecodeUploadStreams(t *testing.T) {
	svc := &Service{cfg: Config{MaxRecords: 1000}.withDefaults()}
	rec := `{"v":2,"msg":"x","org":"ID_MOH","modelP":"A","modelC":"B","rssi":-60,"txPower":12,"timestamp":1700000000}`
	cases := []struct {
		name string
		body string
		want error
		n    int
	}{
		{"records", `{"records":[` + rec + `,` + rec + `]}`, nil, 2},
		{"unknown members skipped", `{"uid":"abc","meta":{"a":[1,{"b":null}]},"records":[` + rec + `],"x":[]}`, nil, 1},
		{"records null", `{"records":null}`, nil, 0},
		{"at the cap", `{"records":[` + strings.TrimSuffix(strings.Repeat(rec+",", 1000), ",") + `]}`, nil, 1000},
		{"over the cap", `{"records":[` + strings.TrimSuffix(strings.Repeat("{},", 1001), ",") + `]}`, ErrTooManyRecords, 0},
		{"array", `[` + rec + `]`, ErrBadUpload, 0},
		{"records not an array", `{"records":{"v":2}}`, ErrBadUpload, 0},
		{"record not an object", `{"records":[1]}`, ErrBadUpload, 0},
		{"records twice", `{"records":[],"records":[]}`, ErrBadUpload, 0},
		{"truncated", `{"records":[` + rec, ErrBadUpload, 0},
		{"empty body", ``, ErrBadUpload, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := svc.DecodeUpload(strings.NewReader(c.body))
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if len(recs) != c.n {
				t.Fatalf("%d records, want %d", len(recs), c.n)
			}
		})
	}
	t.Run("endless empty records", func(t *testing.T) {
		cr := &countingReader{r: &endless{}}
		if _, err := svc.DecodeUpload(cr); !errors.Is(err, ErrTooManyRecords) {
			t.Fatalf("error %v, want %v", err, ErrTooManyRecords)
		}
		// 1,001 records are 3 KB; the decoder reads ahead in small chunks.
		if cr.n > 64<<10 {
			t.Fatalf("read %d bytes to refuse 1,001 records", cr.n)
		}
	})
	t.Run("over the byte cap", func(t *testing.T) {
		small := &Service{cfg: Config{MaxUploadBytes: 4 << 10}.withDefaults()}
		if _, err := small.DecodeUpload(&endless{}); !errors.Is(err, ErrUploadTooLarge) {
			t.Fatalf("error %v, want %v", err, ErrUploadTooLarge)
		}
	})
}

// failReader fails the test when anything reads it.
type failReader struct{ t *testing.T }

func (f failReader) Read([]byte) (int, error) {
	f.t.Error("the body was read")
	return 0, io.EOF
}

// A device without an open window, or over its hourly limit, is refused
// before one byte of its body is read; each refusal is counted, and the
// audit log gets the first per device per hour, also across replicas (two
// services on one database) and again in the next hour.
func TestUploadFromRefusesBeforeReading(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, Config{UploadsPerDevice: 2})
		replica, err := NewService(ctx, db, f.svc.sealer, f.sender, f.svc.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		a := f.register(t, phoneA)
		for i := 0; i < 5; i++ {
			for _, s := range []*Service{f.svc, replica} {
				if _, err := s.UploadFrom(ctx, a, failReader{t}); !errors.Is(err, ErrNotAuthorised) {
					t.Fatalf("without consent: %v", err)
				}
			}
		}
		audited := func() int {
			return count(t, db, `SELECT COUNT(*) FROM audit_log WHERE action = 'upload_refused' AND object_id = ?`, fmt.Sprint(a.ID))
		}
		if n := audited(); n != 1 {
			t.Fatalf("%d refusals audited, want 1", n)
		}
		if n := counted(t, f.svc, "refused_upload_not_authorised") + counted(t, replica, "refused_upload_not_authorised"); n != 10 {
			t.Fatalf("%v refusals counted, want 10", n)
		}

		// With consent: two uploads are admitted (and refused as malformed
		// once read), then the limit refuses without reading.
		if _, err := f.svc.MarkPositive(ctx, "officer", phoneA, f.clk.Now(), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error { return f.svc.RecordConsent(ctx, tx, channels.WhatsApp, phoneA, true, "") }); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Hour)
		for i := 0; i < 2; i++ {
			if _, err := f.svc.UploadFrom(ctx, a, strings.NewReader(`{"records":[{}]}`)); !errors.Is(err, ErrBadUpload) {
				t.Fatalf("admitted upload %d: %v", i, err)
			}
		}
		for i := 0; i < 3; i++ {
			if _, err := f.svc.UploadFrom(ctx, a, failReader{t}); !errors.Is(err, ErrTooMany) {
				t.Fatalf("over the limit: %v", err)
			}
		}
		if n := audited(); n != 2 {
			t.Fatalf("%d refusals audited over two hours, want 2", n)
		}
	})
}

// BenchmarkDecodeUpload20k: the streaming decoder against decoding the
// whole body at once (what it replaced), on a 20,000-record upload.
//
//	go test ./tracing -run '^$' -bench DecodeUpload20k -benchmem
func BenchmarkDecodeUpload20k(b *testing.B) {
	svc := &Service{cfg: Config{}.withDefaults()}
	var buf bytes.Buffer
	buf.WriteString(`{"records":[`)
	for i := 0; i < 20000; i++ {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"v":2,"msg":"%s","org":"ID_MOH","modelP":"SM-G973F","modelC":"SM-G981B/DS","rssi":%d,"txPower":12,"timestamp":%d}`,
			strings.Repeat("AbCd", 21), -40-i%30, 1700000000+i)
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	b.Run("stream", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.DecodeUpload(bytes.NewReader(body)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole", func(b *testing.B) {
		for b.Loop() {
			var v struct{ Records []Record }
			if err := json.NewDecoder(bytes.NewReader(body)).Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
