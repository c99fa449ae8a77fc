//go:build linux

package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
)

func versionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "show unbox's version",
		Action: func(c *cli.Context) error {
			commit := "unknown"
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						commit = s.Value
					}
				}
			}
			fmt.Fprintf(g.stdout, "unbox version %s\n Go version: %s\n Git commit: %s\n OS/Arch: %s/%s\n OCI runtime-spec: %s\n Default runtime: %s\n",
				version, runtime.Version(), commit, runtime.GOOS, runtime.GOARCH, specs.Version, g.opts.Runtime)
			return nil
		},
	}
}
