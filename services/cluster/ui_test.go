package cluster_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/internal/client"
	"github.com/granary-fs/granary/services/cluster"
)

// screenshotDir is where the UI test writes a screenshot of each page
// (GRANARY_UI_SCREENSHOTS, default build/ui-screenshots at the repository
// root).
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("GRANARY_UI_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "build", "ui-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium (Debian's chromium, which
// scripts/test.sh installs) and records console errors, uncaught
// exceptions and failed loads.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("the web UI test needs Debian's chromium (scripts/test.sh installs it: apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	var mu sync.Mutex
	var problems []string
	chromedp.ListenTarget(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.APITypeError {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, "console.error: "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.LevelError {
				problems = append(problems, "log: "+e.Entry.Text+" "+e.Entry.URL)
			}
		}
	})
	if err := chromedp.Run(ctx, cdplog.Enable(), runtime.Enable()); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// show switches the single-page UI to a route and waits until it rendered.
func show(t *testing.T, ctx context.Context, route string) {
	t.Helper()
	sel := fmt.Sprintf(`#page[data-loaded=%q]`, route)
	if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf("location.hash = %q", "#"+route), nil), chromedp.WaitVisible(sel, chromedp.ByQuery)); err != nil {
		t.Fatalf("showing %s: %v", route, err)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	if err := chromedp.Run(ctx, chromedp.FullScreenshot(&png, 100)); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir(t), name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listing returns the names the browse page lists, comma-separated.
func listing(ctx context.Context) string {
	var s string
	_ = chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#listing a.entry")].map(a => a.textContent).join(",")`, &s))
	return s
}

// download shows a file's page and fetches its download link as the
// browser would (following the redirect to a datanode).
func download(t *testing.T, ctx context.Context, route string) []byte {
	t.Helper()
	show(t, ctx, route)
	var href string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.getElementById("download").href`, &href)); err != nil {
		t.Fatal(err)
	}
	code, _, b := curlL(t, http.MethodGet, href, nil)
	if code != http.StatusOK {
		t.Fatalf("download %s: %d %s", href, code, b)
	}
	return b
}

func evalInt(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	var n int
	if err := chromedp.Run(ctx, chromedp.Evaluate(js, &n)); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return n
}

func TestWebUI(t *testing.T) {
	c := testCluster(t, 3, smallBlocks)
	cl := newClient(c, "hdfs")
	data := randomBytes(2*(64<<10)+17, 97)
	writeFile(t, cl, "/ui/dir/big", data, client.CreateOptions{BlockSize: 64 << 10, Replication: 2})
	writeFile(t, cl, "/ui/dir/small", []byte("hello"), client.CreateOptions{Replication: 1})
	ctx, problems := browser(t)
	// The browser logs the one refusal the test asks for.
	const expected403 = "/webhdfs/v1/ui/private?op=GETFILESTATUS&user.name=bob"

	// Overview: the coordinator's figures.
	if err := chromedp.Run(ctx, chromedp.Navigate(c.MetadataURL+"/"), chromedp.WaitVisible(`#page[data-loaded="overview"]`, chromedp.ByQuery)); err != nil {
		t.Fatalf("loading the overview: %v", err)
	}
	var view api.ClusterView
	call(t, http.MethodGet, c.CoordinatorURL+"/api/v1/cluster", nil, &view)
	var liveText, safeText string
	if err := chromedp.Run(ctx, chromedp.Text("#live-nodes", &liveText, chromedp.ByQuery), chromedp.Text("#safemode", &safeText, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if liveText != strconv.Itoa(view.Live) || safeText != "Safe mode is OFF." {
		t.Fatalf("overview shows %q live nodes and %q; the coordinator counts %d live", liveText, safeText, view.Live)
	}
	screenshot(t, ctx, "overview")

	show(t, ctx, "datanodes")
	if n := evalInt(t, ctx, `document.querySelectorAll("#live-table tbody tr").length`); n != 3 {
		t.Fatalf("datanodes page lists %d live nodes, want 3", n)
	}
	// Capacity, non-DFS used and the last block report are listed; an
	// empty table says none.
	var head, deadText string
	if err := chromedp.Run(ctx, chromedp.Text("#live-table thead", &head, chromedp.ByQuery), chromedp.Text("#dead-table tbody", &deadText, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	for _, col := range []string{"Capacity", "Non DFS used", "Last block report", "Storage types"} {
		if !strings.Contains(head, col) {
			t.Fatalf("the datanodes table has no %s column: %q", col, head)
		}
	}
	if strings.TrimSpace(deadText) != "none" {
		t.Fatalf("the empty dead-nodes table shows %q, want none", deadText)
	}
	screenshot(t, ctx, "datanodes")
	// A datanode's name leads to its own page.
	var dnPage string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`document.querySelector("#live-table a.dn").href`, &dnPage)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.Navigate(dnPage), chromedp.WaitVisible("#volumes", chromedp.ByQuery)); err != nil {
		t.Fatalf("the datanode page %s: %v", dnPage, err)
	}
	var volumes, pools string
	if err := chromedp.Run(ctx, chromedp.Text("#volumes", &volumes, chromedp.ByQuery), chromedp.Text("#block-pools", &pools, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(volumes, "DS-") || !strings.HasPrefix(strings.TrimSpace(pools), "BP-") {
		t.Fatalf("the datanode page: volumes %q, block pools %q", volumes, pools)
	}
	screenshot(t, ctx, "datanode-page")
	if err := chromedp.Run(ctx, chromedp.Navigate(c.MetadataURL+"/")); err != nil {
		t.Fatal(err)
	}

	show(t, ctx, "startup")
	var total string
	if err := chromedp.Run(ctx, chromedp.Text("#startup-total", &total, chromedp.ByQuery)); err != nil || !strings.Contains(total, "100% complete") {
		t.Fatalf("startup progress: %q (%v)", total, err)
	}
	screenshot(t, ctx, "startup")

	// Browse into the directory the test wrote, then make one from the page.
	show(t, ctx, "browse/ui/dir")
	if names := listing(ctx); names != "big,small" {
		t.Fatalf("listing of /ui/dir: %q", names)
	}
	screenshot(t, ctx, "browse")
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`localStorage.setItem("granary.user", "hdfs")`, nil),
		chromedp.SendKeys(`#mkdir input`, "made-in-ui", chromedp.ByQuery),
		chromedp.Click(`#mkdir button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the new directory listed", func() bool { return listing(ctx) == "big,made-in-ui,small" })
	if code := call(t, http.MethodGet, c.MetadataURL+"/webhdfs/v1/ui/dir/made-in-ui?op=GETFILESTATUS", nil, &api.FileStatusResponse{}); code != http.StatusOK {
		t.Fatalf("the directory made from the page: %d", code)
	}

	// Upload a file from the page; it reads back byte for byte.
	up := filepath.Join(t.TempDir(), "uploaded.bin")
	upData := randomBytes(70_000, 98)
	if err := os.WriteFile(up, upData, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Run(ctx, chromedp.SetUploadFiles(`#upload input`, []string{up}, chromedp.ByQuery), chromedp.Click(`#upload button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the uploaded file listed", func() bool { return listing(ctx) == "big,made-in-ui,small,uploaded.bin" })
	if got := download(t, ctx, "browse/ui/dir/uploaded.bin"); !bytes.Equal(got, upData) {
		t.Fatalf("the uploaded file downloads as %d bytes, want the %d uploaded", len(got), len(upData))
	}

	// Rename, then delete (the page asks to confirm; the test agrees).
	show(t, ctx, "browse/ui/dir")
	if err := chromedp.Run(ctx,
		chromedp.SendKeys(`#rename input[name="s"]`, "made-in-ui", chromedp.ByQuery),
		chromedp.SendKeys(`#rename input[name="t"]`, "/ui/dir/renamed", chromedp.ByQuery),
		chromedp.Click(`#rename button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the renamed directory listed", func() bool { return listing(ctx) == "big,renamed,small,uploaded.bin" })
	if err := chromedp.Run(ctx,
		chromedp.Evaluate(`window.confirm = () => true`, nil),
		chromedp.Click(`#listing tbody tr:nth-child(2) button`, chromedp.ByQuery)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the deleted directory gone", func() bool { return listing(ctx) == "big,small,uploaded.bin" })

	// A file's blocks and its download link.
	show(t, ctx, "browse/ui/dir/big")
	if n := evalInt(t, ctx, `document.querySelectorAll("#blocks tbody tr").length`); n != 3 {
		t.Fatalf("file page lists %d blocks, want 3", n)
	}
	// Locations are host:port of real datanodes (the page once read a
	// field the API does not send: "host:undefined").
	var locs string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#blocks tbody tr td:last-child")].map(td => td.textContent).join(";")`, &locs)); err != nil {
		t.Fatal(err)
	}
	for _, loc := range strings.FieldsFunc(locs, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
		if _, port, ok := strings.Cut(loc, ":"); !ok || port == "" || port == "undefined" || strings.Trim(port, "0123456789") != "" {
			t.Fatalf("block location %q is not host:port (all: %q)", loc, locs)
		}
	}
	// The sticky bit shows, as ls shows it: /tmp is drwxrwxrwt.
	show(t, ctx, "browse/")
	var tmpMode string
	if err := chromedp.Run(ctx, chromedp.Evaluate(`[...document.querySelectorAll("#listing tr")].filter(tr => tr.textContent.includes("tmp")).map(tr => tr.cells[0].textContent).join()`, &tmpMode)); err != nil {
		t.Fatal(err)
	}
	if tmpMode != "drwxrwxrwt" {
		t.Fatalf("/tmp's mode in the listing: %q, want drwxrwxrwt", tmpMode)
	}
	if got := download(t, ctx, "browse/ui/dir/big"); !bytes.Equal(got, data) {
		t.Fatalf("the download link returned %d bytes, want the %d written", len(got), len(data))
	}
	screenshot(t, ctx, "file")

	// A killed datanode shows as dead (the page refreshes itself).
	if err := c.KillDatanode(2); err != nil {
		t.Fatal(err)
	}
	show(t, ctx, "datanodes")
	eventually(t, 30*time.Second, "the killed datanode listed dead", func() bool {
		var n int
		_ = chromedp.Run(ctx, chromedp.Evaluate(`document.querySelectorAll("#dead-table tbody tr.dead").length`, &n))
		return n == 1
	})
	screenshot(t, ctx, "datanodes-dead")

	// Phone width: no page is wider than the window.
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(375, 800)); err != nil {
		t.Fatal(err)
	}
	for _, route := range []string{"overview", "datanodes", "browse/ui/dir"} {
		show(t, ctx, route)
		if w := evalInt(t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Fatalf("%s is %d px wider than a 375 px window", route, w)
		}
		screenshot(t, ctx, "phone-"+strings.ReplaceAll(route, "/", "-"))
	}

	var unexpected []string
	for _, p := range problems() {
		if !strings.Contains(p, expected403) {
			unexpected = append(unexpected, p)
		}
	}
	if len(unexpected) > 0 {
		t.Fatalf("the browser reported problems:\n%s", strings.Join(unexpected, "\n"))
	}
}

// TestWebUIHAState: with HA the overview names the service's state, as
// HDFS's "Overview 'host:port' (active)", and the active metadata service
// names the active coordinator; the standby's page loads too (without
// datanode figures, which only the active asks the coordinator for).
func TestWebUIHAState(t *testing.T) {
	c := testCluster(t, 1, func(cfg *cluster.Config) {
		cfg.HA, cfg.StandbyAddr, cfg.StandbyCoordinatorAddr = true, "127.0.0.1:0", "127.0.0.1:0"
	})
	eventually(t, 10*time.Second, "c1 to be active", func() bool { return c.Coordinator.HAState() == "active" })
	ctx, _ := browser(t)
	for _, p := range []struct{ url, state, coordinator string }{{c.MetadataURL, "active", "c1"}, {c.StandbyURL, "standby", ""}} {
		if err := chromedp.Run(ctx, chromedp.Navigate(p.url+"/"), chromedp.WaitVisible(`#page[data-loaded="overview"]`, chromedp.ByQuery)); err != nil {
			t.Fatalf("loading %s's overview: %v", p.state, err)
		}
		var state, coord string
		if err := chromedp.Run(ctx, chromedp.Text("#ha-state", &state, chromedp.ByQuery),
			chromedp.Evaluate(`(document.getElementById("active-coordinator") || {}).textContent || ""`, &coord)); err != nil {
			t.Fatal(err)
		}
		if state != p.state || coord != p.coordinator {
			t.Fatalf("%s's overview shows state %q, active coordinator %q", p.url, state, coord)
		}
		screenshot(t, ctx, "overview-"+p.state)
	}
}
