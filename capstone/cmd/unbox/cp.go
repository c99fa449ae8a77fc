//go:build linux

package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

func cpCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "cp",
		Usage: "copy files or folders between a container and the local file system",
		ArgsUsage: "CONTAINER:SRC_PATH DEST_PATH|-\n" +
			"   unbox cp SRC_PATH|- CONTAINER:DEST_PATH",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 2); err != nil {
				return err
			}
			src, dst := c.Args().Get(0), c.Args().Get(1)
			sc, sp, sFromCtr := splitCopyArg(src)
			dc, dp, dToCtr := splitCopyArg(dst)
			e, err := g.engine()
			if err != nil {
				return err
			}
			switch {
			case sFromCtr && !dToCtr:
				return e.CopyFrom(c.Context, sc, sp, dst, g.stdout)
			case !sFromCtr && dToCtr:
				return e.CopyTo(c.Context, dc, src, dp, g.stdin)
			}
			return usageError(c, "copies between a container and the local file system: one side must be CONTAINER:PATH, the other a local path")
		},
	}
}

// splitCopyArg splits CONTAINER:PATH; a local path (absolute, or
// starting with .) is never read as one, as Docker decides.
func splitCopyArg(arg string) (ctr, p string, ok bool) {
	if strings.HasPrefix(arg, "/") || strings.HasPrefix(arg, ".") || arg == "-" {
		return "", arg, false
	}
	ctr, p, ok = strings.Cut(arg, ":")
	if !ok || ctr == "" {
		return "", arg, false
	}
	return ctr, p, true
}
