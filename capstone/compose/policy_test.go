package compose

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
)

// TestPullPolicy: a service's pull_policy as `up` acts on it, with and
// without `up --pull`.
func TestPullPolicy(t *testing.T) {
	built := &types.BuildConfig{Context: "."}
	for _, tc := range []struct {
		policy, override string
		build            *types.BuildConfig
		want             string // "" for an error
	}{
		{"", "", nil, "missing"},
		{"", "policy", nil, "missing"},
		{"always", "", nil, "always"},
		{"never", "", nil, "never"},
		{"if_not_present", "", nil, "missing"},
		{"daily", "", nil, "missing"},
		{"every_12h", "", nil, "missing"},
		{"build", "", built, "build"},
		{"build", "", nil, ""},
		{"never", "always", nil, "always"},
		{"always", "never", nil, "never"},
		{"", "build", nil, "missing"},
		{"", "build", built, "build"},
		{"sometimes", "", nil, ""},
		{"", "sometimes", nil, ""},
	} {
		s := types.ServiceConfig{Name: "s"}
		s.PullPolicy, s.Build = tc.policy, tc.build
		got, err := pullPolicy(s, tc.override)
		if tc.want == "" {
			if err == nil {
				t.Errorf("pullPolicy(%q, --pull %q, build %v) = %q; want an error", tc.policy, tc.override, tc.build != nil, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("pullPolicy(%q, --pull %q, build %v) = %q, %v; want %q", tc.policy, tc.override, tc.build != nil, got, err, tc.want)
		}
	}
}
