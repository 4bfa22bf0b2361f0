package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/blocktoken"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/internal/devissuer"
	"github.com/granary-fs/granary/internal/dnproto"
	"github.com/granary-fs/granary/internal/hadooptoken"
	"github.com/granary-fs/granary/openapi"
	"github.com/granary-fs/granary/services/cluster"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/datanode"
	"github.com/granary-fs/granary/services/metadata"
)

// startIssuer runs a real OpenID Connect issuer (its own RSA key,
// discovery document and JWKS) on a loopback port.
func startIssuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	iss, srv, err := devissuer.Start("127.0.0.1:0", nil, "granary")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return iss
}

// secureCluster is a cluster whose services all run in token mode against
// a real issuer.
func secureCluster(t *testing.T, datanodes int, tweak func(*cluster.Config)) (*cluster.Cluster, *devissuer.Issuer) {
	t.Helper()
	iss := startIssuer(t)
	ac := auth.Config{Mode: auth.Token, OIDCIssuer: iss.URL, OIDCAudience: "granary",
		ProxyUsers: []string{"hadoop.proxyuser.hue.users=alice", "hadoop.proxyuser.hue.hosts=127.0.0.1"}}
	su, err := iss.Token("hdfs")
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, datanodes, func(cfg *cluster.Config) {
		m, co, d := cfg.Metadata, cfg.Coordinator, cfg.Datanode
		cfg.Metadata = func(c *metadata.Config) { m(c); c.Auth = ac }
		cfg.Coordinator = func(c *coordinator.Config) { co(c); c.Superuser = "hdfs"; c.Auth = ac }
		cfg.Datanode = func(i int, c *datanode.Config) { d(i, c); c.Superuser = "hdfs"; c.Auth = ac }
		if tweak != nil {
			tweak(cfg)
		}
	}, su)
	return c, iss
}

// bearerClient is a Go client authenticating with a token for user.
func bearerClient(t *testing.T, c *cluster.Cluster, iss *devissuer.Issuer, user string, groups ...string) *client.Client {
	t.Helper()
	tok, err := iss.Token(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	cl := newClient(c, user)
	cl.SetBearer(tok)
	return cl
}

// send makes one request with an optional bearer, following no redirect.
func send(t *testing.T, method, u, bearer string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	hc := &http.Client{Transport: contracts, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

// exception is the RemoteException name of an error body.
func exception(data []byte) string {
	var re struct{ RemoteException struct{ Exception string } }
	_ = json.Unmarshal(data, &re)
	return re.RemoteException.Exception
}

// twoStep runs a WebHDFS CREATE/APPEND/OPEN: the metadata service's 307,
// then the datanode, as curl -L does (the Authorization header is not
// resent to another host; the redirect's delegation token is what the
// datanode gets).
func twoStep(t *testing.T, method, u, bearer string, body []byte) (int, []byte) {
	t.Helper()
	code, data, h := send(t, method, u, bearer, nil)
	if code != http.StatusTemporaryRedirect {
		return code, data
	}
	loc := h.Get("Location")
	if !strings.Contains(loc, "delegation=") || strings.Contains(loc, "user.name=") {
		t.Fatalf("redirect %s carries no delegation token, or a user.name", loc)
	}
	code, data, _ = send(t, method, loc, "", body)
	return code, data
}

// TestTokenModeUsers: bearer tokens and delegation tokens on every kind of
// operation, through the Go client, the two-step WebHDFS ops and the
// delegation token's life (renew, cancel, expiry, a metadata restart).
func TestTokenModeUsers(t *testing.T) {
	audit := filepath.Join(t.TempDir(), "hdfs-audit.log")
	c, iss := secureCluster(t, 3, func(cfg *cluster.Config) {
		m := cfg.Metadata
		cfg.Metadata = func(c *metadata.Config) { m(c); c.DelegationTokenRenewInterval = 3 * time.Second; c.AuditLog = audit }
	})
	ctx := context.Background()
	hdfs := bearerClient(t, c, iss, "hdfs")
	if err := hdfs.Mkdirs(ctx, "/user/alice", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := hdfs.SetOwner(ctx, "/user/alice", "alice", ""); err != nil {
		t.Fatal(err)
	}
	alice := bearerClient(t, c, iss, "alice", "staff")
	data := bytes.Repeat([]byte("granary "), 40000)
	writeFile(t, alice, "/user/alice/f", data, client.CreateOptions{})
	if got := readFile(t, alice, "/user/alice/f"); !bytes.Equal(got, data) {
		t.Fatal("read back differs")
	}
	st, err := alice.Stat(ctx, "/user/alice/f")
	if err != nil || st.Owner != "alice" || st.Group != "supergroup" {
		t.Fatalf("stat: %+v %v", st, err)
	}

	base := c.MetadataURL + "/webhdfs/v1"
	aliceTok, _ := iss.Token("alice", "staff")
	bobTok, _ := iss.Token("bob")

	// The audit log names how callers authenticated.
	eventually(t, 5*time.Second, "the audit line of alice's create", func() bool {
		b, _ := os.ReadFile(audit)
		return strings.Contains(string(b), "ugi=alice (auth:TOKEN)\tip=/127.0.0.1\tcmd=create\tsrc=/user/alice/f")
	})
	// user.name is ignored: it names nobody in token mode.
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&user.name=alice", "", nil); code != 401 || exception(data) != "SecurityException" {
		t.Fatalf("user.name alone: %d %s", code, data)
	}
	// fsck is the superuser's in token mode.
	if code, data, _ := send(t, "GET", c.MetadataURL+"/api/v1/admin/fsck?path=/user/alice", aliceTok, nil); code != 403 || exception(data) != "AccessControlException" {
		t.Fatalf("fsck by alice: %d %s", code, data)
	}
	hdfsTok, _ := iss.Token("hdfs")
	if code, data, _ := send(t, "GET", c.MetadataURL+"/api/v1/admin/fsck?path=/user/alice", hdfsTok, nil); code != 200 || !strings.Contains(string(data), "HEALTHY") {
		t.Fatalf("fsck by hdfs: %d %s", code, data)
	}
	// A proxy user within its rule, and outside it.
	hue, _ := iss.Token("hue")
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&doas=alice", hue, nil); code != 200 {
		t.Fatalf("hue as alice: %d %s", code, data)
	}
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&doas=bob", hue, nil); code != 403 || exception(data) != "AccessControlException" {
		t.Fatalf("hue as bob: %d %s", code, data)
	}

	// A delegation token for alice, renewable by bob.
	code, body, _ := send(t, "GET", base+"/?op=GETDELEGATIONTOKEN&renewer=bob", aliceTok, nil)
	var tr struct{ Token struct{ URLString string } }
	if code != 200 || json.Unmarshal(body, &tr) != nil || tr.Token.URLString == "" {
		t.Fatalf("GETDELEGATIONTOKEN: %d %s", code, body)
	}
	dt := tr.Token.URLString
	tok, err := hadooptoken.Decode(dt)
	if err != nil || tok.Kind != hadooptoken.KindWebHDFS {
		t.Fatalf("token %+v %v", tok, err)
	}
	id, err := hadooptoken.UnmarshalDelegation(tok.Identifier)
	if err != nil || id.Owner != "alice" || id.Renewer != "bob" || id.MaxDate-id.IssueDate != (7*24*time.Hour).Milliseconds() {
		t.Fatalf("identifier %+v %v", id, err)
	}
	d := "delegation=" + url.QueryEscape(dt)
	// Every kind of op with the delegation token alone.
	for _, op := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/user/alice/f?op=GETFILESTATUS", 200},
		{"GET", "/user/alice?op=LISTSTATUS", 200},
		{"PUT", "/user/alice/d?op=MKDIRS", 200},
		{"PUT", "/user/alice/d?op=RENAME&destination=/user/alice/e", 200},
		{"PUT", "/user/alice/e?op=SETPERMISSION&permission=700", 200},
		{"DELETE", "/user/alice/e?op=DELETE", 200},
		{"GET", "/user/bob?op=GETFILESTATUS", 404},
	} {
		if code, data, _ := send(t, op.method, base+op.path+"&"+d, "", nil); code != op.want {
			t.Errorf("%s %s with a delegation token: %d %s", op.method, op.path, code, data)
		}
	}
	// The two-step ops, with the token and with a bearer (the redirect
	// then carries a token issued for the caller).
	for _, cred := range []struct{ q, bearer string }{{"&" + d, ""}, {"", aliceTok}} {
		if code, data := twoStep(t, "PUT", base+"/user/alice/g?op=CREATE&overwrite=true"+cred.q, cred.bearer, []byte("hello")); code != 201 {
			t.Fatalf("CREATE: %d %s", code, data)
		}
		if code, data := twoStep(t, "POST", base+"/user/alice/g?op=APPEND"+cred.q, cred.bearer, []byte(" world")); code != 200 {
			t.Fatalf("APPEND: %d %s", code, data)
		}
		if code, data := twoStep(t, "GET", base+"/user/alice/g?op=OPEN"+cred.q, cred.bearer, nil); code != 200 || string(data) != "hello world" {
			t.Fatalf("OPEN: %d %q", code, data)
		}
		if code, data := twoStep(t, "GET", base+"/user/alice/g?op=GETFILECHECKSUM"+cred.q, cred.bearer, nil); code != 200 {
			t.Fatalf("GETFILECHECKSUM: %d %s", code, data)
		}
	}
	st, err = alice.Stat(ctx, "/user/alice/g")
	if err != nil || st.Owner != "alice" {
		t.Fatalf("the datanode wrote as %q (%v), not alice", st.Owner, err)
	}
	// Renew: only the renewer, and not with a token.
	if code, data, _ := send(t, "PUT", base+"/?op=RENEWDELEGATIONTOKEN&token="+url.QueryEscape(dt), aliceTok, nil); code != 403 || exception(data) != "AccessControlException" {
		t.Fatalf("renew by the owner: %d %s", code, data)
	}
	code, body, _ = send(t, "PUT", base+"/?op=RENEWDELEGATIONTOKEN&token="+url.QueryEscape(dt), bobTok, nil)
	var renewed struct{ Long int64 }
	if code != 200 || json.Unmarshal(body, &renewed) != nil || renewed.Long <= time.Now().UnixMilli() {
		t.Fatalf("renew by bob: %d %s", code, body)
	}
	if code, data, _ := send(t, "PUT", base+"/?op=RENEWDELEGATIONTOKEN&token="+url.QueryEscape(dt)+"&"+d, "", nil); code != 403 || exception(data) != "IOException" {
		t.Fatalf("renew with the token itself: %d %s", code, data)
	}

	// The token survives a metadata restart (the edit log holds it).
	if err := c.StopMetadata(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartMetadata(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "safe mode to end", func() bool { return !safeModeOf(t, c).On })
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&"+d, "", nil); code != 200 {
		t.Fatalf("after a restart: %d %s", code, data)
	}
	// A forged password, another user's cancel, then the owner's cancel.
	forged := tok
	forged.Password = bytes.Repeat([]byte{1}, len(tok.Password))
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&delegation="+forged.Encode(), "", nil); code != 403 || exception(data) != "InvalidToken" {
		t.Fatalf("forged password: %d %s", code, data)
	}
	carol, _ := iss.Token("carol")
	if code, data, _ := send(t, "PUT", base+"/?op=CANCELDELEGATIONTOKEN&token="+url.QueryEscape(dt), carol, nil); code != 403 || exception(data) != "AccessControlException" {
		t.Fatalf("cancel by carol: %d %s", code, data)
	}
	if code, data, _ := send(t, "PUT", base+"/?op=CANCELDELEGATIONTOKEN&token="+url.QueryEscape(dt), aliceTok, nil); code != 200 {
		t.Fatalf("cancel by alice: %d %s", code, data)
	}
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&"+d, "", nil); code != 403 || exception(data) != "InvalidToken" {
		t.Fatalf("a cancelled token: %d %s", code, data)
	}
	// Expiry: a token not renewed within the renew interval lapses.
	code, body, _ = send(t, "GET", base+"/?op=GETDELEGATIONTOKEN", aliceTok, nil)
	if code != 200 || json.Unmarshal(body, &tr) != nil {
		t.Fatalf("GETDELEGATIONTOKEN: %d %s", code, body)
	}
	short := "delegation=" + url.QueryEscape(tr.Token.URLString)
	if code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&"+short, "", nil); code != 200 {
		t.Fatalf("fresh token: %d %s", code, data)
	}
	eventually(t, 10*time.Second, "the token to lapse", func() bool {
		code, data, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&"+short, "", nil)
		return code == 403 && exception(data) == "InvalidToken"
	})
}

// locatedAs asks the native API for path's blocks with user's bearer.
func locatedAs(t *testing.T, c *cluster.Cluster, bearer, path string) (int, api.LocatedBlocks) {
	t.Helper()
	code, body, _ := send(t, "GET", c.MetadataURL+"/api/v1/blockLocations?path="+url.QueryEscape(path), bearer, nil)
	var r api.LocatedBlocksResponse
	if code == 200 {
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
	}
	return code, r.LocatedBlocks
}

// blockGet reads a block from a datanode with a token (none when empty).
func blockGet(t *testing.T, dn string, b api.ExtendedBlock, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/api/v1/blocks/%d?bpid=%s", dn, b.BlockID, b.BlockPoolID), nil)
	if token != "" {
		req.Header.Set(blocktoken.Header, token)
	}
	resp, err := (&http.Client{Transport: contracts}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestBlockTokens: datanodes serve, take and copy blocks only with a
// valid token for that block and access mode; keys roll and reach the
// datanodes through heartbeats; transfers carry the coordinator's tokens.
func TestBlockTokens(t *testing.T) {
	c, iss := secureCluster(t, 3, func(cfg *cluster.Config) {
		m := cfg.Metadata
		cfg.Metadata = func(c *metadata.Config) {
			m(c)
			c.BlockKeyUpdateInterval = 4 * time.Second
			c.BlockTokenLifetime = 3 * time.Second
		}
	})
	ctx := context.Background()
	hdfs := bearerClient(t, c, iss, "hdfs")
	if err := hdfs.Mkdirs(ctx, "/private", 0o700); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("secret "), 1000)
	writeFile(t, hdfs, "/private/f", data, client.CreateOptions{Replication: 1})
	writeFile(t, hdfs, "/private/g", data, client.CreateOptions{Replication: 1})
	su, _ := iss.Token("hdfs")
	bob, _ := iss.Token("bob")

	// bob may not locate the blocks, so he holds no token: guessing the
	// block ID gets him nothing.
	if code, _ := locatedAs(t, c, bob, "/private/f"); code != 403 {
		t.Fatalf("bob located /private/f: %d", code)
	}
	_, f := locatedAs(t, c, su, "/private/f")
	_, g := locatedAs(t, c, su, "/private/g")
	fb, gb := f.LocatedBlocks[0], g.LocatedBlocks[0]
	if fb.BlockToken == nil || gb.BlockToken == nil {
		t.Fatal("located blocks carry no token in token mode")
	}
	dn := fmt.Sprintf("%s:%d", fb.Locations[0].IPAddr, fb.Locations[0].HTTPPort)
	if code, body := blockGet(t, dn, fb.Block, ""); code != 401 || exception(body) != "SecurityException" {
		t.Fatalf("no token: %d %s", code, body)
	}
	if code, body := blockGet(t, dn, fb.Block, gb.BlockToken.URLString); code != 403 || exception(body) != "InvalidToken" {
		t.Fatalf("another block's token: %d %s", code, body)
	}
	if code, body := blockGet(t, dn, fb.Block, fb.BlockToken.URLString); code != 200 || len(body) == 0 {
		t.Fatalf("the right token: %d %s", code, body)
	}
	// A token signed with the cluster's own keys (as someone who read them
	// off an open NATS could) but for another block pool does not apply.
	nc, err := nats.Connect(c.NATSURL)
	if err != nil {
		t.Fatal(err)
	}
	var keys blocktoken.Keys
	err = dnproto.Call(ctx, nc, ns1(dnproto.SubjBlockKeys), struct{}{}, &keys)
	nc.Close()
	if err != nil || keys.Generation == 0 {
		t.Fatalf("block keys: %v %+v", err, keys)
	}
	signer := blocktoken.NewSet()
	signer.Update(keys)
	otherPool, _ := signer.Issue("hdfs", "BP-1-10.0.0.1-1", fb.Block.BlockID, hadooptoken.Read)
	if code, body := blockGet(t, dn, fb.Block, otherPool); code != 403 || !strings.Contains(string(body), "doesn't apply to block") {
		t.Fatalf("another pool's token: %d %s", code, body)
	}
	// A read token does not write: a PUT of that block with it is refused.
	req, _ := http.NewRequest("PUT", fmt.Sprintf("http://%s/api/v1/blocks/%d?bpid=%s&gs=%d", dn, fb.Block.BlockID, fb.Block.BlockPoolID, fb.Block.GenerationStamp+1), strings.NewReader(""))
	req.Header.Set(blocktoken.Header, fb.BlockToken.URLString)
	resp, err := (&http.Client{Transport: contracts}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "access mode") {
		t.Fatalf("a READ token on a write: %d %s", resp.StatusCode, body)
	}
	// A leaked token expires.
	eventually(t, 10*time.Second, "the token to expire", func() bool {
		code, body := blockGet(t, dn, fb.Block, fb.BlockToken.URLString)
		return code == 403 && strings.Contains(string(body), "expired")
	})
	// Keys roll every 4 s: after two rolls every datanode has been sent
	// the new keys (KEYUPDATE), and reads with fresh tokens go on.
	first := fb.BlockToken.URLString
	eventually(t, 20*time.Second, "tokens signed with a newer key", func() bool {
		_, now := locatedAs(t, c, su, "/private/f")
		a, _ := hadooptoken.Decode(first)
		b, _ := hadooptoken.Decode(now.LocatedBlocks[0].BlockToken.URLString)
		ia, _ := hadooptoken.UnmarshalBlock(a.Identifier)
		ib, _ := hadooptoken.UnmarshalBlock(b.Identifier)
		return ib.KeyID != ia.KeyID
	})
	if got := readFile(t, hdfs, "/private/f"); !bytes.Equal(got, data) {
		t.Fatal("read after a key roll differs")
	}
	// Re-replication: the coordinator's transfer carries its own token.
	if _, err := hdfs.SetReplication(ctx, "/private/f", 3); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "three replicas", func() bool {
		_, now := locatedAs(t, c, su, "/private/f")
		return len(now.LocatedBlocks[0].Locations) == 3
	})
	_, now := locatedAs(t, c, su, "/private/f")
	for _, d := range now.LocatedBlocks[0].Locations {
		code, body := blockGet(t, fmt.Sprintf("%s:%d", d.IPAddr, d.HTTPPort), now.LocatedBlocks[0].Block, now.LocatedBlocks[0].BlockToken.URLString)
		if code != 200 {
			t.Fatalf("replica on %s: %d %s", d.UUID, code, body)
		}
	}
}

// TestTokenModeNeedsCredentials walks every path and method of each
// service's OpenAPI document and calls it with no credential in token
// mode: everything answers 401 SecurityException with a challenge, except
// liveness, readiness, the contracts, Swagger UI and CORS preflights.
func TestTokenModeNeedsCredentials(t *testing.T) {
	c, _ := secureCluster(t, 1, nil)
	open := map[string]bool{"/healthz": true, "/readyz": true, "/openapi.json": true, "/openapi.yaml": true, "/docs": true}
	params := strings.NewReplacer("{path}", "user/x", "{id}", "1073741825", "{uuid}", "x", "{action}", "enter", "{file}", "app.js", "{name}", "heap")
	services := map[string]string{"metadata": c.MetadataURL, "coordinator": c.CoordinatorURL, "datanode": c.DatanodeURLs[0]}
	checked := 0
	for svc, base := range services {
		doc, err := openapi.Load(svc)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range doc.Paths.InMatchingOrder() {
			for method := range doc.Paths.Find(p).Operations() {
				code, body, h := sendRaw(t, method, base+params.Replace(p)+"?user.name=hdfs&op=GETFILESTATUS")
				checked++
				switch {
				case open[p] || method == http.MethodOptions:
					if code == 401 {
						t.Errorf("%s %s %s: 401, but it is open", svc, method, p)
					}
				case code != 401 || exception(body) != "SecurityException" || h.Get("WWW-Authenticate") == "":
					t.Errorf("%s %s %s without credentials: %d %s", svc, method, p, code, body)
				}
			}
		}
	}
	// pprof is not in the contracts; it is closed too.
	for _, base := range services {
		if code, _, _ := sendRaw(t, "GET", base+"/debug/pprof/cmdline"); code != 401 {
			t.Errorf("%s/debug/pprof/cmdline: %d", base, code)
		}
	}
	if checked < 60 {
		t.Fatalf("only %d operations walked", checked)
	}
}

// sendRaw makes a request outside the contract checker (the walk sends
// what the contracts call invalid).
func sendRaw(t *testing.T, method, u string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

// TestHATokensSurviveFailover: in token mode with metadata HA, a
// delegation token issued by nn1 is valid on nn2 after nn2 took over (the
// edit log carries keys and tokens, which the standby tailed), for
// namespace calls and for a two-step OPEN whose datanode checks the token
// and the new active's block tokens.
func TestHATokensSurviveFailover(t *testing.T) {
	c, iss := secureCluster(t, 3, func(cfg *cluster.Config) { cfg.HA, cfg.StandbyAddr = true, "127.0.0.1:0" })
	aliceTok, err := iss.Token("alice")
	if err != nil {
		t.Fatal(err)
	}
	hdfs := bearerClient(t, c, iss, "hdfs")
	ctx := context.Background()
	if err := hdfs.Mkdirs(ctx, "/user/alice", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := hdfs.SetOwner(ctx, "/user/alice", "alice", ""); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("token "), 5000)
	if code, body := twoStep(t, "PUT", c.MetadataURL+"/webhdfs/v1/user/alice/f?op=CREATE", aliceTok, data); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	code, body, _ := send(t, "GET", c.MetadataURL+"/webhdfs/v1/?op=GETDELEGATIONTOKEN&renewer=alice", aliceTok, nil)
	var tr struct{ Token struct{ URLString string } }
	if code != 200 || json.Unmarshal(body, &tr) != nil || tr.Token.URLString == "" {
		t.Fatalf("GETDELEGATIONTOKEN: %d %s", code, body)
	}
	d := "delegation=" + url.QueryEscape(tr.Token.URLString)

	if err := c.StopMetadata(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "nn2 to be active", func() bool { code, _ := readyzBody(c.StandbyURL); return code == 200 })
	base := c.StandbyURL + "/webhdfs/v1"
	if code, body, _ := send(t, "GET", base+"/user/alice/f?op=GETFILESTATUS&"+d, "", nil); code != 200 {
		t.Fatalf("nn1's delegation token on nn2: %d %s", code, body)
	}
	if code, got := twoStep(t, "GET", base+"/user/alice/f?op=OPEN&"+d, "", nil); code != 200 || !bytes.Equal(got, data) {
		t.Fatalf("OPEN on nn2 with nn1's delegation token: %d %.300s", code, got)
	}
	if code, body, _ := send(t, "PUT", base+"/?op=RENEWDELEGATIONTOKEN&token="+url.QueryEscape(tr.Token.URLString), aliceTok, nil); code != 200 {
		t.Fatalf("renew on nn2: %d %s", code, body)
	}
}
