package dnproto

import (
	"cmp"
	"strconv"
	"strings"
)

// SoftwareVersion is the version every Granary service reports (a
// datanode in its registration, the metadata service in JMX).
const SoftwareVersion = "0.1.0"

// MinDatanodeVersion is dfs.namenode.min.supported.datanode.version's
// default here: the first Granary release (HDFS's 2.1.0-beta names a
// Hadoop release, which no Granary datanode is).
const MinDatanodeVersion = "0.1.0"

// CompareVersions orders two versions as HDFS's VersionUtil does: dotted
// components compared numerically when both are numbers, a release after
// its pre-releases ("2.1.0-beta" < "2.1.0"); it returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	am, aq, _ := strings.Cut(a, "-")
	bm, bq, _ := strings.Cut(b, "-")
	ap, bp := strings.Split(am, "."), strings.Split(bm, ".")
	for i := 0; i < max(len(ap), len(bp)); i++ {
		x, y := "0", "0"
		if i < len(ap) {
			x = ap[i]
		}
		if i < len(bp) {
			y = bp[i]
		}
		xn, xerr := strconv.Atoi(x)
		yn, yerr := strconv.Atoi(y)
		var c int
		if xerr == nil && yerr == nil {
			c = cmp.Compare(xn, yn)
		} else {
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case aq == bq:
		return 0
	case aq == "":
		return 1
	case bq == "":
		return -1
	}
	return strings.Compare(aq, bq)
}
