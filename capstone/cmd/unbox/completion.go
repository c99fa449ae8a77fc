//go:build linux

package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The completion scripts are urfave/cli's (autocomplete/), which ask the
// program itself for the words (--generate-bash-completion); for a flag
// they pass "-" rather than the word typed so far, which urfave/cli v2
// would parse as a flag, and fail on (the shell filters the list).
const bashCompletion = `# unbox completion for bash: source <(unbox completion bash)
_unbox_complete() {
  local cur words
  COMPREPLY=()
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:$COMP_CWORD}")
  if [[ "$cur" == "-"* ]]; then
    opts=$("${words[@]}" - --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "${opts}" -- "${cur}"))
  return 0
}
complete -o bashdefault -o default -o nospace -F _unbox_complete unbox
`

const zshCompletion = `#compdef unbox
# unbox completion for zsh: source <(unbox completion zsh)
_unbox() {
  local -a opts
  local cur
  cur=${words[-1]}
  if [[ "$cur" == "-"* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} - --generate-bash-completion)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
compdef _unbox unbox
`

func completionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script: bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, 1); err != nil {
				return err
			}
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(g.stdout, bashCompletion)
			case "zsh":
				fmt.Fprint(g.stdout, zshCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(g.stdout, s)
			default:
				return usageError(c, "supports bash, zsh and fish, not %q.", c.Args().First())
			}
			return nil
		},
	}
}
