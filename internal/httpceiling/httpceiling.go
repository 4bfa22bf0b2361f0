// Package httpceiling measures what net/http alone does on this machine:
// round trips of an empty JSON handler over keep-alive connections, the
// ceiling the request-path benchmarks are read against.
package httpceiling

import (
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Measure sends GETs to an empty handler from clients goroutines over as
// many keep-alive connections for d, and returns the round trips per
// second. The client's transport is net/http's, or what wrap makes of it
// (the Go client's inline transport, with net/http's as its fallback).
func Measure(clients int, d time.Duration, wrap func(*http.Transport) http.RoundTripper) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"boolean":true}`))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	var rt http.RoundTripper = tr
	if wrap != nil {
		rt = wrap(tr)
	}
	hc := &http.Client{Transport: rt}
	defer hc.CloseIdleConnections()
	u := "http://" + ln.Addr().String() + "/"
	var n atomic.Int64
	var first error
	var once sync.Once
	stop := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				resp, err := hc.Get(u)
				if err != nil {
					once.Do(func() { first = err })
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), first
}
