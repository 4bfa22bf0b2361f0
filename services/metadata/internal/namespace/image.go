package namespace

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
)

// Image format (docs/formats/fsimage.md): the magic, a header of uvarints,
// the string table, then every inode in pre-order (a parent always before
// its children, children in name order) in sections of sectionInodes, each
// led by its length in bytes so that sections decode in parallel, then a
// trailer repeating the inode count. Integrity (checksums) is the store's
// business.
const (
	imageMagic   = "GRNIMG01"
	imageVersion = 3 // 3 puts the inodes in sections; 2 adds the secret section; 1 and 2 are still read
	imageTrailer = "GRNEND01"
)

// sectionInodes is how many inodes an image section holds (the last
// fewer); the image records it. A variable so that tests make many.
var sectionInodes int64 = 1 << 16

const (
	flagDir   = 1 << 0
	flagQuota = 1 << 1
	flagUC    = 1 << 2
	// flagTruncating: under construction by a truncate whose recovery
	// stamp follows lastComplete.
	flagTruncating = 1 << 3
)

// WriteImage serialises the whole namespace (at TxID) to w.
func (ns *Namespace) WriteImage(w io.Writer) (inodes int64, err error) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	bw := bufio.NewWriterSize(w, 1<<20)
	e := encoder{buf: make([]byte, 0, 4096)}
	e.buf = append(e.buf, imageMagic...)
	e.uint(imageVersion)
	e.int(ns.txid)
	e.int(ns.lastInodeID)
	e.int(ns.lastBlockID)
	e.int(ns.genStamp)
	e.int(int64(len(ns.inodes)))
	e.uint(uint64(len(ns.strings.names)))
	for _, s := range ns.strings.names {
		e.str(s)
	}
	// Each section is encoded apart, then written after its length.
	e.uint(uint64(sectionInodes))
	sec := encoder{buf: make([]byte, 0, 1<<20)}
	var inSection int64
	flush := func(force bool) error {
		if inSection == 0 || (!force && inSection < sectionInodes) {
			return nil
		}
		e.uint(uint64(len(sec.buf)))
		e.buf = append(e.buf, sec.buf...)
		sec.buf, inSection = sec.buf[:0], 0
		_, err := bw.Write(e.buf)
		e.buf = e.buf[:0]
		return err
	}
	var walk func(n *Inode) error
	walk = func(n *Inode) error {
		writeInode(&sec, n)
		inodes++
		inSection++
		if err := flush(false); err != nil {
			return err
		}
		if n.dir != nil {
			for _, c := range n.dir.children {
				if err := walk(c); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(ns.root); err != nil {
		return 0, err
	}
	if err := flush(true); err != nil {
		return 0, err
	}
	ns.writeSecrets(&e)
	e.buf = append(e.buf, imageTrailer...)
	e.int(inodes)
	if _, err := bw.Write(e.buf); err != nil {
		return 0, err
	}
	return inodes, bw.Flush()
}

func writeInode(e *encoder, n *Inode) {
	var flags uint64
	if n.dir != nil {
		flags |= flagDir
		if n.dir.quota != nil {
			flags |= flagQuota
		}
	}
	if n.uc != nil {
		flags |= flagUC
		if n.uc.truncateGS != 0 {
			flags |= flagTruncating
		}
	}
	e.uint(flags)
	e.int(n.id)
	if n.parent != nil {
		e.int(n.parent.id)
	} else {
		e.int(0)
	}
	e.str(n.name)
	e.int(n.mtime)
	e.uint(uint64(n.owner))
	e.uint(uint64(n.group))
	e.uint(uint64(n.mode))
	if n.dir != nil {
		if n.dir.quota != nil {
			e.int(n.dir.quota.ns)
			e.int(n.dir.quota.ds)
		}
		return
	}
	e.int(n.atime)
	e.uint(uint64(n.repl))
	e.int(n.blockSize)
	e.blocks(n.blocks)
	if n.uc != nil {
		e.str(n.uc.clientName)
		e.str(n.uc.clientMachine)
		e.bool(n.uc.lastComplete)
		if n.uc.truncateGS != 0 {
			e.int(n.uc.truncateGS)
		}
	}
}

// ErrCorruptImage is returned (wrapped) for an image that does not decode.
var ErrCorruptImage = errors.New("corrupt fsimage")

// ImageSource is an image whose bytes may still be arriving (the store's
// ImageStream): Data is the buffer of its final size, of which only the
// first n bytes may be read once Wait(n) returned nil.
type ImageSource interface {
	Data() []byte
	Wait(n int) error
}

// wholeImage is an image already read.
type wholeImage []byte

func (w wholeImage) Data() []byte   { return w }
func (w wholeImage) Wait(int) error { return nil }

// LoadImage builds a namespace from an image. progress, when set, is called
// with the number of inodes loaded so far every 65,536 inodes.
func LoadImage(cfg Config, data []byte, progress func(loaded, total int64)) (*Namespace, error) {
	return LoadImageFrom(cfg, wholeImage(data), progress)
}

// imageHeader is what precedes an image's inodes.
type imageHeader struct {
	version                                  uint64
	txid, lastID, lastBlock, genStamp, total int64
	sectionSize                              int64 // version 3
}

// headerPrefix is how much of an image is awaited before its header is
// decoded; a longer header (a large string table) waits for twice as much.
const headerPrefix = 1 << 20

// LoadImageFrom is LoadImage over an image still being read: the header
// is decoded once its bytes are there, and each section of inodes
// (version 3) as soon as it has arrived, in parallel with the read.
func LoadImageFrom(cfg Config, src ImageSource, progress func(loaded, total int64)) (*Namespace, error) {
	data := src.Data()
	if len(data) < len(imageMagic) {
		return nil, fmt.Errorf("%w: bad magic", ErrCorruptImage)
	}
	var ns *Namespace
	var h imageHeader
	var pos int // where the inodes start
	for avail := min(len(data), headerPrefix); ; avail = min(len(data), 2*avail) {
		if err := src.Wait(avail); err != nil {
			return nil, err
		}
		var err error
		if ns, h, pos, err = readImageHeader(cfg, data[:avail], len(data)); err == nil {
			break
		} else if avail == len(data) {
			return nil, err
		}
	}
	total := h.total
	// The inodes are decoded (in parallel, section by section, from
	// version 3) and then linked in their order.
	var sections [][]inodeRecord
	if h.version >= 3 {
		size := h.sectionSize
		type job struct {
			i   int
			buf []byte
		}
		jobs := make(chan job, runtime.GOMAXPROCS(0))
		count := int((total + size - 1) / size)
		sections = make([][]inodeRecord, count)
		errs := make([]error, count)
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), count) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range jobs {
					n := min(size, total-int64(j.i)*size)
					sd := decoder{buf: j.buf}
					sections[j.i], errs[j.i] = readInodes(&sd, ns, n)
					if errs[j.i] == nil && len(sd.buf) != 0 {
						errs[j.i] = fmt.Errorf("%d bytes after its inodes", len(sd.buf))
					}
				}
			}()
		}
		var err error
		for i := 0; i < count && err == nil; i++ {
			// Each section is led by its byte length.
			if err = src.Wait(min(len(data), pos+binary.MaxVarintLen64)); err != nil {
				break
			}
			window := data[pos:min(len(data), pos+binary.MaxVarintLen64)]
			d := decoder{buf: window}
			n := d.uint()
			pos += len(window) - len(d.buf)
			if d.err != nil || n > uint64(len(data)-pos) {
				err = fmt.Errorf("%w: section %d: bad length", ErrCorruptImage, i)
				break
			}
			if err = src.Wait(pos + int(n)); err != nil {
				break
			}
			jobs <- job{i, data[pos : pos+int(n)]}
			pos += int(n)
		}
		close(jobs)
		wg.Wait()
		if err != nil {
			return nil, err
		}
		for i, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("%w: section %d: %v", ErrCorruptImage, i, err)
			}
		}
	}
	if err := src.Wait(len(data)); err != nil {
		return nil, err
	}
	d := decoder{buf: data[pos:]}
	if h.version < 3 {
		recs, err := readInodes(&d, ns, total)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorruptImage, err)
		}
		sections = [][]inodeRecord{recs}
	}
	var quotaDirs []*Inode
	var loaded int64
	for _, recs := range sections {
		for _, r := range recs {
			n, parentID := r.n, r.parent
			if loaded == 0 {
				if n.id != RootInodeID || n.dir == nil {
					return nil, fmt.Errorf("%w: first inode is not the root", ErrCorruptImage)
				}
				ns.root = n
			} else {
				parent := ns.inodes[parentID]
				if parent == nil || parent.dir == nil {
					return nil, fmt.Errorf("%w: inode %d has no parent directory %d", ErrCorruptImage, n.id, parentID)
				}
				if k := len(parent.dir.children); k > 0 && parent.dir.children[k-1].name >= n.name {
					return nil, fmt.Errorf("%w: children of inode %d out of order", ErrCorruptImage, parentID)
				}
				n.parent = parent
				parent.dir.children = append(parent.dir.children, n)
			}
			if _, dup := ns.inodes[n.id]; dup {
				return nil, fmt.Errorf("%w: duplicate inode %d", ErrCorruptImage, n.id)
			}
			ns.inodes[n.id] = n
			if n.uc != nil && n.uc.truncateGS != 0 {
				ns.truncating[n] = true
			}
			if n.dir != nil {
				ns.dirs++
				if n.dir.quota != nil {
					quotaDirs = append(quotaDirs, n)
				}
			} else {
				ns.files++
				_, _, b := countKinds(n)
				ns.blocks.Add(b)
			}
			if progress != nil && loaded&0xffff == 0 {
				progress(loaded, total)
			}
			loaded++
		}
	}
	if h.version >= 2 {
		ns.readSecrets(&d)
		if d.err != nil {
			return nil, fmt.Errorf("%w: secret section: %v", ErrCorruptImage, d.err)
		}
	}
	if len(d.buf) < len(imageTrailer) || string(d.buf[:len(imageTrailer)]) != imageTrailer {
		return nil, fmt.Errorf("%w: missing trailer", ErrCorruptImage)
	}
	d.buf = d.buf[len(imageTrailer):]
	if n := d.int(); n != total || len(d.buf) != 0 || d.err != nil {
		return nil, fmt.Errorf("%w: bad trailer", ErrCorruptImage)
	}
	for _, q := range quotaDirs {
		q.dir.quota.nsUsed, q.dir.quota.dsUsed = count(q)
	}
	ns.txid, ns.lastInodeID, ns.lastBlockID, ns.genStamp = h.txid, h.lastID, h.lastBlock, h.genStamp
	if progress != nil {
		progress(total, total)
	}
	return ns, nil
}

// readImageHeader decodes the header and string table at the start of
// data, the first bytes of an image of size bytes, into a new namespace;
// it returns where the inodes start.
func readImageHeader(cfg Config, data []byte, size int) (*Namespace, imageHeader, int, error) {
	var h imageHeader
	if string(data[:len(imageMagic)]) != imageMagic {
		return nil, h, 0, fmt.Errorf("%w: bad magic", ErrCorruptImage)
	}
	d := decoder{buf: data[len(imageMagic):]}
	h.version = d.uint()
	if h.version < 1 || h.version > imageVersion {
		return nil, h, 0, fmt.Errorf("%w: unsupported image version %d", ErrCorruptImage, h.version)
	}
	ns := New(cfg)
	h.txid, h.lastID, h.lastBlock, h.genStamp, h.total = d.int(), d.int(), d.int(), d.int(), d.int()
	nstr := d.uint()
	if d.err != nil || nstr > uint64(size) || h.total < 1 || h.total > int64(size) {
		return nil, h, 0, fmt.Errorf("%w: bad header", ErrCorruptImage)
	}
	ns.strings = newStrtab()
	for i := uint64(0); i < nstr && d.err == nil; i++ {
		ns.strings.id(d.str())
	}
	if h.version >= 3 {
		h.sectionSize = int64(d.uint())
		if d.err == nil && h.sectionSize < 1 {
			return nil, h, 0, fmt.Errorf("%w: bad section size", ErrCorruptImage)
		}
	}
	if d.err != nil {
		return nil, h, 0, fmt.Errorf("%w: header: %v", ErrCorruptImage, d.err)
	}
	ns.inodes = make(map[int64]*Inode, h.total)
	ns.files, ns.dirs = 0, 0
	return ns, h, len(data) - len(d.buf), nil
}

// inodeRecord is a decoded inode and its parent's ID, not linked yet.
type inodeRecord struct {
	n      *Inode
	parent int64
}

// readInodes decodes count inodes from d, allocated together.
func readInodes(d *decoder, ns *Namespace, count int64) ([]inodeRecord, error) {
	if count > int64(len(d.buf)) {
		return nil, fmt.Errorf("%d inodes in %d bytes", count, len(d.buf))
	}
	slab := make([]Inode, count)
	recs := make([]inodeRecord, count)
	for i := range slab {
		recs[i] = inodeRecord{&slab[i], readInode(d, ns, &slab[i])}
		if d.err != nil {
			return nil, fmt.Errorf("inode %d: %v", i, d.err)
		}
	}
	return recs, nil
}

// readInode decodes one inode into n and returns its parent's ID. It only
// reads ns (its string table), so sections decode concurrently.
func readInode(d *decoder, ns *Namespace, n *Inode) int64 {
	flags := d.uint()
	n.id = d.int()
	parentID := d.int()
	n.name = d.str()
	n.mtime = d.int()
	owner, group := d.uint(), d.uint()
	n.mode = d.u16()
	if owner >= uint64(len(ns.strings.names)) || group >= uint64(len(ns.strings.names)) {
		d.fail("owner or group index")
		return 0
	}
	n.owner, n.group = uint32(owner), uint32(group)
	if flags&flagDir != 0 {
		n.dir = &dirInfo{}
		if flags&flagQuota != 0 {
			n.dir.quota = &quota{ns: d.int(), ds: d.int()}
		}
		return parentID
	}
	n.atime = d.int()
	n.repl = d.u16()
	n.blockSize = d.int()
	n.blocks = d.blocks()
	if len(n.blocks) == 0 {
		n.blocks = nil
	}
	if flags&flagUC != 0 {
		n.uc = &ucInfo{clientName: d.str(), clientMachine: d.str(), lastComplete: d.bool()}
		if flags&flagTruncating != 0 {
			n.uc.truncateGS = d.int()
		}
	}
	return parentID
}
