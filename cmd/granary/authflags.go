package main

import (
	"flag"
	"strings"

	"github.com/granary-fs/granary/internal/auth"
	"github.com/granary-fs/granary/internal/tlsconf"
)

// authFlags registers the authentication flags every service shares.
func authFlags(fs *flag.FlagSet, cfg *auth.Config) {
	fs.StringVar(&cfg.Mode, "auth", env("GRANARY_AUTH", auth.Simple), "hadoop.security.authentication: simple (user.name is trusted) or token (every request needs a bearer JWT or a delegation token) (GRANARY_AUTH)")
	fs.StringVar(&cfg.OIDCIssuer, "oidc-issuer", env("GRANARY_OIDC_ISSUER", ""), "token mode: the OpenID Connect issuer URL whose keys sign bearer tokens (GRANARY_OIDC_ISSUER)")
	fs.StringVar(&cfg.OIDCAudience, "oidc-audience", env("GRANARY_OIDC_AUDIENCE", "granary"), "token mode: the audience (aud) bearer tokens must name (GRANARY_OIDC_AUDIENCE)")
	fs.StringVar(&cfg.UserClaim, "oidc-user-claim", env("GRANARY_OIDC_USER_CLAIM", "preferred_username"), "token mode: the claim holding the user name (GRANARY_OIDC_USER_CLAIM)")
	fs.StringVar(&cfg.GroupsClaim, "oidc-groups-claim", env("GRANARY_OIDC_GROUPS_CLAIM", "groups"), "token mode: the claim holding the user's groups (GRANARY_OIDC_GROUPS_CLAIM)")
	cfg.ProxyUsers = strings.Fields(env("GRANARY_PROXYUSERS", ""))
	fs.Func("proxyuser", "token mode, repeatable: a hadoop.proxyuser.<user>.<users|groups|hosts>=<list> rule allowing doas (GRANARY_PROXYUSERS, space separated)", func(v string) error {
		cfg.ProxyUsers = append(cfg.ProxyUsers, v)
		return nil
	})
}

// natsFlags registers the NATS credential flags every service shares.
func natsFlags(fs *flag.FlagSet, nkey, ca *string) {
	fs.StringVar(nkey, "nats-nkey-file", env("GRANARY_NATS_NKEY_FILE", ""), "the service's NATS nkey seed file: authenticate to NATS with it (GRANARY_NATS_NKEY_FILE)")
	fs.StringVar(ca, "nats-ca-file", env("GRANARY_NATS_CA_FILE", ""), "the CA certificate that signed the NATS server's: connect with TLS and check it (GRANARY_NATS_CA_FILE)")
}

// tlsFlags registers the HTTPS flags every service shares.
func tlsFlags(fs *flag.FlagSet, f *tlsconf.Files) {
	fs.StringVar(&f.Cert, "tls-cert", env("GRANARY_TLS_CERT", ""), "serve HTTPS with this PEM certificate (dfs.http.policy HTTPS_ONLY) (GRANARY_TLS_CERT)")
	fs.StringVar(&f.Key, "tls-key", env("GRANARY_TLS_KEY", ""), "the key of -tls-cert (GRANARY_TLS_KEY)")
	fs.StringVar(&f.ClientCA, "tls-client-ca", env("GRANARY_TLS_CLIENT_CA", ""), "require client certificates signed by this CA (dfs.client.https.need-auth) (GRANARY_TLS_CLIENT_CA)")
	fs.StringVar(&f.CA, "tls-ca", env("GRANARY_TLS_CA", ""), "the CA bundle trusted when calling other services over HTTPS (GRANARY_TLS_CA)")
}
