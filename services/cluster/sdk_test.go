package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"testing"

	"github.com/granary-fs/granary/api/sdk/coordinator"
	"github.com/granary-fs/granary/api/sdk/datanode"
	"github.com/granary-fs/granary/api/sdk/metadata"
)

func ptr[T any](v T) *T { return &v }

func location(t *testing.T, body io.Reader) *url.URL {
	t.Helper()
	var l struct{ Location string }
	if err := json.NewDecoder(body).Decode(&l); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(l.Location)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestGeneratedSDK drives a cluster only through the Go SDKs generated from
// the OpenAPI 3 documents (api/sdk): mkdir, create and write through the
// redirect, list, read, delete, and the datanode report.
func TestGeneratedSDK(t *testing.T) {
	c := testCluster(t, 3, nil)
	ctx := context.Background()
	metaRaw, err := metadata.NewClient(c.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	meta, err := metadata.NewClientWithResponses(c.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	me := ptr("me")
	resp, err := metaRaw.WebhdfsPut(ctx, "tmp/sdk", &metadata.WebhdfsPutParams{Op: metadata.MKDIRS, UserName: me})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("MKDIRS: %v %v", resp, err)
	}
	resp.Body.Close()
	// CREATE: the metadata service names a datanode, the datanode takes the bytes.
	resp, err = metaRaw.WebhdfsPut(ctx, "tmp/sdk/f", &metadata.WebhdfsPutParams{Op: metadata.CREATE, UserName: me, Noredirect: ptr(true)})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CREATE at the metadata service: %v %v", resp, err)
	}
	loc := location(t, resp.Body)
	resp.Body.Close()
	dn, err := datanode.NewClient("http://" + loc.Host)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(70_000, 3)
	resp, err = dn.WebhdfsPutWithBody(ctx, "tmp/sdk/f", &datanode.WebhdfsPutParams{
		Op: datanode.CREATE, Namenoderpcaddress: loc.Query().Get("namenoderpcaddress"), UserName: me,
	}, "application/octet-stream", bytes.NewReader(data))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("CREATE at the datanode: %v %v", resp, err)
	}
	resp.Body.Close()
	// LIST through the typed response.
	list, err := meta.WebhdfsGetWithResponse(ctx, "tmp/sdk", &metadata.WebhdfsGetParams{Op: metadata.LISTSTATUS, UserName: me})
	if err != nil || list.JSON200 == nil || list.JSON200.FileStatuses == nil || len(list.JSON200.FileStatuses.FileStatus) != 1 {
		t.Fatalf("LISTSTATUS: %v %s", err, list.Body)
	}
	if st := list.JSON200.FileStatuses.FileStatus[0]; st.PathSuffix != "f" || st.Length != int(len(data)) {
		t.Fatalf("listed %+v", st)
	}
	// OPEN: again through the datanode the metadata service names.
	resp, err = metaRaw.WebhdfsGet(ctx, "tmp/sdk/f", &metadata.WebhdfsGetParams{Op: metadata.OPEN, UserName: me, Noredirect: ptr(true)})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("OPEN at the metadata service: %v %v", resp, err)
	}
	loc = location(t, resp.Body)
	resp.Body.Close()
	dn, _ = datanode.NewClient("http://" + loc.Host)
	resp, err = dn.WebhdfsGet(ctx, "tmp/sdk/f", &datanode.WebhdfsGetParams{
		Op: datanode.OPEN, Namenoderpcaddress: loc.Query().Get("namenoderpcaddress"), UserName: me,
	})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("OPEN at the datanode: %v %v", resp, err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, different", len(got))
	}
	del, err := meta.WebhdfsDeleteWithResponse(ctx, "tmp/sdk", &metadata.WebhdfsDeleteParams{Op: metadata.DELETE, UserName: me, Recursive: ptr(true)})
	if err != nil || del.JSON200 == nil || !del.JSON200.Boolean {
		t.Fatalf("DELETE: %v %s", err, del.Body)
	}
	// The datanode report from the coordinator.
	coord, err := coordinator.NewClientWithResponses(c.CoordinatorURL)
	if err != nil {
		t.Fatal(err)
	}
	dns, err := coord.ListDatanodesWithResponse(ctx)
	if err != nil || dns.JSON200 == nil || len(dns.JSON200.Datanodes) != 3 {
		t.Fatalf("datanode report: %v %s", err, dns.Body)
	}
	for _, d := range dns.JSON200.Datanodes {
		if d.State != "live" || d.Capacity <= 0 {
			t.Fatalf("datanode %+v", d)
		}
	}
}
