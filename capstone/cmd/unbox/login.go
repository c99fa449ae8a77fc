//go:build linux

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/unboxlab/unbox/capstone/image"
)

func loginCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "login",
		Usage:     "log in to a registry (Docker Hub if no server is given)",
		ArgsUsage: "[OPTIONS] [SERVER]",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "username"},
			&cli.StringFlag{Name: "password", Aliases: []string{"p"}, Usage: "password (prefer --password-stdin)"},
			&cli.BoolFlag{Name: "password-stdin", Usage: "take the password from stdin"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageError(c, "requires at most 1 argument.")
			}
			user, password := c.String("username"), c.String("password")
			in := bufio.NewReader(g.stdin)
			switch {
			case c.Bool("password-stdin") && password != "":
				return errors.New("--password and --password-stdin are mutually exclusive")
			case c.Bool("password-stdin") && user == "":
				return errors.New("must provide --username with --password-stdin")
			case c.Bool("password-stdin"):
				b, err := io.ReadAll(in)
				if err != nil {
					return err
				}
				password = strings.TrimRight(string(b), "\r\n")
			case password != "":
				fmt.Fprintln(g.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
			}
			if user == "" {
				fmt.Fprint(g.stdout, "Username: ")
				line, err := in.ReadString('\n')
				if err != nil && line == "" {
					return errors.New("login: no username given (use -u)")
				}
				user = strings.TrimSpace(line)
			}
			if password == "" {
				fmt.Fprint(g.stdout, "Password: ")
				p, err := readPassword(g.stdin, in)
				fmt.Fprintln(g.stdout)
				if err != nil {
					return err
				}
				password = p
			}
			if user == "" || password == "" {
				return errors.New("login: a username and a password are required")
			}
			if os.Geteuid() != 0 {
				return errors.New("unbox login writes the engine's configuration (" + configDir(c) + "): run it with sudo")
			}
			rc, err := image.LoadRegistryConfig(configDir(c))
			if err != nil {
				return err
			}
			if err := image.Login(c.Context, configDir(c), rc, c.Args().First(), user, password); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "WARNING! Your password will be stored unencrypted in %s.\n", filepath.Join(configDir(c), image.CredentialsFile))
			fmt.Fprintln(g.stdout, "Login Succeeded")
			return nil
		},
	}
}

// readPassword reads a line without echo on a terminal, as it is
// otherwise.
func readPassword(stdin io.Reader, in *bufio.Reader) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	line, err := in.ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("login: no password given (use --password-stdin)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
