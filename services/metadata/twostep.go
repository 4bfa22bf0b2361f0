package metadata

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/services/metadata/internal/namespace"
)

// The two-step operations: CREATE, APPEND, OPEN and GETFILECHECKSUM are
// answered by the metadata service with 307 and a datanode Location (or
// 200 {"Location": ...} with noredirect=true); the client sends the data
// to the datanode, which acts as a client of this service and the pipeline.

// redirect answers with the datanode URL for op.
func (s *Service) redirect(w http.ResponseWriter, r *http.Request, c *webhdfsCall, dn dnproto.DatanodeInfo) error {
	q := url.Values{}
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, "noredirect") || strings.EqualFold(k, "op") {
			continue
		}
		q[k] = v
	}
	q.Set("op", c.op)
	q.Set("namenoderpcaddress", s.advertisedAddr(r))
	if s.authn.TokenMode() {
		// The datanode acts as the caller with a delegation token, as
		// HDFS's redirect; the token names the effective user.
		tok, err := s.redirectDelegation(r, c.id)
		if err != nil {
			return err
		}
		q.Del("user.name")
		if c.id.Delegation == "" {
			q.Del("doas")
		}
		q.Set("delegation", tok)
	} else if q.Get("user.name") == "" {
		q.Set("user.name", c.user.Name)
	}
	host := dn.IPAddr
	if s.cfg.RedirectToDatanodeHostname && dn.HostName != "" {
		host = dn.HostName
	}
	loc := fmt.Sprintf("%s://%s:%d/webhdfs/v1%s?%s", s.cfg.TLS.Scheme(), host, dn.HTTPPort, (&url.URL{Path: c.path}).EscapedPath(), q.Encode())
	if c.p.boolean("noredirect", false) {
		return writeJSON(w, http.StatusOK, api.LocationResponse{Location: loc})
	}
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusTemporaryRedirect)
	return nil
}

// advertisedAddr is how datanodes reach this service: the configured
// address, else the host the client used.
// anyDatanode picks a datanode near the client (placement's first choice).
func (s *Service) anyDatanode(ctx context.Context, client string) (dnproto.DatanodeInfo, error) {
	if s.coord == nil {
		return dnproto.DatanodeInfo{}, errs.E(errs.IO, "no coordinator: this metadata service runs without block management")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var reply dnproto.ChooseTargetsReply
	if err := dnproto.CallRetrying(cctx, s.coord.nc, s.subj(dnproto.SubjChooseTargets), dnproto.ChooseTargetsRequest{Placement: dnproto.Placement{Replication: 1, ClientHost: client}}, &reply, coordinatorTry); err != nil {
		return dnproto.DatanodeInfo{}, err
	}
	if len(reply.Targets) == 0 {
		return dnproto.DatanodeInfo{}, errs.E(errs.IO, "Failed to find datanode, suggest to check cluster health. excludeDatanodes=null")
	}
	return reply.Targets[0], nil
}

// datanodeHolding picks the replica holder of the block containing offset
// (the last block when offset < 0) nearest the client, as HDFS's
// chooseDatanode takes the first of the sorted locations; else any
// datanode.
func (s *Service) datanodeHolding(ctx context.Context, r *http.Request, c *webhdfsCall, offset int64) (dnproto.DatanodeInfo, error) {
	lbs, err := s.getBlockLocations(ctx, c.user, c.path, 0, 1<<62, clientHost(r))
	if err != nil {
		return dnproto.DatanodeInfo{}, err
	}
	blocks := lbs.LocatedBlocks
	for i, b := range blocks {
		last := i == len(blocks)-1
		inside := offset >= b.StartOffset && offset < b.StartOffset+b.Block.NumBytes
		if (offset < 0 && last) || inside {
			if len(b.Locations) > 0 {
				d := b.Locations[0]
				return dnproto.DatanodeInfo{UUID: d.UUID, HostName: d.HostName, IPAddr: d.IPAddr, HTTPPort: d.HTTPPort}, nil
			}
		}
	}
	return s.anyDatanode(ctx, clientHost(r))
}

func (s *Service) createOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	c.p.boolean("overwrite", false)
	c.p.int64("blocksize", 0, 0, 1<<62)
	c.p.int64("replication", 0, 0, namespace.MaxReplication)
	c.p.int64("buffersize", 4096, 1, 1<<31)
	c.p.permission("permission")
	if c.p.err != nil {
		return c.p.err
	}
	dn, err := s.anyDatanode(r.Context(), clientHost(r))
	if err != nil {
		return err
	}
	return s.redirect(w, r, c, dn)
}

func (s *Service) appendOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	c.p.int64("buffersize", 4096, 1, 1<<31)
	if c.p.err != nil {
		return c.p.err
	}
	dn, err := s.datanodeHolding(r.Context(), r, c, -1)
	if err != nil {
		return err
	}
	return s.redirect(w, r, c, dn)
}

func (s *Service) openOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	offset := c.p.int64("offset", 0, 0, 1<<62)
	c.p.int64("length", 0, 0, 1<<62)
	c.p.int64("buffersize", 4096, 1, 1<<31)
	if c.p.err != nil {
		return c.p.err
	}
	st, err := s.namespace().GetFileInfo(c.user, c.path)
	if err != nil {
		return err
	}
	if st.IsDir {
		return errs.E(errs.FileNotFound, "Path is not a file: %s", c.path)
	}
	if offset > st.Length {
		return errs.E(errs.IO, "Offset=%d out of the range [0, %d); OPEN, path=%s", offset, st.Length, c.path)
	}
	dn, err := s.datanodeHolding(r.Context(), r, c, offset)
	if err != nil {
		return err
	}
	return s.redirect(w, r, c, dn)
}

func (s *Service) checksumOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	st, err := s.namespace().GetFileInfo(c.user, c.path)
	if err != nil {
		return err
	}
	if st.IsDir {
		return errs.E(errs.FileNotFound, "Path is not a file: %s", c.path)
	}
	dn, err := s.datanodeHolding(r.Context(), r, c, -1)
	if err != nil {
		return err
	}
	return s.redirect(w, r, c, dn)
}

// BlockLocationsResponse is GETFILEBLOCKLOCATIONS' answer.
type BlockLocationsResponse struct {
	BlockLocations api.BlockLocations `json:"BlockLocations"`
}

func (s *Service) fileBlockLocationsOp(w http.ResponseWriter, r *http.Request, c *webhdfsCall) error {
	offset := c.p.int64("offset", 0, 0, 1<<62)
	length := c.p.int64("length", 1<<62, 0, 1<<62)
	if c.p.err != nil {
		return c.p.err
	}
	lbs, err := s.getBlockLocations(r.Context(), c.user, c.path, offset, length, clientHost(r))
	if err != nil {
		return err
	}
	var out BlockLocationsResponse
	out.BlockLocations.BlockLocation = []api.BlockLocation{}
	for _, b := range lbs.LocatedBlocks {
		bl := api.BlockLocation{CachedHosts: []string{}, Corrupt: b.IsCorrupt, Hosts: []string{}, Length: b.Block.NumBytes, Names: []string{},
			Offset: b.StartOffset, StorageTypes: []string{}, TopologyPaths: []string{}}
		for _, d := range b.Locations {
			name := d.IPAddr + ":" + strconv.Itoa(d.HTTPPort)
			bl.Hosts = append(bl.Hosts, d.HostName)
			bl.Names = append(bl.Names, name)
			bl.StorageTypes = append(bl.StorageTypes, "DISK")
			bl.TopologyPaths = append(bl.TopologyPaths, d.Rack+"/"+name)
		}
		out.BlockLocations.BlockLocation = append(out.BlockLocations.BlockLocation, bl)
	}
	return writeJSON(w, http.StatusOK, out)
}
