package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// CredentialsFile is where `unbox login` keeps what it logged in with, in
// the config directory: Docker's config.json format ({"auths": {server:
// {"auth": base64(user:password)}}}), mode 0600, written atomically, so
// that Docker's, podman's and go-containerregistry's tools read it as it
// stands (DOCKER_CONFIG=/etc/unbox, REGISTRY_AUTH_FILE=/etc/unbox/config.json).
const CredentialsFile = "config.json"

// dockerHubAuthKey is the key Docker keeps Docker Hub's login under, for
// historical reasons.
const dockerHubAuthKey = authn.DefaultAuthKey

// Keychain resolves a registry's credentials from dir/config.json, as
// Docker's does from ~/.docker/config.json (a credential helper named there
// is run too, as Docker runs it). A registry without credentials is
// reached anonymously.
type Keychain struct{ Dir string }

// Resolve implements authn.Keychain.
func (k Keychain) Resolve(target authn.Resource) (authn.Authenticator, error) {
	cf, err := config.Load(k.Dir)
	if err != nil {
		return nil, err
	}
	for _, key := range []string{target.String(), target.RegistryStr()} {
		if key == dockerHubIndex || key == DockerHub {
			key = dockerHubAuthKey
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", key, err)
		}
		if ac.Username != "" || ac.Password != "" || ac.Auth != "" || ac.IdentityToken != "" || ac.RegistryToken != "" {
			return authn.FromConfig(authn.AuthConfig{
				Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}

// ServerKey is the server a login names as config.json keys it: Docker
// Hub's historical URL for "" and Docker Hub's names, else host[:port]
// (a scheme and path given with it are dropped, as Docker drops them).
func ServerKey(server string) string {
	s := server
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	s, _, _ = strings.Cut(s, "/")
	switch s {
	case "", DockerHub, dockerHubIndex, "registry-1.docker.io":
		return dockerHubAuthKey
	}
	return s
}

// Login checks user and password with the registry server (its /v2/
// endpoint, with whatever authentication it asks for: basic, or a bearer
// token from its token service), then stores them in configDir's
// config.json, as `docker login` does. Wrong credentials are an error and
// nothing is stored.
func Login(ctx context.Context, configDir string, rc RegistryConfig, server, user, password string) error {
	key := ServerKey(server)
	host := key
	if key == dockerHubAuthKey {
		host = dockerHubIndex
	}
	ep := Endpoint{Host: host, Insecure: rc.Insecure(host)}
	reg, err := name.NewRegistry(host, ep.nameOptions()...)
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	t, err := transport.NewWithContext(ctx, reg, auth, ep.transport(), nil)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, unauthorized(err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: t}).Do(req)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("login to %s: unauthorized: incorrect username or password", host)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("login to %s: the registry answered %s", host, resp.Status)
	}
	return updateCredentials(configDir, func(cf *configfile.ConfigFile) {
		cf.AuthConfigs[key] = types.AuthConfig{Username: user, Password: password, ServerAddress: key}
	})
}

// unauthorized says what a 401 during the token exchange means.
func unauthorized(err error) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("unauthorized: incorrect username or password (%w)", err)
	}
	return err
}

// needLogin says what a registry's 401 means to the person who hit it:
// log in (or check the login) to that registry. Other errors are err.
func needLogin(err error, host string) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode == http.StatusUnauthorized {
		if host == dockerHubIndex {
			host = ""
		}
		return fmt.Errorf("%w\n(the registry wants credentials: `unbox login %s`, or check the ones config.json holds)", err, host)
	}
	return err
}

// Logout removes the credentials stored for server; it reports whether
// there were any.
func Logout(configDir, server string) (bool, error) {
	key := ServerKey(server)
	cf, err := config.Load(configDir)
	if err != nil {
		return false, err
	}
	if _, ok := cf.AuthConfigs[key]; !ok {
		return false, nil
	}
	return true, updateCredentials(configDir, func(cf *configfile.ConfigFile) { delete(cf.AuthConfigs, key) })
}

// updateCredentials changes configDir/config.json with fn: Docker's own
// code reads and writes it (write to a temporary file, rename), and the
// file is left mode 0600 whatever it was, since it holds passwords.
func updateCredentials(configDir string, fn func(cf *configfile.ConfigFile)) error {
	if err := os.MkdirAll(configDir, 0o700); err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	cf, err := config.Load(configDir)
	if err != nil {
		return err
	}
	if cf.AuthConfigs == nil {
		cf.AuthConfigs = map[string]types.AuthConfig{}
	}
	fn(cf)
	p := filepath.Join(configDir, CredentialsFile)
	if _, err := os.Lstat(p); err == nil {
		if err := os.Chmod(p, 0o600); err != nil {
			return fmt.Errorf("store credentials: %w", err)
		}
	}
	if err := cf.Save(); err != nil {
		return fmt.Errorf("store credentials in %s: %w", p, err)
	}
	return nil
}
