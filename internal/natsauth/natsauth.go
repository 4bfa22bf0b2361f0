// Package natsauth is the authorization of Granary's NATS control plane:
// one nkey per service, and per identity exactly the subjects its part of
// the protocol needs (docs/security.md). A datanode may publish only its own
// subjects (granary.v1.<ns>.dn.<identity>.*) and the namespace-info request, and
// receive only replies on its own inbox: it cannot take heartbeats (act as
// the coordinator), answer another datanode, or speak for one. The
// coordinator and the metadata service answer requests through NATS's
// allow_responses and subscribe only to what they serve.
//
// It renders the same rules for the embedded server of `granary dev
// -secure` (Users) and for a standalone nats-server (Config), and writes
// the seed files the services authenticate with (Generate).
package natsauth

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// Kind is which service an identity is.
type Kind string

// The kinds.
const (
	Metadata    Kind = "metadata"
	Coordinator Kind = "coordinator"
	Datanode    Kind = "datanode"
)

// Identity is one NATS user: its name (the datanode's -nats-identity; the
// service name for the others), its kind and its nkey's public key.
type Identity struct {
	Name      string
	Kind      Kind
	PublicKey string
}

// Rules are an identity's publish and subscribe allow lists, and whether
// it may answer the requests it receives.
type Rules struct {
	Publish, Subscribe []string
	Responses          bool
}

// RulesFor returns the permissions of id. The nameservice token of every
// subject is a wildcard: one identity may serve several nameservices (a
// datanode serves a block pool of each).
func RulesFor(id Identity) Rules {
	switch id.Kind {
	case Metadata:
		return Rules{
			Publish:   []string{"granary.v1.*.ns.events", "granary.v1.*.coord.>"},
			Subscribe: []string{"granary.v1.*.ns.info", "granary.v1.*.ns.inventory", "granary.v1.*.ns.blockkeys", "granary.v1.*.ns.coordinator", "granary.v1.*.ns.locations", "_INBOX.metadata.>"},
			Responses: true,
		}
	case Coordinator:
		return Rules{
			Publish:   []string{"granary.v1.*.ns.info", "granary.v1.*.ns.inventory", "granary.v1.*.ns.blockkeys", "granary.v1.*.ns.coordinator", "granary.v1.*.ns.locations"},
			Subscribe: []string{"granary.v1.*.dn.*.>", "granary.v1.*.coord.>", "granary.v1.*.ns.events", "_INBOX.coordinator.>"},
			Responses: true,
		}
	default:
		return Rules{
			Publish:   []string{"granary.v1.*.dn." + id.Name + ".>", "granary.v1.*.ns.info"},
			Subscribe: []string{"_INBOX." + id.Name + ".>"},
		}
	}
}

// Users are the identities as the embedded server's nkey users.
func Users(ids []Identity) []*server.NkeyUser {
	var out []*server.NkeyUser
	for _, id := range ids {
		r := RulesFor(id)
		p := &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: slices.Clone(r.Publish)},
			Subscribe: &server.SubjectPermission{Allow: slices.Clone(r.Subscribe)},
		}
		if r.Responses {
			p.Response = &server.ResponsePermission{MaxMsgs: server.DEFAULT_ALLOW_RESPONSE_MAX_MSGS, Expires: server.DEFAULT_ALLOW_RESPONSE_EXPIRATION}
		}
		out = append(out, &server.NkeyUser{Nkey: id.PublicKey, Permissions: p})
	}
	return out
}

// Config renders the authorization block of a nats-server.conf.
func Config(ids []Identity) string {
	var b strings.Builder
	b.WriteString("# Granary's NATS authorization (internal/natsauth): one nkey per service.\nauthorization {\n  users = [\n")
	list := func(l []string) string {
		q := make([]string, len(l))
		for i, s := range l {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	for _, id := range ids {
		r := RulesFor(id)
		fmt.Fprintf(&b, "    # %s %s\n    {nkey: %s, permissions: {publish: {allow: %s}, subscribe: {allow: %s}", id.Kind, id.Name, id.PublicKey, list(r.Publish), list(r.Subscribe))
		if r.Responses {
			b.WriteString(", allow_responses: true")
		}
		b.WriteString("}}\n")
	}
	b.WriteString("  ]\n}\n")
	return b.String()
}

// Generate makes (or reuses) a seed file <name>.nk in dir for the metadata
// service, the coordinator and each named datanode, and returns the
// identities. Seeds are written 0600.
func Generate(dir string, datanodes []string) ([]Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ids := []Identity{{Name: "metadata", Kind: Metadata}, {Name: "coordinator", Kind: Coordinator}}
	for _, d := range datanodes {
		ids = append(ids, Identity{Name: d, Kind: Datanode})
	}
	for i := range ids {
		pub, err := seed(filepath.Join(dir, ids[i].Name+".nk"))
		if err != nil {
			return nil, err
		}
		ids[i].PublicKey = pub
	}
	return ids, nil
}

// seed reads the user nkey seed at path, making one first if there is
// none, and returns its public key.
func seed(path string) (string, error) {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", err
		}
		if data, err = kp.Seed(); err != nil {
			return "", err
		}
		if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(data))))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return kp.PublicKey()
}
