package metadata_test

import (
	"net/http"
	"testing"
)

func TestSmoke(t *testing.T) {
	n := start(t, testConfig(formatted(t)))
	var b struct{ Boolean bool }
	n.want(http.StatusOK, "PUT", "/webhdfs/v1/a/b?op=MKDIRS&user.name=hdfs", &b)
	if !b.Boolean {
		t.Fatal("mkdirs false")
	}
	var st struct{ FileStatus map[string]any }
	n.want(http.StatusOK, "GET", "/webhdfs/v1/a/b?op=GETFILESTATUS", &st)
	t.Logf("%v", st)
}
