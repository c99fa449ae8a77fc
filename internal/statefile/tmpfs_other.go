//go:build !linux

package statefile

func onTmpfs(string) bool { return false }
