// Package client is Granary's Go client, the one the CLI and the datanodes
// use: namespace operations through WebHDFS, file data through the native
// API and the datanodes' block API — streaming writers through the
// replication pipeline and streaming readers that fail over between
// replicas. Errors come back typed (internal/errs), rebuilt from the
// RemoteException names.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/failover"
	"github.com/granary-fs/granary/internal/inlinehttp"
	"github.com/granary-fs/granary/internal/packet"
	"github.com/granary-fs/granary/internal/wirejson"
)

// Client talks to one metadata service as one user.
type Client struct {
	// UseDatanodeHostname connects to datanodes by host name rather than IP
	// address (HDFS's dfs.client.use.datanode.hostname), for clients outside
	// the datanodes' network.
	UseDatanodeHostname bool
	// ReplaceDatanodeOnFailure is HDFS's
	// dfs.client.block.write.replace-datanode-on-failure.policy: when a
	// pipeline loses datanodes, DEFAULT ("" too) adds one if the
	// replication is 3 or more and at most half the pipeline survives, or
	// fewer nodes than the replication survive an append; ALWAYS adds one
	// whenever a node failed; NEVER does not.
	ReplaceDatanodeOnFailure string
	// ReplaceDatanodeBestEffort is ...replace-datanode-on-failure.best-effort:
	// when no datanode can be added the write goes on with the survivors
	// instead of failing.
	ReplaceDatanodeBestEffort bool
	// SocketTimeout is HDFS's dfs.client.socket-timeout (60 s when 0): a
	// pipeline that acknowledges nothing for this long while packets wait
	// is taken as failed and recovered.
	SocketTimeout time.Duration

	bases      *failover.Targets // the metadata services of the nameservice (HA), e.g. http://localhost:9870
	scheme     string            // of base: datanodes are reached the same way
	user       string
	bearer     string // token mode: an OIDC bearer token for the metadata service
	delegation string // token mode: a delegation token, sent as the delegation parameter
	clientName string
	clientID   string       // api.ClientIDHeader: fixed for the client's life
	calls      atomic.Int64 // the last call number (api.CallIDHeader)
	http       *http.Client
	data       *http.Client // to datanodes: no overall timeout, bodies stream
}

// New returns a client of the metadata service at metadataURL acting as
// user. metadataURL may list several services of one nameservice, comma
// separated (HA): a call that finds one refusing the connection or in
// standby goes on with the next, as HDFS's ConfiguredFailoverProxyProvider.
func New(metadataURL, user string) *Client {
	var b [6]byte
	_, _ = rand.Read(b[:])
	var id [16]byte
	_, _ = rand.Read(id[:])
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true, IdleConnTimeout: 90 * time.Second}
	// To the datanodes: a write buffer that holds a whole packet, so that
	// each packet of a block stream leaves in one system call
	// (packet.Body).
	dtr := tr.Clone()
	dtr.WriteBufferSize = packet.BufferSize
	// Calls, block reads and one-packet block writes make their round
	// trips on the caller's goroutine (inlinehttp); streamed bodies and
	// https go through net/http's transports. Idle connections are closed
	// before the services' 60 s idle timeout would close them.
	inline := func(fallback *http.Transport) *inlinehttp.Transport {
		return &inlinehttp.Transport{Fallback: fallback, MaxIdleConnsPerHost: 64, IdleConnTimeout: 50 * time.Second}
	}
	calls := inline(tr)
	// A call the metadata service closed the connection of unanswered is
	// sent again: it carries its call ID, so a call that was applied is
	// answered from the retry cache.
	calls.Replayable = func(r *http.Request) bool { return r.Header.Get(api.CallIDHeader) != "" }
	scheme := "http"
	if strings.HasPrefix(metadataURL, "https://") {
		scheme = "https"
	}
	return &Client{
		scheme: scheme,
		bases:  failover.New(metadataURL), user: user, clientName: "granary-client-" + hex.EncodeToString(b[:]), clientID: hex.EncodeToString(id[:]),
		http: &http.Client{Transport: calls},
		data: &http.Client{Transport: inline(dtr)},
	}
}

// dataDo makes a round trip with a datanode on the data transport itself:
// http.Client would copy every request's headers for redirects, which a
// datanode never answers with.
func (c *Client) dataDo(req *http.Request) (*http.Response, error) {
	return c.data.Transport.RoundTrip(req)
}

// callDo makes a call's round trip on the call transport itself, as
// dataDo: http.Client would copy its headers for redirects, which the
// services never answer a call with. An answer that is one all the same (a
// proxy in front of the service) is left to http.Client, which asks again
// and follows it.
func (c *Client) callDo(req *http.Request) (*http.Response, error) {
	resp, err := c.http.Transport.RoundTrip(req)
	if err != nil || !followed(resp) {
		return resp, err
	}
	resp.Body.Close()
	if req.GetBody != nil {
		if req.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	return c.http.Do(req)
}

// followed says whether http.Client follows resp: a redirect naming where.
func followed(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return resp.Header.Get("Location") != ""
	}
	return false
}

// socketTimeout is SocketTimeout or HDFS's default.
func (c *Client) socketTimeout() time.Duration {
	if c.SocketTimeout > 0 {
		return c.SocketTimeout
	}
	return 60 * time.Second
}

// SetTransport routes this client's HTTP exchanges (with the metadata
// service and the datanodes) through rt, e.g. a contract checker in tests.
func (c *Client) SetTransport(rt http.RoundTripper) {
	c.http.Transport = rt
	c.data.Transport = rt
}

// SetTLS sets the TLS configuration of the client's HTTPS exchanges (the
// CA it trusts, a client certificate).
func (c *Client) SetTLS(cfg *tls.Config) {
	for _, hc := range []*http.Client{c.http, c.data} {
		rt := hc.Transport
		if it, ok := rt.(*inlinehttp.Transport); ok {
			rt = it.Fallback // https goes there
		}
		if tr, ok := rt.(*http.Transport); ok {
			tr.TLSClientConfig = cfg
		}
	}
}

// SetBearer makes the client authenticate to the metadata service with an
// OpenID Connect bearer token (token mode).
func (c *Client) SetBearer(token string) { c.bearer = token }

// SetDelegation makes the client authenticate with a delegation token, the
// delegation parameter of every request, instead of user.name (token mode).
func (c *Client) SetDelegation(token string) { c.delegation = token }

// credential adds the client's credential to q.
func (c *Client) credential(q url.Values) {
	if c.delegation != "" {
		q.Set("delegation", c.delegation)
	} else if c.bearer == "" {
		q.Set("user.name", c.user)
	}
}

// ClientName is the lease holder name of this client's writes.
func (c *Client) ClientName() string { return c.clientName }

// remoteError turns an error answer into a typed error.
func remoteError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var re errs.RemoteExceptionBody
	if json.Unmarshal(body, &re) == nil && re.RemoteException.Exception != "" {
		return errs.FromRemote(resp.StatusCode, re.RemoteException)
	}
	return errs.E(errs.IO, "%s: %s", resp.Status, bytes.TrimSpace(body))
}

// baseURL is the metadata service in use.
func (c *Client) baseURL() string { return c.bases.Current() }

// do sends a request to the metadata service and decodes a JSON answer
// into out (if not nil). Every call carries the client's ID and a new call
// number, the same on every attempt. A RetriableException (the service
// could not apply the call now: its edit log cannot commit, it is still
// starting) is sent again to the same service. With several metadata
// services (HA), a request that could not reach one (connection refused),
// that one answered in standby (StandbyException) or whose answer was lost
// (the connection failed after it was sent: the service may have applied
// it) is sent to the next, as HDFS's RetryInvocationHandler does for
// idempotent and at-most-once calls: a non-idempotent call that was applied
// is answered from the service's retry cache, which a new active rebuilds
// from the edit log. Retries back off as HDFS's failover policy
// (dfs.client.failover.sleep.base.millis 500, max 15 s, 15 attempts). Any
// other failure is returned.
func (c *Client) do(ctx context.Context, method, u string, body any, out any) error {
	var payload []byte
	if body != nil {
		var ok bool
		if payload, ok = wirejson.Append(nil, body); !ok {
			var err error
			if payload, err = json.Marshal(body); err != nil {
				return err
			}
		}
	}
	call := strconv.FormatInt(c.calls.Add(1), 10)
	for attempt := 0; ; attempt++ {
		base := c.baseURL()
		err := c.doOnce(ctx, method, u, call, body != nil, payload, out)
		if err == nil || attempt >= failover.MaxAttempts || ctx.Err() != nil || !strings.HasPrefix(u, base) {
			return err
		}
		switch {
		case errs.Is(err, errs.Retriable) && !lostAnswer(err):
			// Asked to retry: the same service, after a pause.
		case c.bases.Len() > 1 && (errs.Is(err, errs.Standby) || lostAnswer(err)):
			c.bases.From(base)
			u = c.baseURL() + strings.TrimPrefix(u, base)
			if c.bases.Untried(attempt) {
				continue // the other services first, without a pause
			}
		default:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(c.bases.Pause(attempt)):
		}
	}
}

// refused reports whether err is a connection the metadata service refused
// (nothing was sent).
func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// transportError is a failed exchange with the metadata service: the
// request may or may not have been applied.
type transportError struct{ error }

func (e transportError) Unwrap() error { return e.error }

func lostAnswer(err error) bool {
	var te transportError
	return errors.As(err, &te)
}

// callTimeout bounds a call to the metadata service, its answer read.
const callTimeout = 5 * time.Minute

func (c *Client) doOnce(ctx context.Context, method, u, call string, hasBody bool, payload []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var rd io.Reader
	if hasBody {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	req.Header.Set(api.ClientIDHeader, c.clientID)
	req.Header.Set(api.CallIDHeader, call)
	resp, err := c.callDo(req)
	if err != nil {
		return errs.Wrap(errs.Retriable, transportError{err}, "%s %s", method, u)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return remoteError(resp)
	}
	if out == nil {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return errs.Wrap(errs.Retriable, transportError{err}, "%s %s", method, u)
		}
		return nil
	}
	readErr, err := wirejson.ReadDecode(resp.Body, out, decodeAnswer)
	if readErr != nil {
		return errs.Wrap(errs.Retriable, transportError{readErr}, "%s %s", method, u)
	}
	if err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		if errors.As(err, &syn) || errors.As(err, &typ) {
			return err
		}
		return errs.Wrap(errs.Retriable, transportError{err}, "%s %s", method, u)
	}
	return nil
}

// decodeAnswer decodes an answer as a json.Decoder reads a stream: its
// first value.
func decodeAnswer(data []byte, v any) error { return json.NewDecoder(bytes.NewReader(data)).Decode(v) }

// doBlock GETs a datanode's JSON answer about block lb, with its token.
func (c *Client) doBlock(ctx context.Context, u string, lb api.LocatedBlock, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	setBlockToken(req, lb)
	resp, err := c.dataDo(req)
	if err != nil {
		return errs.Wrap(errs.Retriable, err, "GET %s", u)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return remoteError(resp)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// webhdfs builds a WebHDFS URL for path with op and extra parameters.
func (c *Client) webhdfs(path, op string, params ...string) string {
	q := url.Values{"op": {op}}
	c.credential(q)
	for i := 0; i+1 < len(params); i += 2 {
		q.Set(params[i], params[i+1])
	}
	return c.baseURL() + "/webhdfs/v1" + escapePath(path) + "?" + q.Encode()
}

func escapePath(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

func (c *Client) native(endpoint string) string {
	q := url.Values{}
	c.credential(q)
	return c.baseURL() + "/api/v1/" + endpoint + "?" + q.Encode()
}

// Stat returns the status of path.
func (c *Client) Stat(ctx context.Context, path string) (api.FileStatus, error) {
	var r api.FileStatusResponse
	err := c.do(ctx, http.MethodGet, c.webhdfs(path, "GETFILESTATUS"), nil, &r)
	return r.FileStatus, err
}

// List returns the entries of a directory (or the file itself), paging
// through LISTSTATUS_BATCH.
func (c *Client) List(ctx context.Context, path string) ([]api.FileStatus, error) {
	var out []api.FileStatus
	after := ""
	for {
		var r api.DirectoryListingResponse
		if err := c.do(ctx, http.MethodGet, c.webhdfs(path, "LISTSTATUS_BATCH", "startAfter", after), nil, &r); err != nil {
			return nil, err
		}
		page := r.DirectoryListing.PartialListing.FileStatuses.FileStatus
		out = append(out, page...)
		if r.DirectoryListing.RemainingEntries == 0 || len(page) == 0 {
			return out, nil
		}
		after = page[len(page)-1].PathSuffix
	}
}

func (c *Client) boolean(ctx context.Context, method, u string) (bool, error) {
	var r api.BooleanResponse
	err := c.do(ctx, method, u, nil, &r)
	return r.Boolean, err
}

// Mkdirs creates path and its parents; perm 0 means the default.
func (c *Client) Mkdirs(ctx context.Context, path string, perm uint16) error {
	params := []string{}
	if perm != 0 {
		params = append(params, "permission", strconv.FormatUint(uint64(perm), 8))
	}
	_, err := c.boolean(ctx, http.MethodPut, c.webhdfs(path, "MKDIRS", params...))
	return err
}

// Delete removes path; false when it did not exist.
func (c *Client) Delete(ctx context.Context, path string, recursive bool) (bool, error) {
	return c.boolean(ctx, http.MethodDelete, c.webhdfs(path, "DELETE", "recursive", strconv.FormatBool(recursive)))
}

// Rename moves src to dst (into dst when it is a directory).
func (c *Client) Rename(ctx context.Context, src, dst string) (bool, error) {
	return c.boolean(ctx, http.MethodPut, c.webhdfs(src, "RENAME", "destination", dst))
}

// SetReplication sets a file's replication.
func (c *Client) SetReplication(ctx context.Context, path string, r int) (bool, error) {
	return c.boolean(ctx, http.MethodPut, c.webhdfs(path, "SETREPLICATION", "replication", strconv.Itoa(r)))
}

// SetPermission sets mode bits.
func (c *Client) SetPermission(ctx context.Context, path string, perm uint16) error {
	return c.do(ctx, http.MethodPut, c.webhdfs(path, "SETPERMISSION", "permission", strconv.FormatUint(uint64(perm), 8)), nil, nil)
}

// SetOwner sets owner and/or group ("" leaves one).
func (c *Client) SetOwner(ctx context.Context, path, owner, group string) error {
	params := []string{}
	if owner != "" {
		params = append(params, "owner", owner)
	}
	if group != "" {
		params = append(params, "group", group)
	}
	return c.do(ctx, http.MethodPut, c.webhdfs(path, "SETOWNER", params...), nil, nil)
}

// SetTimes sets modification and access times (-1 leaves one).
func (c *Client) SetTimes(ctx context.Context, path string, mtime, atime int64) error {
	return c.do(ctx, http.MethodPut, c.webhdfs(path, "SETTIMES", "modificationtime", strconv.FormatInt(mtime, 10), "accesstime", strconv.FormatInt(atime, 10)), nil, nil)
}

// ServerDefaults returns the metadata service's defaults (GETSERVERDEFAULTS),
// among them fs.trash.interval.
func (c *Client) ServerDefaults(ctx context.Context) (api.FsServerDefaults, error) {
	var r api.FsServerDefaultsResponse
	err := c.do(ctx, http.MethodGet, c.webhdfs("/", "GETSERVERDEFAULTS"), nil, &r)
	return r.FsServerDefaults, err
}

// Truncate cuts a file to newLength (WebHDFS TRUNCATE); false when the last
// block is being recovered and the file is not closed yet.
func (c *Client) Truncate(ctx context.Context, path string, newLength int64) (bool, error) {
	return c.boolean(ctx, http.MethodPost, c.webhdfs(path, "TRUNCATE", "newlength", strconv.FormatInt(newLength, 10)))
}

// Concat moves the blocks of sources to the end of target (WebHDFS
// CONCAT); the sources are deleted.
func (c *Client) Concat(ctx context.Context, target string, sources []string) error {
	return c.do(ctx, http.MethodPost, c.webhdfs(target, "CONCAT", "sources", strings.Join(sources, ",")), nil, nil)
}

// User is the user this client acts as.
func (c *Client) User() string { return c.user }

// ContentSummary returns the subtree's counts.
func (c *Client) ContentSummary(ctx context.Context, path string) (api.ContentSummary, error) {
	var r api.ContentSummaryResponse
	err := c.do(ctx, http.MethodGet, c.webhdfs(path, "GETCONTENTSUMMARY"), nil, &r)
	return r.ContentSummary, err
}

// Touch creates an empty file (or fails if it exists), as -touchz.
func (c *Client) Touch(ctx context.Context, path string) error {
	w, err := c.Create(ctx, path, CreateOptions{})
	if err != nil {
		return err
	}
	return w.Close()
}

// blockLocations returns where a file's blocks are.
// BlockLocations returns the file's blocks and where their replicas are
// (ClientProtocol.getBlockLocations), nearest this client first.
func (c *Client) BlockLocations(ctx context.Context, path string) (api.LocatedBlocks, error) {
	return c.blockLocations(ctx, path)
}

func (c *Client) blockLocations(ctx context.Context, path string) (api.LocatedBlocks, error) {
	var r api.LocatedBlocksResponse
	err := c.do(ctx, http.MethodGet, c.native("blockLocations")+"&path="+url.QueryEscape(path), nil, &r)
	return r.LocatedBlocks, err
}

// addr is where this client reaches a datanode.
func (c *Client) addr(d api.DatanodeInfo) string {
	if c.UseDatanodeHostname && d.HostName != "" {
		return fmt.Sprintf("%s:%d", d.HostName, d.HTTPPort)
	}
	return internalAddr(d)
}

// internalAddr is where datanodes reach each other (pipeline targets).
func internalAddr(d api.DatanodeInfo) string { return fmt.Sprintf("%s:%d", d.IPAddr, d.HTTPPort) }

// CutReplica asks datanode d to cut its replica of lb's block, of stamp
// gs, to length bytes under lb's stamp (POST /api/v1/blocks/{id}/truncate,
// HDFS's updateReplicaUnderRecovery), with lb's token: a writer's pipeline
// recovery, the metadata service's recovery of a truncate.
func (c *Client) CutReplica(ctx context.Context, d api.DatanodeInfo, lb api.LocatedBlock, gs, length int64) error {
	resp, err := c.blockCall(ctx, http.MethodPost, fmt.Sprintf("%s://%s/api/v1/blocks/%d/truncate?bpid=%s&gs=%d&newgs=%d&newlength=%d",
		c.scheme, c.addr(d), lb.Block.BlockID, lb.Block.BlockPoolID, gs, lb.Block.GenerationStamp, length), "", nil, lb)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var ri api.ReplicaInfo
	if err := json.NewDecoder(resp.Body).Decode(&ri); err != nil {
		return err
	}
	if ri.GenStamp != lb.Block.GenerationStamp || ri.NumBytes != length {
		return errs.E(errs.IO, "datanode %s left replica blk_%d_%d of %d bytes, not %d bytes under stamp %d",
			internalAddr(d), ri.BlockID, ri.GenStamp, ri.NumBytes, length, lb.Block.GenerationStamp)
	}
	return nil
}

// blockCall sends a request of the block API with lb's token: body, when
// not nil, is a packet stream (contentType), and a GET asks for one. An
// answer other than 200 is returned as its RemoteException.
func (c *Client) blockCall(ctx context.Context, method, u, contentType string, body io.Reader, lb api.LocatedBlock) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if method == http.MethodGet {
		req.Header.Set("Accept", packet.ContentType)
	}
	setBlockToken(req, lb)
	resp, err := c.dataDo(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, remoteError(resp)
	}
	return resp, nil
}

// GetDelegationToken is WebHDFS GETDELEGATIONTOKEN: a delegation token
// (its URL string) for the client's user, renewer "" for the user itself;
// "" when the service runs without security (simple authentication).
func (c *Client) GetDelegationToken(ctx context.Context, renewer string) (string, error) {
	var r api.TokenResponse
	params := []string{}
	if renewer != "" {
		params = append(params, "renewer", renewer)
	}
	if err := c.do(ctx, http.MethodGet, c.webhdfs("/", "GETDELEGATIONTOKEN", params...), nil, &r); err != nil || r.Token == nil {
		return "", err
	}
	return r.Token.URLString, nil
}

// RenewDelegationToken is WebHDFS RENEWDELEGATIONTOKEN: it returns the
// token's new expiry (milliseconds since the epoch).
func (c *Client) RenewDelegationToken(ctx context.Context, token string) (int64, error) {
	var r api.LongResponse
	err := c.do(ctx, http.MethodPut, c.webhdfs("/", "RENEWDELEGATIONTOKEN", "token", token), nil, &r)
	return r.Long, err
}

// CancelDelegationToken is WebHDFS CANCELDELEGATIONTOKEN.
func (c *Client) CancelDelegationToken(ctx context.Context, token string) error {
	return c.do(ctx, http.MethodPut, c.webhdfs("/", "CANCELDELEGATIONTOKEN", "token", token), nil, nil)
}
