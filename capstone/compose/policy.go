package compose

import (
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
)

// pullPolicy is the service's pull_policy as Compose reads it
// (ServiceConfig.GetPullPolicy: missing when unset; if_not_present is
// missing), or override when set (`up --pull`). The refresh policies
// (daily, weekly, every_<duration>) pull only a missing image here: the
// store keeps no time an image was pulled to measure them from (Warnings
// says so).
func pullPolicy(s types.ServiceConfig, override string) (string, error) {
	if override != "" && override != "policy" {
		s.PullPolicy = override
	}
	p, _, err := s.GetPullPolicy()
	if err != nil {
		return "", fmt.Errorf("service %q: %w: want always, missing, never or build", s.Name, err)
	}
	switch p {
	case types.PullPolicyIfNotPresent, types.PullPolicyRefresh:
		return types.PullPolicyMissing, nil
	case types.PullPolicyBuild:
		if s.Build == nil && override != "" {
			return types.PullPolicyMissing, nil // `up --pull build`: the others as missing
		}
		if s.Build == nil {
			return "", fmt.Errorf("service %q: pull_policy build, but it has no build section", s.Name)
		}
	}
	return p, nil
}
