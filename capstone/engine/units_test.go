package engine

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"10m":                         now.Add(-10 * time.Minute),
		"1h30m":                       now.Add(-90 * time.Minute),
		"1700000000":                  time.Unix(1700000000, 0),
		"1700000000.25":               time.Unix(1700000000, 250000000),
		"2026-12-01T10:00:00Z":        time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		"2026-12-01T10:00:00.5+02:00": time.Date(2026, 12, 1, 8, 0, 0, 500000000, time.UTC),
		"2026-12-01T10:00:00":         time.Date(2026, 12, 1, 10, 0, 0, 0, time.Local),
		"2026-12-01":                  time.Date(2026, 12, 1, 0, 0, 0, 0, time.Local),
	} {
		if got, err := ParseTime(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "10x", "2026-13-01", "1700000000.1234567891", "1.2.3"} {
		if got, err := ParseTime(bad, now); err == nil {
			t.Errorf("ParseTime(%q) = %v; want an error", bad, got)
		}
	}
}
