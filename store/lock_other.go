//go:build !unix

package store

import "os"

// tryLock: no advisory lock on this platform; the gateway is deployed on
// Linux, where lock_unix.go applies.
func tryLock(*os.File) (bool, error) { return true, nil }
