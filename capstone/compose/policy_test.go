package compose

import (
	"strings"
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

// TestWarningsRefreshPolicy: a refresh policy (daily, weekly, every_N) is
// acted on as missing, and Warnings says so; the others are not warned of.
func TestWarningsRefreshPolicy(t *testing.T) {
	p := &types.Project{Name: "p", Services: types.Services{}}
	for name, policy := range map[string]string{"a": "daily", "b": "every_2h", "c": "always", "d": ""} {
		s := types.ServiceConfig{Name: name}
		s.Image, s.PullPolicy = "unbox/busybox", policy
		p.Services[name] = s
	}
	w := strings.Join(Warnings(p), "\n")
	for _, want := range []string{`service "a": pull_policy daily pulls only a missing image`, `service "b": pull_policy every_2h pulls only a missing image`} {
		if !strings.Contains(w, want) {
			t.Errorf("Warnings lacks %q:\n%s", want, w)
		}
	}
	if strings.Contains(w, `service "c"`) || strings.Contains(w, `service "d"`) {
		t.Errorf("Warnings names a policy acted on as written:\n%s", w)
	}
}
