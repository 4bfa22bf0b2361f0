package metadata_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// TestTrashEmptier: with fs.trash.interval set, the emptier turns each
// home directory's .Trash/Current into a checkpoint named by the time and
// deletes checkpoints older than the interval, as HDFS's
// TrashPolicyDefault.
func TestTrashEmptier(t *testing.T) {
	cfg := testConfig(formatted(t))
	cfg.TrashInterval = 1 // minute
	cfg.TrashCheckpointInterval = 100 * time.Millisecond
	n := start(t, cfg)
	for _, p := range []string{"/user/alice/.Trash/Current/tmp/x", "/user/alice/.Trash/200101000000/old", "/user/bob/.Trash/Current/y"} {
		if code, body := n.call("PUT", "/webhdfs/v1"+p+"?op=MKDIRS&user.name="+superuser, nil); code != 200 {
			t.Fatalf("mkdirs %s: %d %s", p, code, body)
		}
	}
	list := func(p string) []string {
		_, body := n.call("GET", "/webhdfs/v1"+p+"?op=LISTSTATUS&user.name="+superuser, nil)
		var ls struct {
			FileStatuses struct {
				FileStatus []struct{ PathSuffix string }
			}
		}
		_ = json.Unmarshal(body, &ls)
		var names []string
		for _, st := range ls.FileStatuses.FileStatus {
			names = append(names, st.PathSuffix)
		}
		return names
	}
	checkpoint := regexp.MustCompile(`^\d{12}(-\d+)?$`)
	for _, user := range []string{"alice", "bob"} {
		root := "/user/" + user + "/.Trash"
		eventually(t, 20*time.Second, "a checkpoint of "+root+"/Current and no expired one", func() bool {
			names := list(root)
			return len(names) == 1 && checkpoint.MatchString(names[0]) && names[0] != "200101000000"
		})
	}
	if got := list("/user/alice/.Trash/" + list("/user/alice/.Trash")[0] + "/tmp"); len(got) != 1 || got[0] != "x" {
		t.Fatalf("the checkpoint holds %v, want what Current held", got)
	}
}
