package nnbench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/granary-fs/granary/internal/httpceiling"
	"github.com/granary-fs/granary/services/metadata"
)

// httpFileStatus runs a real metadata service and sends GETFILESTATUS over
// 64 keep-alive connections (o.Threads goroutines) for o.Duration.
func httpFileStatus(ctx context.Context, e *env, o Options, out io.Writer) error {
	url, err := e.database(ctx)
	if err != nil {
		return err
	}
	svc := metadata.New(metadata.Config{
		DatabaseURL: url, HTTPAddr: "127.0.0.1:0", Superuser: "bench", DBMaxConns: 16, AuditLog: o.AuditLog,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- svc.Run(rctx) }()
	defer func() { stop(); <-done }()
	select {
	case <-svc.Started():
	case err := <-done:
		return err
	}
	base := "http://" + svc.Addr()
	tr := &http.Transport{MaxIdleConnsPerHost: o.Threads, MaxConnsPerHost: o.Threads, DisableCompression: true}
	client := &http.Client{Transport: tr}
	const nfiles = 1000
	paths := make([]string, nfiles)
	for i := range paths {
		paths[i] = fmt.Sprintf("/bench/d%d/f%d", i/100, i%100)
	}
	if err := runThreads(10, nfiles/10, func(t, i int) error {
		p := paths[t*(nfiles/10)+i]
		body := fmt.Sprintf(`{"path":%q,"clientName":"nnbench","createParent":true}`, p)
		if err := post(client, base+"/api/v1/create?user.name=bench", body); err != nil {
			return err
		}
		return post(client, base+"/api/v1/complete?user.name=bench", fmt.Sprintf(`{"path":%q,"clientName":"nnbench"}`, p))
	}); err != nil {
		return err
	}
	var count, failures atomic.Int64
	deadline := time.Now().Add(o.Duration)
	var wg sync.WaitGroup
	start := time.Now()
	for t := 0; t < o.Threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := t; time.Now().Before(deadline); i++ {
				resp, err := client.Get(base + "/webhdfs/v1" + paths[i%nfiles] + "?op=GETFILESTATUS&user.name=bench")
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures.Add(1)
					continue
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	rate := float64(count.Load()) / elapsed.Seconds()
	fmt.Fprintf(out, "--- httpFileStatus ---\nconnections: %d (keep-alive)\nrequests: %d, failures: %d, elapsed: %v\nrequests per sec: %.0f\n",
		o.Threads, count.Load(), failures.Load(), elapsed.Round(time.Millisecond), rate)
	if failures.Load() > 0 {
		return fmt.Errorf("%d requests failed", failures.Load())
	}
	// The same load on an empty handler, right after: what net/http alone
	// does on this machine now.
	ceiling, err := httpceiling.Measure(o.Threads, o.Duration, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "net/http ceiling (empty handler, %d keep-alive connections): %.0f req/s; GETFILESTATUS is %.0f%% of it\n", o.Threads, ceiling, 100*rate/ceiling)
	return nil
}

func post(c *http.Client, url, body string) error {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return nil
}
