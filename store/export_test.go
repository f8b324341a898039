package store

// RebindForTest exposes rebind to the external test package.
func RebindForTest(q string) string { return rebind(q) }
