package units

import "testing"

func TestByteDesc(t *testing.T) {
	for n, want := range map[int64]string{
		0:         "0 B",
		512:       "512 B",
		1536:      "1.50 KB",
		128 << 20: "128.00 MB",
		3 << 40:   "3.00 TB",
		5 << 60:   "5.00 EB",
	} {
		if got := ByteDesc(n); got != want {
			t.Errorf("ByteDesc(%d) = %q, want %q", n, got, want)
		}
	}
}
