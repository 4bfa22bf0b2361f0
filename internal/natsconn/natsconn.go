// Package natsconn connects a service to NATS the one way all three do:
// reconnecting for ever, authenticated with an nkey when one is configured,
// with an inbox prefix of its own NATS identity (so that the server can
// limit each identity to the replies meant for it), over TLS when the URL
// or a CA asks for it.
package natsconn

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/granary-fs/granary/internal/tlsconf"
)

// Config is one service's connection.
type Config struct {
	URL      string // nats://host:4222 (comma separated for several), tls:// for TLS
	Name     string // the connection name shown by the server
	Identity string // the NATS identity: replies come to _INBOX.<identity>.>
	// NKeyFile holds the service's nkey seed (a file `nk -gen user`
	// makes); empty connects without authentication.
	NKeyFile string
	// CAFile is the CA bundle that signs the server's certificate; with
	// it the connection is TLS.
	CAFile string
}

// Connect dials NATS; with RetryOnFailedConnect it returns at once and
// keeps trying in the background.
func Connect(c Config) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(c.Name), nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
	}
	if c.Identity != "" {
		if strings.ContainsAny(c.Identity, ".*> \t") {
			return nil, fmt.Errorf("NATS identity %q must not contain '.', '*', '>' or spaces", c.Identity)
		}
		opts = append(opts, nats.CustomInboxPrefix("_INBOX."+c.Identity))
	}
	if c.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(c.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey %s: %w", c.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if c.CAFile != "" {
		tc, err := tlsconf.Files{CA: c.CAFile}.Client()
		if err != nil {
			return nil, fmt.Errorf("NATS CA: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	return nats.Connect(c.URL, opts...)
}
