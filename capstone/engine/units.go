package engine

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseBytes reads a size as Docker's --memory and --shm-size take it
// (go-units RAMInBytes): a number, with an optional fraction, and an
// optional unit b, k, m, g, t or p (with or without a trailing b, either
// case), in powers of 1024: "512m", "1.5g", "1048576".
func ParseBytes(s string) (int64, error) {
	bad := fmt.Errorf("invalid size: '%s'", s)
	num := strings.TrimRightFunc(s, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' })
	unit := strings.ToLower(s[len(num):])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || strings.ContainsAny(num, "eEx+-") || v < 0 {
		return 0, bad
	}
	mult := map[string]float64{"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
		"g": 1 << 30, "gb": 1 << 30, "t": 1 << 40, "tb": 1 << 40, "p": 1 << 50, "pb": 1 << 50}
	m, ok := mult[unit]
	if !ok {
		return 0, bad
	}
	if v*m >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size: '%s' is too large", s)
	}
	return int64(v * m), nil
}

// ParseCPUs reads --cpus ("1.5") as Docker does: billionths of a CPU
// (NanoCPUs), which Create turns into a CFS quota over a 100 ms period.
func ParseCPUs(s string) (int64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("invalid argument %q for \"--cpus\" flag: want a number of CPUs, such as 1.5", s)
	}
	n := int64(math.Round(v * 1e9))
	if v > 0 && n < 1e6 {
		return 0, fmt.Errorf("--cpus %s: the minimum is 0.001", s)
	}
	return n, nil
}

// HumanSize is a size as `docker images` prints it: decimal units, three
// significant digits ("5.37MB", "1.2GB", "932B").
func HumanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	v, i := float64(n), 0
	for v >= 1000 && i < len(units)-1 {
		v /= 1000
		i++
	}
	return strconv.FormatFloat(v, 'g', 3, 64) + units[i]
}

// BinarySize is a size as `docker stats` prints it (go-units BytesSize):
// binary units, four significant digits ("1.524MiB", "32MiB", "0B").
func BinarySize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	v, i := float64(n), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return strconv.FormatFloat(v, 'g', 4, 64) + units[i]
}

// ParseTime reads a time as `docker logs --since/--until` takes it (moby's
// timetypes): a duration before now ("10m", "1h30m"), Unix seconds with an
// optional fraction ("1700000000.5"), or an RFC 3339 date and time, a
// time without a zone being the local one ("2026-12-01T10:00:00Z",
// "2026-12-01T10:00:00", "2026-12-01").
func ParseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if sec, frac, _ := strings.Cut(s, "."); sec != "" && strings.Trim(sec, "0123456789") == "" && strings.Trim(frac, "0123456789") == "" {
		n, err := strconv.ParseInt(sec, 10, 64)
		if err == nil && len(frac) <= 9 {
			ns, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
			return time.Unix(n, ns), nil
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q: want a duration (10m), Unix seconds or an RFC 3339 time (2006-01-02T15:04:05Z)", s)
}
