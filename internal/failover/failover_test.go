package failover

import (
	"testing"
	"time"
)

func TestTargets(t *testing.T) {
	ts := New(" http://a:9870/ ,http://b:9871,")
	if ts.Len() != 2 || ts.Current() != "http://a:9870" {
		t.Fatalf("%v, current %s", ts.URLs(), ts.Current())
	}
	ts.From("http://a:9870")
	ts.From("http://a:9870") // a second caller that also saw a fail: no double move
	if ts.Current() != "http://b:9871" {
		t.Fatalf("after a failover: %s", ts.Current())
	}
	ts.From("http://b:9871")
	if ts.Current() != "http://a:9870" {
		t.Fatalf("the failover does not wrap around: %s", ts.Current())
	}
	if !ts.Untried(0) || ts.Untried(1) {
		t.Fatal("with two services only the first failover is without a pause")
	}
	for attempt, want := range map[int]time.Duration{1: 500 * time.Millisecond, 2: time.Second, 4: 2 * time.Second, 40: 15 * time.Second} {
		if got := ts.Pause(attempt); got != want {
			t.Fatalf("pause after attempt %d: %v, want %v", attempt, got, want)
		}
	}
	if one := New(""); one.Len() != 1 || one.Current() != "" {
		t.Fatal("an empty list")
	}
}
