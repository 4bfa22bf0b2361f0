package pausemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPauses: sleeps that overran by more than the thresholds are logged
// with HDFS's line and counted; small slips only add to the extra time.
func TestPauses(t *testing.T) {
	var logs bytes.Buffer
	m := New(slog.New(slog.NewTextHandler(&logs, nil)))
	clock := time.Unix(1000, 0)
	overruns := []time.Duration{0, 20 * time.Millisecond, 2 * time.Second, 12 * time.Second}
	i := 0
	m.now = func() time.Time { return clock }
	m.sleep = func(_ context.Context, d time.Duration) bool {
		if i == len(overruns) {
			return false
		}
		clock = clock.Add(d + overruns[i])
		i++
		return true
	}
	m.Run(context.Background())
	f := m.Figures()
	if f.GcNumInfoThresholdExceeded != 1 || f.GcNumWarnThresholdExceeded != 1 || f.GcTotalExtraSleepTime != 14020 {
		t.Fatalf("figures %+v", f)
	}
	for _, want := range []string{
		`level=INFO msg="Detected pause in JVM or host machine (eg GC): pause of approximately 2000ms"`,
		`level=WARN msg="Detected pause in JVM or host machine (eg GC): pause of approximately 12000ms"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("no %s in\n%s", want, logs.String())
		}
	}
}
