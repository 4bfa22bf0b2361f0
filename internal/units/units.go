// Package units formats sizes the way Hadoop prints them.
package units

import "fmt"

// ByteDesc formats n like Hadoop's StringUtils.byteDesc: binary units with
// two decimals ("1.50 GB"), whole bytes below one KB ("512 B").
func ByteDesc(n int64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f %s", v, units[i])
}
