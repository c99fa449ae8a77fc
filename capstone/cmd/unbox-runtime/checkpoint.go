//go:build linux

package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// errNoCRIU is the answer to checkpoint and restore: containerd's shim
// and podman pass it on to the user as it is.
var errNoCRIU = errors.New("checkpoint/restore is not supported by unbox-runtime: it needs CRIU, which unbox does not drive; use runc for it")

func checkpointCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:            "checkpoint",
		Usage:           "not supported (needs CRIU): fails with a clear error",
		ArgsUsage:       "ID",
		SkipFlagParsing: true,
		Action:          func(*cli.Context) error { return errNoCRIU },
	}
}

func restoreCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:            "restore",
		Usage:           "not supported (needs CRIU): fails with a clear error",
		ArgsUsage:       "ID",
		SkipFlagParsing: true,
		Action:          func(*cli.Context) error { return errNoCRIU },
	}
}
