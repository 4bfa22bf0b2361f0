package datanode

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestFileIOPercentageAsHDFSTakesIt: 0 or less turns profiling off, more
// than 100 is 100 with HDFS's warning, and the datanode starts either way.
func TestFileIOPercentageAsHDFSTakesIt(t *testing.T) {
	for _, c := range []struct{ in, want int }{{-3, 0}, {0, 0}, {10, 10}, {100, 100}, {500, 100}} {
		var logs bytes.Buffer
		got := fileIOPercentage(c.in, slog.New(slog.NewTextHandler(&logs, nil)))
		if got != c.want {
			t.Errorf("%d: %d, want %d", c.in, got, c.want)
		}
		warned := strings.Contains(logs.String(), "value cannot be more than 100. Setting value to 100")
		if warned != (c.in > 100) {
			t.Errorf("%d: warned %v; logs %s", c.in, warned, logs.String())
		}
	}
	s, err := New(Config{DataDirs: []string{t.TempDir()}, FileIOProfilingPercentage: 500})
	if err != nil {
		t.Fatalf("a percentage over 100 stopped the datanode: %v", err)
	}
	if s.cfg.FileIOProfilingPercentage != 100 {
		t.Fatalf("percentage %d, want 100", s.cfg.FileIOProfilingPercentage)
	}
}
