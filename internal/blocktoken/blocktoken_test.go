package blocktoken

import (
	"testing"
	"time"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
)

func TestCheck(t *testing.T) {
	m := NewMaster(time.Hour, 2*time.Hour)
	clock := time.Now()
	m.now = func() time.Time { return clock }
	dn := NewSet()
	dn.now = m.now
	tok, err := m.Issue("alice", "BP-1", 42, hadooptoken.Read)
	if err != nil {
		t.Fatal(err)
	}
	if err := dn.Check(tok, "BP-1", 42, hadooptoken.Read); !errs.Is(err, errs.InvalidToken) {
		t.Fatalf("a datanode without keys accepted a token: %v", err)
	}
	dn.Update(m.Keys())
	if err := dn.Check(tok, "BP-1", 42, hadooptoken.Read); err != nil {
		t.Fatal(err)
	}
	forged, _ := hadooptoken.Decode(tok)
	forged.Password[0] ^= 1
	other := NewMaster(time.Hour, 10*time.Minute)
	foreign, _ := other.Issue("alice", "BP-1", 42, hadooptoken.Read)
	for name, c := range map[string]struct {
		tok, bpid string
		id        int64
		mode      hadooptoken.AccessMode
	}{
		"none": {"", "BP-1", 42, hadooptoken.Read}, "garbage": {"xyz", "BP-1", 42, hadooptoken.Read},
		"wrong block": {tok, "BP-1", 43, hadooptoken.Read}, "wrong pool": {tok, "BP-2", 42, hadooptoken.Read},
		"wrong mode": {tok, "BP-1", 42, hadooptoken.Write}, "forged password": {forged.Encode(), "BP-1", 42, hadooptoken.Read},
		"another master's key": {foreign, "BP-1", 42, hadooptoken.Read},
	} {
		if err := dn.Check(c.tok, c.bpid, c.id, c.mode); !errs.Is(err, errs.InvalidToken) {
			t.Errorf("%s: %v, want InvalidToken", name, err)
		}
	}
	// Rotation: a token of the previous key still verifies at a datanode
	// that got the new set; after its lifetime it expires.
	clock = clock.Add(61 * time.Minute)
	if !m.RollIfDue() || m.RollIfDue() {
		t.Fatal("RollIfDue did not roll exactly once")
	}
	old := m.Keys()
	if old.Generation == 0 || len(old.Keys) != 3 || old.Current != old.Keys[1].ID {
		t.Fatalf("after a roll: %v", old)
	}
	dn.Update(old)
	if err := dn.Check(tok, "BP-1", 42, hadooptoken.Read); err != nil {
		t.Fatalf("the previous key's token after a roll: %v", err)
	}
	clock = clock.Add(70 * time.Minute)
	if err := dn.Check(tok, "BP-1", 42, hadooptoken.Read); !errs.Is(err, errs.InvalidToken) {
		t.Fatalf("an expired token: %v", err)
	}
	fresh, _ := m.Issue("alice", "BP-1", 42, hadooptoken.Write, hadooptoken.Copy)
	if err := dn.Check(fresh, "BP-1", 42, hadooptoken.Copy); err != nil {
		t.Fatal(err)
	}
}

// TestResume: a master resuming another's keys (a new active metadata
// service) signs tokens that a datanode holding the old keys accepts, and
// rolls on from them; keys that have all expired are not resumed.
func TestResume(t *testing.T) {
	old := NewMaster(time.Hour, 2*time.Hour)
	dn := NewSet()
	dn.Update(old.Keys())
	next := NewMaster(time.Hour, 2*time.Hour)
	if !next.Resume(old.Keys()) {
		t.Fatal("live keys were not resumed")
	}
	tok, err := next.Issue("alice", "BP-1", 7, hadooptoken.Read)
	if err != nil {
		t.Fatal(err)
	}
	if err := dn.Check(tok, "BP-1", 7, hadooptoken.Read); err != nil {
		t.Fatalf("a token of the resumed keys: %v", err)
	}
	clock := time.Now().Add(time.Hour)
	next.now = func() time.Time { return clock }
	if !next.RollIfDue() || next.Keys().Current == old.Keys().Current {
		t.Fatal("the resumed master did not roll on")
	}
	late := NewMaster(time.Hour, 2*time.Hour)
	late.now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	if late.Resume(old.Keys()) {
		t.Fatal("expired keys were resumed")
	}
}
