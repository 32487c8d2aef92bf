package plugin

import "testing"

// SetMaxExpandedBytes lowers the limit on what an archive expands to
// (MaxExpandedBytes) for the rest of the test t, so that decompression
// bombs can be small. Tests using it must not run in parallel.
func SetMaxExpandedBytes(t testing.TB, n int64) {
	old := maxExpandedBytes
	maxExpandedBytes = n
	t.Cleanup(func() { maxExpandedBytes = old })
}

// SetMaxPackageBytes lowers the limit on a downloaded package
// (MaxPackageBytes) for the rest of the test t. Tests using it must not
// run in parallel.
func SetMaxPackageBytes(t testing.TB, n int64) {
	old := maxPackageBytes
	maxPackageBytes = n
	t.Cleanup(func() { maxPackageBytes = old })
}
