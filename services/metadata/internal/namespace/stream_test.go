package namespace

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

// gatedImage hands out an image's bytes piece by piece: a Wait beyond what
// was handed out hands out the next piece, and the pieces' ends are where
// the loader asked for more.
type gatedImage struct {
	data  []byte
	piece int

	mu     sync.Mutex
	given  int
	asked  []int // the Wait arguments, in order
	failAt int   // with a failure: the read fails past this byte
}

func (g *gatedImage) Data() []byte { return g.data }

func (g *gatedImage) Wait(n int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, n)
	for g.given < n {
		if g.failAt > 0 && g.given+g.piece > g.failAt {
			return errors.New("the read failed")
		}
		g.given = min(len(g.data), g.given+g.piece)
	}
	return nil
}

// TestLoadImageFromAStream: an image decoded while it arrives asks for its
// bytes a section at a time, never reads past what it waited for (the
// bytes beyond are garbage here), and loads the same namespace as the
// whole image; a read that fails midway fails the load.
func TestLoadImageFromAStream(t *testing.T) {
	live, _ := newTestNS()
	randomWorkload(live, 42, 3000)
	defer func(n int64) { sectionInodes = n }(sectionInodes)
	sectionInodes = 50
	data := image(t, live)
	// What the loader has not waited for is garbage: a read of it would
	// not decode to the same image.
	src := &gatedImage{data: bytes.Repeat([]byte{0xff}, len(data)), piece: 1000}
	gated := &copyingGate{g: src, from: data}
	loaded, err := LoadImageFrom(Config{Superuser: "hdfs"}, gated, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(image(t, loaded), data) {
		t.Fatal("the image of a streamed load differs")
	}
	partial := 0
	for _, n := range src.asked {
		if n < len(data) {
			partial++
		}
	}
	if f, d := live.Counts(); partial < int((f+d)/sectionInodes) {
		t.Fatalf("the loader waited for %d parts of the image (%v) for %d sections: it did not decode as the bytes arrived", partial, src.asked, (f+d)/sectionInodes)
	}
	// A read that fails midway fails the load.
	failing := &copyingGate{g: &gatedImage{data: make([]byte, len(data)), piece: 1000, failAt: len(data) / 2}, from: data}
	if _, err := LoadImageFrom(Config{Superuser: "hdfs"}, failing, nil); err == nil || err.Error() != "the read failed" {
		t.Fatalf("a read failing midway: %v", err)
	}
}

// copyingGate fills its gate's buffer from the real image as the gate
// hands pieces out.
type copyingGate struct {
	g    *gatedImage
	from []byte
}

func (c *copyingGate) Data() []byte { return c.g.data }

func (c *copyingGate) Wait(n int) error {
	c.g.mu.Lock()
	before := c.g.given
	c.g.mu.Unlock()
	err := c.g.Wait(n)
	c.g.mu.Lock()
	copy(c.g.data[before:c.g.given], c.from[before:c.g.given]) // only what was just handed out
	c.g.mu.Unlock()
	return err
}
