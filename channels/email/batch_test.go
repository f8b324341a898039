package email

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"lindungi/channels"
	"lindungi/store"
	"lindungi/store/storetest"
)

// batchSink is a channels.BatchSink over memSink: DeliverBatch delivers in
// the given order and, like the bot's, one failure does not stop the rest.
// It checks the cursor invariant on every first delivery: the committed
// cursor is below every UID that is not stored yet, i.e. the runner never
// moves the cursor past mail that did not commit.
type batchSink struct {
	*memSink
	t        testing.TB
	box      MailboxConfig
	mu       sync.Mutex
	batches  []int                        // sizes of DeliverBatch calls
	order    []uint32                     // UIDs in delivery order (first deliveries)
	before   func(ins []channels.Inbound) // runs at the start of each DeliverBatch
	violated atomic.Int64
}

func newBatchSink(t testing.TB, s *memSink, box MailboxConfig) *batchSink {
	return &batchSink{memSink: s, t: t, box: box}
}

func (s *batchSink) DeliverBatch(ctx context.Context, ins []channels.Inbound) []error {
	s.mu.Lock()
	s.batches = append(s.batches, len(ins))
	before := s.before
	s.mu.Unlock()
	if before != nil {
		before(ins)
	}
	errs := make([]error, len(ins))
	for i, in := range ins {
		s.memSink.mu.Lock()
		_, stored := s.memSink.got[in.ExternalID]
		s.memSink.mu.Unlock()
		uid, _ := strconv.ParseUint(in.Meta[MetaUID], 10, 32)
		if !stored {
			var last int64
			s.db.QueryRow(ctx, `SELECT COALESCE(MAX(last_uid), 0) FROM email_cursors WHERE mailbox = ? AND folder = ?`, s.box.Address, s.box.Folder).Scan(&last)
			if uint64(last) >= uid {
				s.violated.Add(1)
				s.t.Errorf("UID %d delivered for the first time with the cursor already at %d", uid, last)
			}
		}
		errs[i] = s.memSink.Deliver(ctx, in)
		if errs[i] == nil && !stored {
			s.mu.Lock()
			s.order = append(s.order, uint32(uid))
			s.mu.Unlock()
		}
	}
	return errs
}

func manyMails(from, n int) [][]byte {
	var m [][]byte
	for i := from; i < from+n; i++ {
		m = append(m, testMail(i))
	}
	return m
}

// waitCursor gives the runner up to 10 s to commit its cursor at uid (a
// failure guard; the caller checks the cursor afterwards).
func waitCursor(t testing.TB, s *memSink, box MailboxConfig, uid int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for cursorOf(t, s, box) != uid && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

func cursorOf(t testing.TB, s *memSink, box MailboxConfig) int64 {
	t.Helper()
	var last int64
	s.db.QueryRow(context.Background(), `SELECT COALESCE(MAX(last_uid), 0) FROM email_cursors WHERE mailbox = ? AND folder = ?`, box.Address, box.Folder).Scan(&last)
	return last
}

func unseen(t testing.TB, addr string) int {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Login("user", "pass").Wait()
	if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	return len(data.AllUIDs())
}

// batchMailbox is an in-memory IMAP server holding n mails and a runner for
// it on a fresh database (afterImport "" means the default, seen).
func batchMailbox(t *testing.T, n int, afterImport string) (addr string, db *store.DB, r *Runner, box MailboxConfig) {
	t.Helper()
	addr = memIMAP(t)
	db = storetest.SQLite(t)
	appendMsgs(t, addr, "user", "pass", "INBOX", manyMails(1, n)...)
	box = MailboxConfig{Address: "pedulilindungi@kemkes.go.id", IMAPURL: "imap://" + addr, Username: "user", Password: "pass", AfterImport: afterImport}
	r, err := NewRunner(box, fastCfg(), db, nil)
	if err != nil {
		t.Fatal(err)
	}
	return addr, db, r, r.box
}

// TestRunnerBatchChunks: a mailbox larger than several chunks goes to a
// BatchSink in chunks of at most chunkMails, in UID order, every mail once;
// the cursor ends at the last UID and everything is flagged \Seen.
func TestRunnerBatchChunks(t *testing.T) {
	const n = 3*chunkMails + 17
	addr, db, r, box := batchMailbox(t, n, "")
	sink := newBatchSink(t, newMemSink(db), box)
	stop := runRunner(t, r, sink)
	sink.waitFor(t, n, 30*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for (cursorOf(t, sink.memSink, box) != n || unseen(t, addr) != 0) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if c := cursorOf(t, sink.memSink, box); c != n {
		t.Errorf("cursor %d, want %d", c, n)
	}
	if u := unseen(t, addr); u != 0 {
		t.Errorf("%d mails left unseen", u)
	}
	if sink.calls != n {
		t.Errorf("%d deliveries for %d mails", sink.calls, n)
	}
	if r.Imported() != n {
		t.Errorf("imported %d, want %d", r.Imported(), n)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.batches) < 4 {
		t.Errorf("batches %v: want at least 4 chunks", sink.batches)
	}
	for _, b := range sink.batches {
		if b > chunkMails {
			t.Errorf("batch of %d > %d", b, chunkMails)
		}
	}
	for i, uid := range sink.order {
		if uid != uint32(i+1) {
			t.Fatalf("delivery %d was UID %d: not in UID order", i, uid)
		}
	}
}

// TestRunnerBatchFailureMidChunk: one mail in the middle of a chunk fails
// once while the mail behind it commits. The cursor must stay below the
// failed mail (else it would be skipped forever); the next pass re-fetches
// from there, the failed mail is imported, the committed ones come again as
// duplicates and nothing is lost or stored twice.
func TestRunnerBatchFailureMidChunk(t *testing.T) {
	const n = chunkMails + 40
	_, db, r, box := batchMailbox(t, n, "")
	ms := newMemSink(db)
	var failed atomic.Bool
	var cursorAtFailure atomic.Int64
	cursorAtFailure.Store(-1)
	ms.fail = func(in channels.Inbound) error {
		if in.Meta[MetaMessageID] == "m50@example.com" && !failed.Swap(true) {
			return errors.New("database is locked")
		}
		return nil
	}
	sink := newBatchSink(t, ms, box)
	sink.before = func(ins []channels.Inbound) {
		// The first batch after the failure: by now the failed chunk is
		// settled; its cursor must not have passed UID 50.
		if failed.Load() && cursorAtFailure.Load() < 0 {
			cursorAtFailure.Store(cursorOf(t, ms, box))
		}
	}
	stop := runRunner(t, r, sink)
	sink.waitFor(t, n, 30*time.Second)
	waitCursor(t, ms, box, n)
	stop()
	if !failed.Load() {
		t.Fatal("failure injection did not run")
	}
	if c := cursorAtFailure.Load(); c < 0 || c >= 50 {
		t.Errorf("cursor after the failed chunk: %d, want < 50", c)
	}
	if c := cursorOf(t, ms, box); c != n {
		t.Errorf("final cursor %d, want %d", c, n)
	}
	if ms.count() != n {
		t.Errorf("%d distinct mails stored, want %d", ms.count(), n)
	}
	if sink.violated.Load() != 0 {
		t.Errorf("cursor passed uncommitted mail %d times", sink.violated.Load())
	}
	// Mail 50 and behind: stored once as new; re-deliveries are duplicates.
	sink.mu.Lock()
	seen := map[uint32]int{}
	for _, u := range sink.order {
		seen[u]++
	}
	sink.mu.Unlock()
	for u := uint32(1); u <= n; u++ {
		if seen[u] != 1 {
			t.Errorf("UID %d stored %d times", u, seen[u])
		}
	}
}

// TestRunnerBatchPoison: a mail in the middle of a chunk that always fails
// is stored raw after poisonAfter passes, and everything behind it arrives.
func TestRunnerBatchPoison(t *testing.T) {
	const n = 100
	_, db, r, box := batchMailbox(t, n, "keep")
	ms := newMemSink(db)
	var attempts atomic.Int64
	ms.fail = func(in channels.Inbound) error {
		if in.Meta[MetaMessageID] == "m30@example.com" && !in.Unparseable {
			attempts.Add(1)
			return errors.New("bot: action create_ticket: something about this mail")
		}
		return nil
	}
	sink := newBatchSink(t, ms, box)
	stop := runRunner(t, r, sink)
	sink.waitFor(t, n, 60*time.Second)
	waitCursor(t, ms, box, n)
	stop()
	if a := attempts.Load(); a != poisonAfter {
		t.Errorf("%d failed attempts before the fallback, want %d", a, poisonAfter)
	}
	ms.mu.Lock()
	var poison channels.Inbound
	for _, in := range ms.got {
		if in.Meta[MetaMessageID] == "m30@example.com" {
			poison = in
		}
	}
	ms.mu.Unlock()
	if !poison.Unparseable || len(poison.Raw) == 0 || poison.Meta[MetaUID] != "30" {
		t.Errorf("poison mail not stored raw: unparseable=%v raw=%d uid=%q", poison.Unparseable, len(poison.Raw), poison.Meta[MetaUID])
	}
	if c := cursorOf(t, ms, box); c != n {
		t.Errorf("cursor %d, want %d", c, n)
	}
}

// TestRunnerBatchExpunged: a mail expunged after the sizes pass but before
// its chunk is fetched is skipped, and the cursor still passes it.
func TestRunnerBatchExpunged(t *testing.T) {
	const n = 3 * chunkMails
	const gone = 3*chunkMails - 5 // in the third chunk
	addr, db, r, box := batchMailbox(t, n, "keep")
	ms := newMemSink(db)
	sink := newBatchSink(t, ms, box)
	var once sync.Once
	sink.before = func([]channels.Inbound) {
		// During the first chunk's delivery; the third chunk is fetched
		// only after the first has settled.
		once.Do(func() {
			c, err := imapclient.DialInsecure(addr, nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			c.Login("user", "pass").Wait()
			c.Select("INBOX", nil).Wait()
			set := imap.UIDSetNum(gone)
			if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
				t.Error(err)
			}
			if err := c.UIDExpunge(set).Close(); err != nil {
				t.Error(err)
			}
		})
	}
	stop := runRunner(t, r, sink)
	sink.waitFor(t, n-1, 30*time.Second)
	waitCursor(t, ms, box, n)
	time.Sleep(300 * time.Millisecond) // a pass or two more: nothing may change
	stop()
	if c := cursorOf(t, ms, box); c != n {
		t.Errorf("cursor %d, want %d", c, n)
	}
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if len(ms.got) != n-1 || ms.calls != n-1 {
		t.Errorf("%d stored in %d deliveries, want %d", len(ms.got), ms.calls, n-1)
	}
	for _, in := range ms.got {
		if in.Meta[MetaUID] == fmt.Sprint(gone) {
			t.Errorf("expunged UID %d delivered", gone)
		}
	}
}
