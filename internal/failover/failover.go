// Package failover is the client side of HA (HDFS's
// ConfiguredFailoverProxyProvider and its retry policy): the metadata
// services of one nameservice, the one in use, and the back-off between
// attempts. The Go client and the router share it.
package failover

import (
	"strings"
	"sync/atomic"
	"time"
)

// MaxAttempts is dfs.client.failover.max.attempts (15).
const MaxAttempts = 15

// Targets are a nameservice's metadata services; the first is used until a
// failover moves on. Safe for concurrent use.
type Targets struct {
	urls    []string
	current atomic.Int32
}

// New returns the targets of a comma-separated URL list (trailing slashes
// dropped); an empty list gives one empty URL.
func New(list string) *Targets {
	t := &Targets{}
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			t.urls = append(t.urls, u)
		}
	}
	if len(t.urls) == 0 {
		t.urls = []string{""}
	}
	return t
}

// Len is the number of services.
func (t *Targets) Len() int { return len(t.urls) }

// URLs lists the services.
func (t *Targets) URLs() []string { return t.urls }

// Current is the service in use.
func (t *Targets) Current() string { return t.urls[int(t.current.Load())%len(t.urls)] }

// From moves to the service after url, unless another caller already
// moved on from it.
func (t *Targets) From(url string) {
	for i, u := range t.urls {
		if u == url {
			t.current.CompareAndSwap(int32(i), int32((i+1)%len(t.urls)))
			return
		}
	}
}

// Pause is how long to wait before the attempt after attempt (counted from
// 0), HDFS's exponential back-off (dfs.client.failover.sleep.base.millis
// 500, .max.millis 15000) by rounds over the services.
func (t *Targets) Pause(attempt int) time.Duration {
	return min(500*time.Millisecond<<min(attempt/len(t.urls), 5), 15*time.Second)
}

// Untried reports whether a failover after attempt reaches a service not
// tried yet in this round (the caller goes on without a pause).
func (t *Targets) Untried(attempt int) bool { return attempt < len(t.urls)-1 }
