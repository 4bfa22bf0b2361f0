package namespace

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// OpCode is an edit-log operation code. The numbers are HDFS's
// FSEditLogOpCodes, so an HDFS engineer reads our edit log with the same
// vocabulary.
type OpCode uint8

// The operation codes Granary writes.
const (
	OpAdd            OpCode = 0
	OpRenameOld      OpCode = 1
	OpDelete         OpCode = 2
	OpMkdir          OpCode = 3
	OpSetReplication OpCode = 4
	OpSetPermissions OpCode = 7
	OpSetOwner       OpCode = 8
	OpClose          OpCode = 9
	OpTimes          OpCode = 13
	OpSetQuota       OpCode = 14
	OpUpdateBlocks   OpCode = 25
	OpSetGenstampV2  OpCode = 31
	OpAddBlock       OpCode = 33
	OpAppend         OpCode = 47
	OpConcatDelete   OpCode = 16
	OpTruncate       OpCode = 46

	OpGetDelegationToken    OpCode = 18
	OpRenewDelegationToken  OpCode = 19
	OpCancelDelegationToken OpCode = 20
	OpUpdateMasterKey       OpCode = 21
)

var opNames = map[OpCode]string{
	OpAdd: "OP_ADD", OpRenameOld: "OP_RENAME_OLD", OpDelete: "OP_DELETE", OpMkdir: "OP_MKDIR",
	OpSetReplication: "OP_SET_REPLICATION", OpSetPermissions: "OP_SET_PERMISSIONS",
	OpSetOwner: "OP_SET_OWNER", OpClose: "OP_CLOSE", OpTimes: "OP_TIMES", OpSetQuota: "OP_SET_QUOTA",
	OpUpdateBlocks: "OP_UPDATE_BLOCKS", OpAddBlock: "OP_ADD_BLOCK", OpAppend: "OP_APPEND",
	OpConcatDelete: "OP_CONCAT_DELETE", OpTruncate: "OP_TRUNCATE", OpSetGenstampV2: "OP_SET_GENSTAMP_V2",
	OpGetDelegationToken: "OP_GET_DELEGATION_TOKEN", OpRenewDelegationToken: "OP_RENEW_DELEGATION_TOKEN",
	OpCancelDelegationToken: "OP_CANCEL_DELEGATION_TOKEN", OpUpdateMasterKey: "OP_UPDATE_MASTER_KEY",
}

func (c OpCode) String() string {
	if s, ok := opNames[c]; ok {
		return s
	}
	return fmt.Sprintf("OP_%d", uint8(c))
}

// Op is one edit-log record. Ops carry results, not requests (IDs, times and
// final paths are decided before the op is logged), so replaying an op is
// deterministic.
type Op interface {
	Code() OpCode
	encode(e *encoder)
	decode(d *decoder)
}

// Mkdir creates one directory (OP_MKDIR); mkdirs -p logs one per directory.
type Mkdir struct {
	InodeID      int64
	Path         string
	Owner, Group string
	Mode         uint16
	Mtime        int64
}

// Add creates a file under construction (OP_ADD); with Overwrite an existing
// file at Path is deleted first.
type Add struct {
	InodeID       int64
	Path          string
	Replication   uint16
	Mtime, Atime  int64
	BlockSize     int64
	Owner, Group  string
	Mode          uint16
	ClientName    string
	ClientMachine string
	Overwrite     bool
	RPC           CallID // the client call that created the file, if it sent one
}

// Close completes a file under construction (OP_CLOSE) with its final blocks.
type Close struct {
	Path         string
	Mtime, Atime int64
	Blocks       []Block
}

// Delete removes a path and everything below it (OP_DELETE).
type Delete struct {
	Path  string
	Mtime int64
	RPC   CallID
}

// RenameOld moves Src to exactly Dst (OP_RENAME_OLD); the caller has already
// resolved "into the directory Dst" to the final path.
type RenameOld struct {
	Src, Dst string
	Mtime    int64
	RPC      CallID
}

// SetPermissions sets the mode bits of a path (OP_SET_PERMISSIONS).
type SetPermissions struct {
	Path string
	Mode uint16
}

// SetOwner sets owner and/or group; an empty string leaves it (OP_SET_OWNER).
type SetOwner struct {
	Path         string
	Owner, Group string
}

// Times sets modification and access time; -1 leaves a time (OP_TIMES).
type Times struct {
	Path         string
	Mtime, Atime int64
}

// SetReplication sets a file's replication (OP_SET_REPLICATION).
type SetReplication struct {
	Path        string
	Replication uint16
}

// SetQuota sets a directory's quotas; -1 clears one (OP_SET_QUOTA).
type SetQuota struct {
	Path   string
	NS, DS int64
}

// AddBlock appends a new block to a file under construction
// (OP_ADD_BLOCK), committing the length of the previous last block. The new
// block's ID and generation stamp advance the namespace's counters (HDFS
// logs them as OP_ALLOCATE_BLOCK_ID and OP_SET_GENSTAMP_V2 too; here they
// ride on this op).
type AddBlock struct {
	Path        string
	Penultimate *Block // the previous last block with its final length, if any
	Last        Block
}

// UpdateBlocks replaces the block list of a file under construction
// (OP_UPDATE_BLOCKS): abandonBlock, updatePipeline.
type UpdateBlocks struct {
	Path   string
	Blocks []Block
	RPC    CallID // updatePipeline's call; abandonBlock sends none
}

// SetGenstamp records a newly issued generation stamp (OP_SET_GENSTAMP_V2):
// updateBlockForPipeline's, so that no stamp is issued twice across a
// restart.
type SetGenstamp struct {
	GenStamp int64
}

func (*SetGenstamp) Code() OpCode        { return OpSetGenstampV2 }
func (o *SetGenstamp) encode(e *encoder) { e.int(o.GenStamp) }
func (o *SetGenstamp) decode(d *decoder) { o.GenStamp = d.int() }

// AppendOp reopens a closed file for writing (OP_APPEND); new data goes to
// new blocks (HDFS's CreateFlag.NEW_BLOCK append).
type AppendOp struct {
	Path          string
	ClientName    string
	ClientMachine string
	RPC           CallID
}

func (*AppendOp) Code() OpCode { return OpAppend }

func (o *AppendOp) encode(e *encoder) { e.str(o.Path); e.str(o.ClientName); e.str(o.ClientMachine) }
func (o *AppendOp) decode(d *decoder) {
	o.Path, o.ClientName, o.ClientMachine = d.str(), d.str(), d.str()
}

// ConcatDelete moves the blocks of Sources, in order, to the end of Target
// and deletes the sources (OP_CONCAT_DELETE).
type ConcatDelete struct {
	Target  string
	Sources []string
	Mtime   int64
	RPC     CallID
}

// Truncate cuts a closed file to Blocks (OP_TRUNCATE). On a block boundary
// the file stays closed. Otherwise the last of Blocks is the block holding
// the new end, with its new length and its old stamp, and the file is
// under construction by ClientName until the datanodes have cut that
// block's replicas under RecoveryGS and the recovery closes it (HDFS logs
// the same: clientName, clientMachine and the truncateBlock).
type Truncate struct {
	Path                      string
	Blocks                    []Block
	Mtime                     int64
	ClientName, ClientMachine string // "" on a block boundary
	RecoveryGS                int64
}

func (*ConcatDelete) Code() OpCode { return OpConcatDelete }
func (*Truncate) Code() OpCode     { return OpTruncate }

func (o *ConcatDelete) encode(e *encoder) {
	e.str(o.Target)
	e.uint(uint64(len(o.Sources)))
	for _, s := range o.Sources {
		e.str(s)
	}
	e.int(o.Mtime)
}

func (o *ConcatDelete) decode(d *decoder) {
	o.Target = d.str()
	n := d.uint()
	if n > uint64(len(d.buf)) {
		d.fail("source count")
		return
	}
	o.Sources = make([]string, n)
	for i := range o.Sources {
		o.Sources[i] = d.str()
	}
	o.Mtime = d.int()
}

func (o *Truncate) encode(e *encoder) {
	e.str(o.Path)
	e.blocks(o.Blocks)
	e.int(o.Mtime)
	if o.ClientName != "" {
		e.str(o.ClientName)
		e.str(o.ClientMachine)
		e.int(o.RecoveryGS)
	}
}

func (o *Truncate) decode(d *decoder) {
	o.Path, o.Blocks, o.Mtime = d.str(), d.blocks(), d.int()
	if len(d.buf) > 0 && d.err == nil {
		o.ClientName, o.ClientMachine, o.RecoveryGS = d.str(), d.str(), d.int()
		if o.ClientName == "" && d.err == nil {
			d.fail("empty truncate client name")
		}
	}
}

func (*AddBlock) Code() OpCode     { return OpAddBlock }
func (*UpdateBlocks) Code() OpCode { return OpUpdateBlocks }

func (o *AddBlock) encode(e *encoder) {
	e.str(o.Path)
	if o.Penultimate != nil {
		e.blocks([]Block{*o.Penultimate, o.Last})
	} else {
		e.blocks([]Block{o.Last})
	}
}

func (o *AddBlock) decode(d *decoder) {
	o.Path = d.str()
	bs := d.blocks()
	switch len(bs) {
	case 1:
		o.Last = bs[0]
	case 2:
		o.Penultimate, o.Last = &bs[0], bs[1]
	default:
		d.fail("add-block block count")
	}
}

func (o *UpdateBlocks) encode(e *encoder) { e.str(o.Path); e.blocks(o.Blocks) }
func (o *UpdateBlocks) decode(d *decoder) { o.Path, o.Blocks = d.str(), d.blocks() }

func (*Mkdir) Code() OpCode          { return OpMkdir }
func (*Add) Code() OpCode            { return OpAdd }
func (*Close) Code() OpCode          { return OpClose }
func (*Delete) Code() OpCode         { return OpDelete }
func (*RenameOld) Code() OpCode      { return OpRenameOld }
func (*SetPermissions) Code() OpCode { return OpSetPermissions }
func (*SetOwner) Code() OpCode       { return OpSetOwner }
func (*Times) Code() OpCode          { return OpTimes }
func (*SetReplication) Code() OpCode { return OpSetReplication }
func (*SetQuota) Code() OpCode       { return OpSetQuota }

func (o *Mkdir) encode(e *encoder) {
	e.int(o.InodeID)
	e.str(o.Path)
	e.str(o.Owner)
	e.str(o.Group)
	e.uint(uint64(o.Mode))
	e.int(o.Mtime)
}

func (o *Mkdir) decode(d *decoder) {
	o.InodeID, o.Path, o.Owner, o.Group = d.int(), d.str(), d.str(), d.str()
	o.Mode, o.Mtime = d.u16(), d.int()
}

func (o *Add) encode(e *encoder) {
	e.int(o.InodeID)
	e.str(o.Path)
	e.uint(uint64(o.Replication))
	e.int(o.Mtime)
	e.int(o.Atime)
	e.int(o.BlockSize)
	e.str(o.Owner)
	e.str(o.Group)
	e.uint(uint64(o.Mode))
	e.str(o.ClientName)
	e.str(o.ClientMachine)
	e.bool(o.Overwrite)
}

func (o *Add) decode(d *decoder) {
	o.InodeID, o.Path, o.Replication = d.int(), d.str(), d.u16()
	o.Mtime, o.Atime, o.BlockSize = d.int(), d.int(), d.int()
	o.Owner, o.Group, o.Mode = d.str(), d.str(), d.u16()
	o.ClientName, o.ClientMachine, o.Overwrite = d.str(), d.str(), d.bool()
}

func (o *Close) encode(e *encoder) {
	e.str(o.Path)
	e.int(o.Mtime)
	e.int(o.Atime)
	e.blocks(o.Blocks)
}

func (o *Close) decode(d *decoder) {
	o.Path, o.Mtime, o.Atime, o.Blocks = d.str(), d.int(), d.int(), d.blocks()
}

func (o *Delete) encode(e *encoder) { e.str(o.Path); e.int(o.Mtime) }
func (o *Delete) decode(d *decoder) { o.Path, o.Mtime = d.str(), d.int() }

func (o *RenameOld) encode(e *encoder) { e.str(o.Src); e.str(o.Dst); e.int(o.Mtime) }
func (o *RenameOld) decode(d *decoder) { o.Src, o.Dst, o.Mtime = d.str(), d.str(), d.int() }

func (o *SetPermissions) encode(e *encoder) { e.str(o.Path); e.uint(uint64(o.Mode)) }
func (o *SetPermissions) decode(d *decoder) { o.Path, o.Mode = d.str(), d.u16() }

func (o *SetOwner) encode(e *encoder) { e.str(o.Path); e.str(o.Owner); e.str(o.Group) }
func (o *SetOwner) decode(d *decoder) { o.Path, o.Owner, o.Group = d.str(), d.str(), d.str() }

func (o *Times) encode(e *encoder) { e.str(o.Path); e.int(o.Mtime); e.int(o.Atime) }
func (o *Times) decode(d *decoder) { o.Path, o.Mtime, o.Atime = d.str(), d.int(), d.int() }

func (o *SetReplication) encode(e *encoder) { e.str(o.Path); e.uint(uint64(o.Replication)) }
func (o *SetReplication) decode(d *decoder) { o.Path, o.Replication = d.str(), d.u16() }

func (o *SetQuota) encode(e *encoder) { e.str(o.Path); e.int(o.NS); e.int(o.DS) }
func (o *SetQuota) decode(d *decoder) { o.Path, o.NS, o.DS = d.str(), d.int(), d.int() }

// callOp is an op of a non-idempotent client call, logged with the call's
// ID (HDFS logs rpcClientId and rpcCallId with the same ops) so that the
// retry cache is rebuilt from the edit log.
type callOp interface {
	Op
	rpc() *CallID
}

func (o *Add) rpc() *CallID          { return &o.RPC }
func (o *AppendOp) rpc() *CallID     { return &o.RPC }
func (o *Delete) rpc() *CallID       { return &o.RPC }
func (o *RenameOld) rpc() *CallID    { return &o.RPC }
func (o *ConcatDelete) rpc() *CallID { return &o.RPC }
func (o *UpdateBlocks) rpc() *CallID { return &o.RPC }

// The first byte of every encoded op (docs/formats/edit-log.md): version 1
// is the op's fields; version 2, written for an op carrying a CallID, is
// followed by the call's client ID and number.
const (
	payloadVersion     = 1
	payloadVersionCall = 2
)

// EncodeOp returns the versioned binary payload of op.
func EncodeOp(op Op) []byte {
	e := encoder{buf: make([]byte, 0, 64)}
	c, withCall := op.(callOp)
	withCall = withCall && c.rpc().Client != ""
	if withCall {
		e.buf = append(e.buf, payloadVersionCall)
	} else {
		e.buf = append(e.buf, payloadVersion)
	}
	op.encode(&e)
	if withCall {
		e.str(c.rpc().Client)
		e.int(c.rpc().Call)
	}
	return e.buf
}

// ErrCorruptOp is returned (wrapped) for a payload that does not decode.
var ErrCorruptOp = errors.New("corrupt edit-log op")

// DecodeOp decodes the payload of an op with the given code.
func DecodeOp(code OpCode, payload []byte) (Op, error) {
	var op Op
	switch code {
	case OpMkdir:
		op = &Mkdir{}
	case OpAdd:
		op = &Add{}
	case OpClose:
		op = &Close{}
	case OpDelete:
		op = &Delete{}
	case OpRenameOld:
		op = &RenameOld{}
	case OpSetPermissions:
		op = &SetPermissions{}
	case OpSetOwner:
		op = &SetOwner{}
	case OpTimes:
		op = &Times{}
	case OpSetReplication:
		op = &SetReplication{}
	case OpSetQuota:
		op = &SetQuota{}
	case OpAddBlock:
		op = &AddBlock{}
	case OpUpdateBlocks:
		op = &UpdateBlocks{}
	case OpSetGenstampV2:
		op = &SetGenstamp{}
	case OpAppend:
		op = &AppendOp{}
	case OpConcatDelete:
		op = &ConcatDelete{}
	case OpTruncate:
		op = &Truncate{}
	case OpGetDelegationToken:
		op = &GetDelegationToken{}
	case OpRenewDelegationToken:
		op = &RenewDelegationToken{}
	case OpCancelDelegationToken:
		op = &CancelDelegationToken{}
	case OpUpdateMasterKey:
		op = &UpdateMasterKey{}
	default:
		return nil, fmt.Errorf("%w: unknown op code %d", ErrCorruptOp, code)
	}
	c, isCall := op.(callOp)
	if len(payload) == 0 || (payload[0] != payloadVersion && (payload[0] != payloadVersionCall || !isCall)) {
		return nil, fmt.Errorf("%w: %v: unsupported payload version", ErrCorruptOp, code)
	}
	d := decoder{buf: payload[1:]}
	op.decode(&d)
	if payload[0] == payloadVersionCall {
		id := c.rpc()
		id.Client, id.Call = d.str(), d.int()
		if id.Client == "" && d.err == nil {
			d.fail("empty call client ID")
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrCorruptOp, code, d.err)
	}
	if len(d.buf) != 0 {
		return nil, fmt.Errorf("%w: %v: %d trailing bytes", ErrCorruptOp, code, len(d.buf))
	}
	return op, nil
}

// encoder appends varints and length-prefixed strings.
type encoder struct{ buf []byte }

func (e *encoder) uint(v uint64) { e.buf = binary.AppendUvarint(e.buf, v) }
func (e *encoder) int(v int64)   { e.buf = binary.AppendVarint(e.buf, v) }
func (e *encoder) str(s string) {
	e.uint(uint64(len(s)))
	e.buf = append(e.buf, s...)
}
func (e *encoder) bool(b bool) {
	if b {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}
func (e *encoder) blocks(bs []Block) {
	e.uint(uint64(len(bs)))
	for _, b := range bs {
		e.int(b.ID)
		e.int(b.GenStamp)
		e.int(b.NumBytes)
	}
}

// decoder reads what encoder wrote; the first error sticks and later reads
// return zero values.
type decoder struct {
	buf []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("truncated or malformed %s", what)
	}
	d.buf = nil
}

// canonical reports whether the n-byte varint at the start of d.buf is in
// its shortest form: records have exactly one encoding.
func (d *decoder) canonical(n int) bool { return n == 1 || d.buf[n-1] != 0 }

func (d *decoder) uint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 || !d.canonical(n) {
		d.fail("uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) int() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 || !d.canonical(n) {
		d.fail("varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *decoder) u16() uint16 {
	v := d.uint()
	if v > 0xffff {
		d.fail("uint16")
		return 0
	}
	return uint16(v)
}

func (d *decoder) str() string {
	n := d.uint()
	if n > uint64(len(d.buf)) {
		d.fail("string")
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.buf) == 0 || d.buf[0] > 1 {
		d.fail("bool")
		return false
	}
	b := d.buf[0] == 1
	d.buf = d.buf[1:]
	return b
}

func (d *decoder) blocks() []Block {
	n := d.uint()
	// Every block takes at least 3 bytes: refuse counts the payload cannot hold.
	if n > uint64(len(d.buf))/3 {
		d.fail("block list")
		return nil
	}
	bs := make([]Block, n)
	for i := range bs {
		bs[i] = Block{ID: d.int(), GenStamp: d.int(), NumBytes: d.int()}
	}
	return bs
}
