package dnproto

import "sort"

// SortLocations orders a block's holders as a reader on host reader (in
// rack readerRack) should try them — HDFS's DatanodeManager.sortLocatedBlock:
// decommissioned nodes last, the others by network distance from the
// reader (its own node, then its rack, then other racks), with equally
// distant nodes in the random order shuffle gives them to spread the load.
// lengths, when not nil, is kept in step with locs. The coordinator sorts
// its answers with it, and the metadata service the answers it kept.
func SortLocations(locs []DatanodeInfo, lengths []int64, reader, readerRack string, shuffle func(n int, swap func(i, j int))) {
	s := byDistance{locs: locs, lengths: lengths, reader: reader, rack: readerRack}
	shuffle(len(locs), s.Swap)
	sort.Stable(s)
}

type byDistance struct {
	locs         []DatanodeInfo
	lengths      []int64
	reader, rack string
}

func (s byDistance) Len() int           { return len(s.locs) }
func (s byDistance) Less(i, j int) bool { return s.weight(i) < s.weight(j) }
func (s byDistance) Swap(i, j int) {
	s.locs[i], s.locs[j] = s.locs[j], s.locs[i]
	if s.lengths != nil {
		s.lengths[i], s.lengths[j] = s.lengths[j], s.lengths[i]
	}
}

func (s byDistance) weight(i int) int {
	d := &s.locs[i]
	switch {
	case d.Decommissioned:
		return 3
	case s.reader != "" && (d.IPAddr == s.reader || d.HostName == s.reader):
		return 0
	case s.reader != "" && d.Rack == s.rack:
		return 1
	}
	return 2
}
