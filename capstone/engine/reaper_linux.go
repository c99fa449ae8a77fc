package engine

import "errors"

// reaper is the host path of --init's reaper.
func (e *Engine) reaper() (string, error) {
	return "", errors.New("--init is not available yet")
}
