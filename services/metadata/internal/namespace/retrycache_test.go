package namespace

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/errs"
)

// call returns a context carrying client "c1"'s call n.
func call(n int64) context.Context {
	return WithCall(context.Background(), CallID{Client: "c1", Call: n})
}

// TestRetryCacheAnswersRetries: a non-idempotent call resent with the same
// call ID is answered with the first attempt's result and logs nothing;
// without the cache each of these retries would have failed or answered
// differently (a second rename of a moved source is false, a second create
// is AlreadyBeingCreated).
func TestRetryCacheAnswersRetries(t *testing.T) {
	ns, rec := newTestNS()
	opts := CreateOptions{ClientName: "w", Mode: -1}
	st1, err := ns.Create(call(1), super, "/f", opts)
	if err != nil {
		t.Fatal(err)
	}
	logged := len(rec.ops)
	st2, err := ns.Create(call(1), super, "/f", opts)
	if err != nil || st2 != st1 {
		t.Fatalf("retried create: %+v, %v; want %+v", st2, err, st1)
	}
	// Another call (a new call number) is applied: the file is leased.
	if _, err := ns.Create(call(2), super, "/f", opts); !errs.Is(err, errs.AlreadyBeingCreated) {
		t.Fatalf("a new create of a leased file: %v", err)
	}
	if err := ns.Complete(context.Background(), super, "/f", "w", nil); err != nil {
		t.Fatal(err)
	}
	logged = len(rec.ops)
	for i := 0; i < 2; i++ {
		if ok, err := ns.Rename(call(3), super, "/f", "/g"); !ok || err != nil {
			t.Fatalf("rename attempt %d: %v, %v", i, ok, err)
		}
	}
	if _, err := ns.Append(call(4), super, "/g", "w2", "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Append(call(4), super, "/g", "w2", "h"); err != nil {
		t.Fatalf("retried append: %v", err)
	}
	if err := ns.Complete(context.Background(), super, "/g", "w2", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if ok, err := ns.Delete(call(5), super, "/g", false); !ok || err != nil {
			t.Fatalf("delete attempt %d: %v, %v", i, ok, err)
		}
	}
	// rename, append, complete, delete: one op each.
	if got := len(rec.ops) - logged; got != 4 {
		t.Fatalf("logged %d ops for rename, append, complete and delete with retries, want 4", got)
	}
	// Without a call ID nothing is cached: a second delete reports false.
	if ok, _ := ns.Delete(context.Background(), super, "/g", false); ok {
		t.Fatal("a delete of a deleted file reported true")
	}
}

// TestRetryCacheRunsAFailedCallAgain: a call that failed is not answered
// from the cache: its retry runs (HDFS: only successes are kept).
func TestRetryCacheRunsAFailedCallAgain(t *testing.T) {
	ns, _ := newTestNS()
	if err := ns.Concat(call(1), super, "/t", []string{"/s"}); !errs.Is(err, errs.FileNotFound) {
		t.Fatalf("concat of missing files: %v", err)
	}
	for _, p := range []string{"/t", "/s"} {
		if _, err := ns.Create(context.Background(), super, p, CreateOptions{ClientName: "w", Mode: -1}); err != nil {
			t.Fatal(err)
		}
		if err := ns.Complete(context.Background(), super, p, "w", nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := ns.Concat(call(1), super, "/t", []string{"/s"}); err != nil {
		t.Fatalf("the retry of a failed concat did not run: %v", err)
	}
	if st, err := ns.GetFileInfo(super, "/s"); err == nil {
		t.Fatalf("the concat source is still there: %+v", st)
	}
}

// TestRetryCacheRebuiltFromTheEditLog: the call IDs logged with the ops
// rebuild the cache in a namespace that replays them (a standby, or a
// restart), so a call applied by the previous active is answered.
func TestRetryCacheRebuiltFromTheEditLog(t *testing.T) {
	live, rec := newTestNS()
	if err := live.Mkdirs(context.Background(), super, "/d", 0o755); err != nil {
		t.Fatal(err)
	}
	created, err := live.Create(call(1), super, "/d/f", CreateOptions{ClientName: "w", Mode: -1})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := live.Rename(call(2), super, "/d", "/e"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := live.Delete(call(3), super, "/x", true); ok || err != nil {
		t.Fatal(ok, err) // nothing to delete: nothing logged
	}
	standby := replay(t, rec)
	r := &recorder{}
	standby.SetJournal(r)
	if ok, err := standby.Rename(call(2), super, "/d", "/e"); !ok || err != nil {
		t.Fatalf("rename retried on the new active: %v, %v", ok, err)
	}
	st, err := standby.Create(call(1), super, "/d/f", CreateOptions{ClientName: "w", Mode: -1})
	if err != nil || st.FileID != created.FileID {
		t.Fatalf("create retried on the new active: %+v, %v; want file %d", st, err, created.FileID)
	}
	if len(r.ops) != 0 {
		t.Fatalf("retries on the new active logged %v", r.ops)
	}
	// The delete that logged nothing is not cached: it runs.
	if ok, err := standby.Delete(call(3), super, "/e", true); !ok || err != nil {
		t.Fatalf("delete: %v, %v", ok, err)
	}
}

// TestRetryCacheWaitsForTheFirstAttempt: a retry that arrives while the
// first attempt is still committing waits for its outcome instead of
// running beside it.
func TestRetryCacheWaitsForTheFirstAttempt(t *testing.T) {
	c := newRetryCache(time.Now)
	id := CallID{Client: "c", Call: 1}
	e, cached, err := c.start(context.Background(), id)
	if err != nil || cached {
		t.Fatal(cached, err)
	}
	var wg sync.WaitGroup
	got := make(chan any, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		e2, cached, err := c.start(context.Background(), id)
		if err != nil || !cached {
			got <- err
			return
		}
		got <- e2.payload
	}()
	select {
	case v := <-got:
		t.Fatalf("the retry did not wait for the first attempt: %v", v)
	case <-time.After(50 * time.Millisecond):
	}
	c.finish(e, true, "first")
	wg.Wait()
	if v := <-got; v != "first" {
		t.Fatalf("the retry got %v", v)
	}
	// A waiting retry gives up with its context.
	e3, _, _ := c.start(context.Background(), CallID{Client: "c", Call: 2})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, _, err := c.start(ctx, CallID{Client: "c", Call: 2}); err == nil {
		t.Fatal("a retry waited past its context")
	}
	c.finish(e3, false, nil)
}

// TestRetryCacheExpiry: entries go after dfs.namenode.retrycache.expirytime.
func TestRetryCacheExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newRetryCache(func() time.Time { return now })
	for i := int64(0); i < 3; i++ {
		c.replayed(CallID{Client: "c", Call: i}, true)
	}
	if c.len() != 3 {
		t.Fatalf("%d entries", c.len())
	}
	now = now.Add(RetryCacheExpiry)
	c.replayed(CallID{Client: "c", Call: 9}, true)
	if c.len() != 1 {
		t.Fatalf("%d entries after the expiry, want 1", c.len())
	}
}

// TestCompleteRetried: a complete sent again after it closed the file (its
// answer lost) succeeds, as HDFS's (HDFS-3031); another last block, or a
// file never closed by it, still fails.
func TestCompleteRetried(t *testing.T) {
	ns, rec := newTestNS()
	if _, err := ns.Create(context.Background(), super, "/f", CreateOptions{ClientName: "w", Mode: -1}); err != nil {
		t.Fatal(err)
	}
	b, err := ns.AddBlock(context.Background(), "/f", "w", nil)
	if err != nil {
		t.Fatal(err)
	}
	b.NumBytes = 10
	if err := ns.Complete(context.Background(), super, "/f", "w", &b); err != nil {
		t.Fatal(err)
	}
	logged := len(rec.ops)
	if err := ns.Complete(context.Background(), super, "/f", "w", &b); err != nil {
		t.Fatalf("a retried complete: %v", err)
	}
	if len(rec.ops) != logged {
		t.Fatal("a retried complete logged an op")
	}
	other := b
	other.GenStamp++
	if err := ns.Complete(context.Background(), super, "/f", "w", &other); !errs.Is(err, errs.LeaseExpired) {
		t.Fatalf("a complete with another last block: %v", err)
	}
}
