package metadata

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/internal/wirejson"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// nativeCreate godoc
//
//	@Summary		Create a file under construction (ClientProtocol.create)
//	@Description	The file is leased to clientName until complete. Parents are created when createParent is set. With firstBlock the answer also carries the first block and its pipeline, allocated in the same commit; it is absent when no block could be allocated (the client's addBlock then reports why).
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string				false	"caller"
//	@Param			X-Granary-Client-Id	header		string	false	"the client's ID, sent with X-Granary-Call-Id: a retried call with the same pair that was applied (create, append, rename, delete, concat, updatePipeline) is answered from the retry cache, also after a failover"
//	@Param			X-Granary-Call-Id	header		integer	false	"the call's number (see X-Granary-Client-Id)"
//	@Param			request		body		api.CreateRequest	true	"what to create"
//	@Success		200			{object}	api.CreateResponse
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeCreate
//	@Router			/api/v1/create [post]
func (s *Service) nativeCreate(w http.ResponseWriter, r *http.Request) {
	var req api.CreateRequest
	u, err := s.nativeCall(r, &req)
	if err == nil && req.ClientName == "" {
		err = errs.E(errs.IllegalArgument, "clientName is required")
	}
	mode := -1
	if err == nil && req.Permission != "" {
		m, perr := strconv.ParseUint(req.Permission, 8, 16)
		if perr != nil || m > 0o1777 {
			err = errs.E(errs.IllegalArgument, "Invalid permission %q", req.Permission)
		}
		mode = int(m)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	opts := namespace.CreateOptions{
		Overwrite: req.Overwrite, CreateParent: req.CreateParent, Replication: req.Replication,
		BlockSize: req.BlockSize, Mode: mode, ClientName: req.ClientName, ClientMachine: clientHost(r),
	}
	var targets []dnproto.DatanodeInfo
	if req.FirstBlock {
		// The pipeline is chosen first so that a block is only allocated
		// with one; without datanodes the file is still created and the
		// client's addBlock reports the refusal.
		targets, _ = s.chooseTargets(r.Context(), req.Path, cmp.Or(req.Replication, namespace.DefaultReplication),
			cmp.Or(req.BlockSize, namespace.DefaultBlockSize), clientHost(r), nil)
	}
	create := func() (st namespace.Status, first *namespace.Block, err error) {
		if targets != nil {
			return s.namespace().CreateWithBlock(r.Context(), u, req.Path, opts)
		}
		st, err = s.namespace().Create(r.Context(), u, req.Path, opts)
		return st, nil, err
	}
	st, first, err := create()
	// An overwrite of a file another client holds past the soft limit
	// takes it over: the file is recovered and created again. (Only then
	// is the holder looked up: a failed create is not kept by the retry
	// cache, so the call may run again.)
	if err != nil && req.Overwrite && leaseHeld(err) && s.takeOver(r.Context(), req.Path, req.ClientName) {
		st, first, err = create()
	}
	s.audit(u, clientHost(r), "create", req.Path, "", "rpc", err)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := api.CreateResponse{FileStatus: toFileStatus(st)}
	if first != nil {
		resp.Block = &api.LocatedBlock{
			Block:     api.ExtendedBlock{BlockPoolID: s.info.BlockPoolID, BlockID: first.ID, GenerationStamp: first.GenStamp},
			Locations: toDatanodes(targets),
		}
		if err := s.signBlocks(u, hadooptoken.Write, resp.Block); err != nil {
			writeError(w, err)
			return
		}
	}
	_ = writeJSON(w, http.StatusOK, resp)
}

// nativeAppend godoc
//
//	@Summary		Reopen a closed file for writing (ClientProtocol.append)
//	@Description	The file is leased to clientName and its last block is returned. When that block is partial the client continues it (updateBlockForPipeline, a block PUT with appendgs/appendlength to the datanodes holding it, updatePipeline); further data goes to new blocks (addBlock with the last block as previous); then complete.
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string				false	"caller"
//	@Param			X-Granary-Client-Id	header		string	false	"the client's ID, sent with X-Granary-Call-Id: a retried call with the same pair that was applied (create, append, rename, delete, concat, updatePipeline) is answered from the retry cache, also after a failover"
//	@Param			X-Granary-Call-Id	header		integer	false	"the call's number (see X-Granary-Client-Id)"
//	@Param			request		body		api.AppendRequest	true	"the file and the new lease holder"
//	@Success		200			{object}	api.AppendResponse
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody	"AlreadyBeingCreatedException, AccessControlException"
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeAppend
//	@Router			/api/v1/append [post]
func (s *Service) nativeAppend(w http.ResponseWriter, r *http.Request) {
	var req api.AppendRequest
	u, err := s.nativeCall(r, &req)
	if err == nil && req.ClientName == "" {
		err = errs.E(errs.IllegalArgument, "clientName is required")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.takeOver(r.Context(), req.Path, req.ClientName)
	s.leases.renew(req.ClientName)
	st, err := s.namespace().Append(r.Context(), u, req.Path, req.ClientName, clientHost(r))
	s.audit(u, clientHost(r), "append", req.Path, "", "rpc", err)
	if err != nil {
		writeError(w, err)
		return
	}
	resp := api.AppendResponse{FileStatus: toFileStatus(st)}
	if last, err := s.namespace().LastBlock(req.Path, req.ClientName); err == nil && last != nil {
		resp.LastBlock = &api.ExtendedBlock{BlockPoolID: s.info.BlockPoolID, BlockID: last.ID, GenerationStamp: last.GenStamp, NumBytes: last.NumBytes}
	}
	_ = writeJSON(w, http.StatusOK, resp)
}

// nativeAddBlock godoc
//
//	@Summary		Allocate the next block of a file and its pipeline (ClientProtocol.addBlock)
//	@Description	previous is the file's current last block with its final length (absent for the first block). The answer lists the datanodes to write to, first node first, chosen by the coordinator's placement policy.
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string				false	"caller"
//	@Param			request		body		api.AddBlockRequest	true	"the file, its lease holder and its last block"
//	@Success		200			{object}	api.LocatedBlock
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody	"LeaseExpiredException, NotReplicatedYetException, IOException (no datanodes)"
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeAddBlock
//	@Router			/api/v1/addBlock [post]
func (s *Service) nativeAddBlock(w http.ResponseWriter, r *http.Request) {
	var req api.AddBlockRequest
	u, err := s.nativeCall(r, &req)
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	lb, err := s.addBlock(r.Context(), u, &req, clientHost(r))
	if err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, lb)
}

func (s *Service) addBlock(ctx context.Context, u *namespace.User, req *api.AddBlockRequest, client string) (*api.LocatedBlock, error) {
	ns := s.namespace()
	last, err := ns.LastBlock(req.Path, req.ClientName)
	if err != nil {
		return nil, err
	}
	st, err := ns.GetFileInfo(u, req.Path)
	if err != nil {
		return nil, err
	}
	// The previous block must be minimally replicated first (HDFS throws
	// NotReplicatedYetException and the client retries).
	if last != nil {
		ok, err := s.minReplicated(ctx, *last, client)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.E(errs.NotReplicatedYet, "Not replicated yet: %s", req.Path)
		}
	}
	targets, err := s.chooseTargets(ctx, req.Path, st.Replication, st.BlockSize, client, req.ExcludeNodes)
	if err != nil {
		return nil, err
	}
	var prev *namespace.Block
	if req.Previous != nil {
		prev = &namespace.Block{ID: req.Previous.BlockID, GenStamp: req.Previous.GenerationStamp, NumBytes: req.Previous.NumBytes}
	}
	nb, err := ns.AddBlock(ctx, req.Path, req.ClientName, prev)
	if err != nil {
		return nil, err
	}
	var offset int64
	if blocks, err := s.fileBlocks(req.Path); err == nil {
		for _, b := range blocks[:len(blocks)-1] {
			offset += b.NumBytes
		}
	}
	lb := &api.LocatedBlock{
		Block:       api.ExtendedBlock{BlockPoolID: s.info.BlockPoolID, BlockID: nb.ID, GenerationStamp: nb.GenStamp},
		StartOffset: offset, Locations: toDatanodes(targets),
	}
	return lb, s.signBlocks(u, hadooptoken.Write, lb)
}

// chooseTargets asks the coordinator's placement policy for the pipeline
// of a new block of path; fewer than replication.min targets is an error.
func (s *Service) chooseTargets(ctx context.Context, path string, repl int, blockSize int64, client string, exclude []string) ([]dnproto.DatanodeInfo, error) {
	if s.coord == nil {
		return nil, errs.E(errs.IO, "no coordinator: this metadata service runs without block management")
	}
	// Sent with a deadline of its own: a gathered request carries other
	// writers' placements, which this caller's end must not fail.
	send := func(req dnproto.ChooseTargetsRequest) (dnproto.ChooseTargetsReply, error) {
		var reply dnproto.ChooseTargetsReply
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err := dnproto.CallRetrying(cctx, s.coord.nc, s.subj(dnproto.SubjChooseTargets), req, &reply, coordinatorTry)
		return reply, err
	}
	targets, err := s.coord.place(ctx, dnproto.Placement{Replication: repl, ClientHost: client, Exclude: exclude, BlockSize: blockSize}, send)
	if err != nil {
		return nil, err
	}
	if len(targets) < minReplication {
		return nil, errs.E(errs.IO, "File %s could only be written to %d of the %d minReplication nodes. There are %d datanode(s) running and %d node(s) are excluded in this operation.",
			path, len(targets), minReplication, s.coord.LiveDatanodes(), len(exclude))
	}
	return targets, nil
}

// place returns the pipeline for p, asked with send in a request that
// carries the placements of the writers that asked while the one before
// was on its way (placements), or alone.
func (c *coordination) place(ctx context.Context, p dnproto.Placement, send func(dnproto.ChooseTargetsRequest) (dnproto.ChooseTargetsReply, error)) ([]dnproto.DatanodeInfo, error) {
	targets, answered, err := c.placements.Do(ctx, p, func(ps []dnproto.Placement) ([][]dnproto.DatanodeInfo, error) {
		reply, err := send(dnproto.ChooseTargetsRequest{Placement: ps[0], More: ps[1:]})
		if err != nil {
			return nil, err
		}
		return append([][]dnproto.DatanodeInfo{reply.Targets}, reply.More...), nil
	})
	if err == nil && !answered {
		// A full batch, or a coordinator that answered the first
		// placement of the request only: asked alone.
		var reply dnproto.ChooseTargetsReply
		reply, err = send(dnproto.ChooseTargetsRequest{Placement: p})
		targets = reply.Targets
	}
	return targets, err
}

// coordinatorTry bounds one attempt of a look-up or placement request to
// the coordinator; an unanswered one is sent again (dnproto.CallRetrying)
// within the caller's deadline, so a NATS server or the active coordinator
// changing under it costs a retry, not a failed client call.
const coordinatorTry = 2 * time.Second

// receivedWait bounds how long a complete (or the next addBlock) waits
// for its last block's RECEIVED answer, which is on its way, before it
// asks the coordinator.
const receivedWait = 2 * time.Millisecond

// minReplication is dfs.namenode.replication.min.
const minReplication = 1

// minReplicated tells whether block b has replication.min live replicas
// of its generation stamp, asking the coordinator unless it sent them.
// The answer is kept for readers (a file is usually read soon after it is
// written): its changes are announced like those of a reader's look-up.
func (s *Service) minReplicated(ctx context.Context, b namespace.Block, client string) (bool, error) {
	// The coordinator sends the locations of a block being written when a
	// datanode reports it RECEIVED, before it acknowledges the report (and
	// the datanode the writer): kept, they answer without asking.
	if s.coord != nil {
		if n, ok := s.coord.locs.waitHolders(ctx, b.ID, b.GenStamp, receivedWait); ok && n >= minReplication {
			return true, nil
		}
	}
	req := dnproto.LocationsRequest{Blocks: []int64{b.ID}, GenStamps: []int64{b.GenStamp}, ClientHost: client, Cache: s.coord != nil && s.coord.locs.keeps()}
	reply, err := s.askLocationsReply(ctx, req)
	if err != nil {
		return false, err
	}
	s.coord.locs.put(req, reply)
	return len(reply.Blocks[0].Locations) >= minReplication, nil
}

// locations asks the coordinator where blocks are, nearest reader first.
func (s *Service) locations(ctx context.Context, ids []int64, reader string) ([]dnproto.BlockLocation, error) {
	return s.askLocations(ctx, dnproto.LocationsRequest{Blocks: ids, ClientHost: reader})
}

func (s *Service) askLocations(ctx context.Context, req dnproto.LocationsRequest) ([]dnproto.BlockLocation, error) {
	reply, err := s.askLocationsReply(ctx, req)
	return reply.Blocks, err
}

func (s *Service) askLocationsReply(ctx context.Context, req dnproto.LocationsRequest) (dnproto.LocationsReply, error) {
	var reply dnproto.LocationsReply
	if s.coord == nil {
		return reply, errs.E(errs.IO, "no coordinator: this metadata service runs without block management")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := dnproto.CallRetrying(cctx, s.coord.nc, s.subj(dnproto.SubjBlockLocations), req, &reply, coordinatorTry); err != nil {
		return reply, err
	}
	if len(reply.Blocks) != len(req.Blocks) {
		return reply, errs.E(errs.IO, "coordinator answered %d locations for %d blocks", len(reply.Blocks), len(req.Blocks))
	}
	return reply, nil
}

// readerLocations answers a reader's look-up from the kept locations when
// it can (never for a file being written: its last block changes), and
// asks the coordinator otherwise, keeping what it may.
func (s *Service) readerLocations(ctx context.Context, req dnproto.LocationsRequest, underConstruction bool) ([]dnproto.BlockLocation, error) {
	if s.coord == nil || underConstruction {
		return s.askLocations(ctx, req)
	}
	if locs, ok := s.coord.locs.get(req); ok {
		return locs, nil
	}
	req.Cache = s.coord.locs.keeps()
	reply, err := s.askLocationsReply(ctx, req)
	if err != nil {
		return nil, err
	}
	s.coord.locs.put(req, reply)
	return reply.Blocks, nil
}

func (s *Service) fileBlocks(path string) ([]namespace.Block, error) {
	_, blocks, err := s.namespace().Open(&namespace.User{Name: s.cfg.Superuser}, path)
	return blocks, err
}

func toDatanodes(in []dnproto.DatanodeInfo) []api.DatanodeInfo {
	out := make([]api.DatanodeInfo, len(in))
	for i, d := range in {
		out[i] = api.DatanodeInfo{UUID: d.UUID, HostName: d.HostName, IPAddr: d.IPAddr, HTTPPort: d.HTTPPort, Rack: d.Rack}
	}
	return out
}

// nativeAbandonBlock godoc
//
//	@Summary	Drop the last block of a file after a failed pipeline set-up (ClientProtocol.abandonBlock)
//	@Tags		native
//	@Accept		json
//	@Produce	json
//	@Param		user.name	query		string					false	"caller"
//	@Param		request		body		api.AbandonBlockRequest	true	"the block"
//	@Success	200			{object}	api.BooleanResponse
//	@Failure	400			{object}	errs.RemoteExceptionBody
//	@Failure	403			{object}	errs.RemoteExceptionBody
//	@Failure	404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeAbandonBlock
//	@Router		/api/v1/abandonBlock [post]
func (s *Service) nativeAbandonBlock(w http.ResponseWriter, r *http.Request) {
	var req api.AbandonBlockRequest
	_, err := s.nativeCall(r, &req)
	if err == nil {
		err = s.namespace().AbandonBlock(r.Context(), req.Path, req.ClientName, req.BlockID)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// nativeUpdateBlockForPipeline godoc
//
//	@Summary		A new generation stamp for the last block after its pipeline failed (ClientProtocol.updateBlockForPipeline)
//	@Description	The client then writes the block to the surviving datanodes under the new stamp and records it with updatePipeline; replicas left on failed datanodes keep the old stamp and are deleted as stale.
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string								false	"caller"
//	@Param			request		body		api.UpdateBlockForPipelineRequest	true	"the file, its lease holder and its last block"
//	@Success		200			{object}	api.LocatedBlock
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody	"LeaseExpiredException, IOException (not the last block)"
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeUpdateBlockForPipeline
//	@Router			/api/v1/updateBlockForPipeline [post]
func (s *Service) nativeUpdateBlockForPipeline(w http.ResponseWriter, r *http.Request) {
	var req api.UpdateBlockForPipelineRequest
	u, err := s.nativeCall(r, &req)
	if err == nil {
		err = s.checkBlockPool(req.Block)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	nb, err := s.namespace().UpdateBlockForPipeline(r.Context(), req.Path, req.ClientName, req.Block.BlockID)
	if err != nil {
		writeError(w, err)
		return
	}
	lb := api.LocatedBlock{
		Block:     api.ExtendedBlock{BlockPoolID: s.info.BlockPoolID, BlockID: nb.ID, GenerationStamp: nb.GenStamp, NumBytes: req.Block.NumBytes},
		Locations: []api.DatanodeInfo{},
	}
	if err := s.signBlocks(u, hadooptoken.Write, &lb); err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, lb)
}

// nativeUpdatePipeline godoc
//
//	@Summary	Record the last block's new generation stamp and length once the surviving pipeline holds it (ClientProtocol.updatePipeline)
//	@Tags		native
//	@Accept		json
//	@Produce	json
//	@Param		user.name	query		string						false	"caller"
//	@Param			X-Granary-Client-Id	header		string	false	"the client's ID, sent with X-Granary-Call-Id: a retried call with the same pair that was applied (create, append, rename, delete, concat, updatePipeline) is answered from the retry cache, also after a failover"
//	@Param			X-Granary-Call-Id	header		integer	false	"the call's number (see X-Granary-Client-Id)"
//	@Param		request		body		api.UpdatePipelineRequest	true	"the block before and after"
//	@Success	200			{object}	api.BooleanResponse
//	@Failure	400			{object}	errs.RemoteExceptionBody
//	@Failure	403			{object}	errs.RemoteExceptionBody	"LeaseExpiredException, IOException (stale block, stamp not issued)"
//	@Failure	404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeUpdatePipeline
//	@Router		/api/v1/updatePipeline [post]
func (s *Service) nativeUpdatePipeline(w http.ResponseWriter, r *http.Request) {
	var req api.UpdatePipelineRequest
	_, err := s.nativeCall(r, &req)
	if err == nil {
		err = s.checkBlockPool(req.OldBlock)
	}
	if err == nil {
		err = s.checkBlockPool(req.NewBlock)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	toBlock := func(b api.ExtendedBlock) namespace.Block {
		return namespace.Block{ID: b.BlockID, GenStamp: b.GenerationStamp, NumBytes: b.NumBytes}
	}
	if err := s.namespace().UpdatePipeline(r.Context(), req.Path, req.ClientName, toBlock(req.OldBlock), toBlock(req.NewBlock)); err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// nativeGetAdditionalDatanode godoc
//
//	@Summary		Datanodes to add to the pipeline of the last block after others failed (ClientProtocol.getAdditionalDatanode)
//	@Description	Chosen by the coordinator's placement policy among the datanodes neither existing nor excluded. The answer's locations are the added datanodes only.
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string								false	"caller"
//	@Param			request		body		api.GetAdditionalDatanodeRequest	true	"the block, its current pipeline and the datanodes to avoid"
//	@Success		200			{object}	api.LocatedBlock
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody	"LeaseExpiredException, IOException (not the last block, no datanode left)"
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeGetAdditionalDatanode
//	@Router			/api/v1/getAdditionalDatanode [post]
func (s *Service) nativeGetAdditionalDatanode(w http.ResponseWriter, r *http.Request) {
	var req api.GetAdditionalDatanodeRequest
	u, err := s.nativeCall(r, &req)
	if err == nil {
		err = s.checkBlockPool(req.Block)
	}
	if err == nil && (req.NumAdditionalNodes < 1 || req.NumAdditionalNodes > namespace.MaxReplication) {
		err = errs.E(errs.IllegalArgument, "numAdditionalNodes %d out of range [1, %d]", req.NumAdditionalNodes, namespace.MaxReplication)
	}
	var st namespace.Status
	if err == nil {
		var last *namespace.Block
		if last, err = s.namespace().LastBlock(req.Path, req.ClientName); err == nil && (last == nil || last.ID != req.Block.BlockID) {
			err = errs.E(errs.IO, "Block %d is not the last block of %s", req.Block.BlockID, req.Path)
		}
	}
	if err == nil {
		st, err = s.namespace().GetFileInfo(u, req.Path)
	}
	var targets []dnproto.DatanodeInfo
	if err == nil {
		targets, err = s.chooseTargets(r.Context(), req.Path, req.NumAdditionalNodes, st.BlockSize, clientHost(r), append(req.Existing, req.Exclude...))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	lb := api.LocatedBlock{Block: req.Block, Locations: toDatanodes(targets)}
	if err := s.signBlocks(u, hadooptoken.Write, &lb); err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, lb)
}

// nativeReportBadBlocks godoc
//
//	@Summary		Report replicas a reader found corrupt (ClientProtocol.reportBadBlocks)
//	@Description	The coordinator stops offering them at once and deletes them once their blocks have enough good replicas, as for a datanode's report.
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string						false	"caller"
//	@Param			request		body		api.ReportBadBlocksRequest	true	"the blocks, each with the datanodes of its corrupt replicas"
//	@Success		200			{object}	api.BooleanResponse
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody	"IOException (no coordinator)"
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeReportBadBlocks
//	@Router			/api/v1/reportBadBlocks [post]
func (s *Service) nativeReportBadBlocks(w http.ResponseWriter, r *http.Request) {
	var req api.ReportBadBlocksRequest
	_, err := s.nativeCall(r, &req)
	if err == nil && len(req.Blocks) == 0 {
		err = errs.E(errs.IllegalArgument, "blocks is required")
	}
	for i := 0; err == nil && i < len(req.Blocks); i++ {
		if err = s.checkBlockPool(req.Blocks[i].Block); err == nil && len(req.Blocks[i].Locations) == 0 {
			err = errs.E(errs.IllegalArgument, "block %d: no datanode named", req.Blocks[i].Block.BlockID)
		}
	}
	if err == nil && s.coord == nil {
		err = errs.E(errs.IO, "no coordinator: this metadata service runs without block management")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	for _, lb := range req.Blocks {
		b := lb.Block
		for _, d := range lb.Locations {
			cctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
			err = dnproto.Call(cctx, s.coord.nc, s.subj(dnproto.SubjReaderBadBlocks), dnproto.BadBlocks{
				DatanodeUUID: d.UUID, BlockPoolID: b.BlockPoolID,
				Blocks: []dnproto.BlockRef{{ID: b.BlockID, GenStamp: b.GenerationStamp, NumBytes: b.NumBytes}},
			}, nil)
			cancel()
			if err != nil {
				writeError(w, err)
				return
			}
		}
	}
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// checkBlockPool refuses a block of another block pool.
func (s *Service) checkBlockPool(b api.ExtendedBlock) error {
	if b.BlockPoolID != s.info.BlockPoolID {
		return errs.E(errs.IllegalArgument, "block pool %q is not this namespace's (%s)", b.BlockPoolID, s.info.BlockPoolID)
	}
	return nil
}

// nativeComplete godoc
//
//	@Summary		Complete (close) a file under construction (ClientProtocol.complete)
//	@Description	Answers {"boolean": false} while the last block has fewer than replication.min reported replicas; the client retries, as with HDFS.
//	@Tags			native
//	@Accept			json
//	@Produce		json
//	@Param			user.name	query		string				false	"caller"
//	@Param			request		body		api.CompleteRequest	true	"the file, its lease holder and its last block"
//	@Success		200			{object}	api.BooleanResponse
//	@Failure		400			{object}	errs.RemoteExceptionBody
//	@Failure		403			{object}	errs.RemoteExceptionBody
//	@Failure		404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeComplete
//	@Router			/api/v1/complete [post]
func (s *Service) nativeComplete(w http.ResponseWriter, r *http.Request) {
	var req api.CompleteRequest
	u, err := s.nativeCall(r, &req)
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	var last *namespace.Block
	if req.Last != nil {
		last = &namespace.Block{ID: req.Last.BlockID, GenStamp: req.Last.GenerationStamp, NumBytes: req.Last.NumBytes}
		ok, err := s.minReplicated(r.Context(), *last, clientHost(r))
		if err != nil {
			writeError(w, err)
			return
		}
		if !ok {
			_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: false})
			return
		}
	}
	if err := s.namespace().Complete(r.Context(), u, req.Path, req.ClientName, last); err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// nativeRenewLease godoc
//
//	@Summary	Renew a client's lease on all its open files (ClientProtocol.renewLease)
//	@Tags		native
//	@Accept		json
//	@Produce	json
//	@Param		request	body		api.RenewLeaseRequest	true	"the lease holder"
//	@Success	200		{object}	api.BooleanResponse
//	@Failure	400		{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeRenewLease
//	@Router		/api/v1/renewLease [post]
func (s *Service) nativeRenewLease(w http.ResponseWriter, r *http.Request) {
	var req api.RenewLeaseRequest
	_, err := s.nativeCall(r, &req)
	if err == nil && req.ClientName == "" {
		err = errs.E(errs.IllegalArgument, "clientName is required")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	s.leases.renew(req.ClientName)
	_ = writeJSON(w, http.StatusOK, api.BooleanResponse{Boolean: true})
}

// nativeBlockLocations godoc
//
//	@Summary	Where a file's blocks are (ClientProtocol.getBlockLocations)
//	@Tags		native
//	@Produce	json
//	@Param		path		query		string	true	"absolute path"
//	@Param		offset		query		integer	false	"first byte of interest"
//	@Param		length		query		integer	false	"bytes of interest (default: to the end)"
//	@Param		user.name	query		string	false	"caller"
//	@Success	200			{object}	api.LocatedBlocksResponse
//	@Failure	400			{object}	errs.RemoteExceptionBody
//	@Failure	403			{object}	errs.RemoteExceptionBody
//	@Failure	404			{object}	errs.RemoteExceptionBody
//	@Failure	401	{object}	errs.RemoteExceptionBody	"token mode: no valid credential (SecurityException)"
//	@ID			nativeBlockLocations
//	@Router		/api/v1/blockLocations [get]
func (s *Service) nativeBlockLocations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	path := q.Get("path")
	q.Del("path")
	p := newParams(q)
	offset := p.int64("offset", 0, 0, 1<<62)
	length := p.int64("length", 1<<62, 0, 1<<62)
	if p.err != nil {
		writeError(w, p.err)
		return
	}
	u, err := s.user(r)
	if err != nil {
		writeError(w, err)
		return
	}
	lbs, err := s.getBlockLocations(r.Context(), u, path, offset, length, clientHost(r))
	s.audit(u, clientHost(r), "open", path, "", "rpc", err)
	if err != nil {
		writeError(w, err)
		return
	}
	_ = writeJSON(w, http.StatusOK, api.LocatedBlocksResponse{LocatedBlocks: *lbs})
}

// getBlockLocations is ClientProtocol.getBlockLocations: the blocks of
// path overlapping [offset, offset+length), each with its replicas nearest
// the reader first.
func (s *Service) getBlockLocations(ctx context.Context, u *namespace.User, path string, offset, length int64, reader string) (*api.LocatedBlocks, error) {
	ns := s.ns.Load()
	if ns == nil {
		return nil, errs.E(errs.Retriable, "NameNode still not started")
	}
	st, blocks, err := ns.Open(u, path)
	if err != nil {
		return nil, err
	}
	if offset > st.Length {
		return nil, errs.E(errs.IO, "Offset: %d exceeds file length: %d", offset, st.Length)
	}
	out := &api.LocatedBlocks{FileLength: st.Length, IsUnderConstruction: st.UnderConstruction, LocatedBlocks: []api.LocatedBlock{}, IsLastBlockComplete: !st.UnderConstruction}
	var ids, stamps []int64
	var pos int64
	for _, b := range blocks {
		end := pos + b.NumBytes
		if end > offset && pos < offset+length || (b.NumBytes == 0 && pos >= offset && pos <= offset+length) {
			out.LocatedBlocks = append(out.LocatedBlocks, api.LocatedBlock{
				Block:       api.ExtendedBlock{BlockPoolID: s.info.BlockPoolID, BlockID: b.ID, GenerationStamp: b.GenStamp, NumBytes: b.NumBytes},
				StartOffset: pos, Locations: []api.DatanodeInfo{},
			})
			ids, stamps = append(ids, b.ID), append(stamps, b.GenStamp)
		}
		pos = end
	}
	if len(ids) > 0 {
		// The stamps make the answer follow this namespace even while the
		// coordinator's mirror still has an older stamp (just appended to
		// or recovered).
		locs, err := s.readerLocations(ctx, dnproto.LocationsRequest{Blocks: ids, GenStamps: stamps, ClientHost: reader}, st.UnderConstruction)
		if err != nil {
			return nil, err
		}
		for i := range out.LocatedBlocks {
			out.LocatedBlocks[i].Locations = toDatanodes(locs[i].Locations)
			out.LocatedBlocks[i].IsCorrupt = locs[i].Corrupt
			if err := s.signBlocks(u, hadooptoken.Read, &out.LocatedBlocks[i]); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// nativeCall decodes a native API request body into v and returns the caller.
func (s *Service) nativeCall(r *http.Request, v any) (*namespace.User, error) {
	u, err := s.user(r)
	if err != nil {
		return nil, err
	}
	if err := decodeBody(r, v); err != nil {
		return nil, errs.E(errs.IllegalArgument, "Invalid request body: %v", err)
	}
	if s.ns.Load() == nil {
		return nil, errs.E(errs.Retriable, "NameNode still not started")
	}
	return u, nil
}

// decodeBody reads a request's JSON body, at most maxBody bytes, into v:
// a key v does not have is an error. The hottest requests are read
// without reflection (internal/wirejson).
func decodeBody(r *http.Request, v any) error {
	readErr, err := wirejson.ReadDecode(http.MaxBytesReader(nil, r.Body, maxBody), v, decodeStrict)
	if readErr != nil {
		return readErr
	}
	return err
}

// decodeStrict decodes a request body's first value, refusing unknown
// keys.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
