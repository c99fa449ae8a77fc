//go:build linux

package kit

// TrialOverlayMount lets the external tests run the probe's mount, which
// NeedOverlay only reaches where /proc/filesystems lacks overlay.
var TrialOverlayMount = trialOverlayMount
