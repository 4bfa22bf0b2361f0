package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/granary-fs/granary/internal/proctest"
)

// TestEveryFlagNamesItsVariable: `granary <service> -h` shows, for every
// flag, the GRANARY_* variable that sets it.
func TestEveryFlagNamesItsVariable(t *testing.T) {
	bin := proctest.Granary(t)
	for _, svc := range []string{"metadata", "coordinator", "datanode", "router"} {
		out, _ := exec.Command(bin, svc, "-h").CombinedOutput()
		lines := strings.Split(string(out), "\n")
		flags := 0
		for i := 0; i < len(lines); i++ {
			line := lines[i]
			if !strings.HasPrefix(line, "  -") {
				continue
			}
			flags++
			help := line
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], "    \t") {
				help += lines[i+1]
			}
			if !strings.Contains(help, "GRANARY_") {
				t.Errorf("granary %s: %s names no GRANARY_* variable", svc, strings.Fields(line)[0])
			}
		}
		if flags < 5 {
			t.Fatalf("granary %s -h printed %d flags:\n%s", svc, flags, out)
		}
	}
}
