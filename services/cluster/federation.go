package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/granary-fs/granary/api"
	"github.com/granary-fs/granary/services/coordinator"
	"github.com/granary-fs/granary/services/metadata"
	"github.com/granary-fs/granary/services/router"
)

// Federation (seed 003): several nameservices over the same datanodes. A
// nameservice is a metadata service (its own namespace, database and block
// pool, the cluster's ID) with its own coordinator; every datanode runs a
// block pool service for each. ns1 is the cluster's Metadata and
// Coordinator; the others are in Federated.

// Nameservice is one of the other nameservices of a federated cluster.
type Nameservice struct {
	Name           string
	Metadata       *metadata.Service
	MetadataURL    string
	Coordinator    *coordinator.Service
	CoordinatorURL string
	// With Config.HA: its standby metadata service (nn2) and second
	// coordinator (c2).
	Standby         *metadata.Service
	StandbyURL      string
	Coordinator2    *coordinator.Service
	Coordinator2URL string
	mcfg            metadata.Config
}

// nameserviceName is the name of nameservice k (counting from 0): ns1, ns2...
func nameserviceName(k int) string { return fmt.Sprintf("ns%d", k+1) }

// nameserviceNames lists every nameservice of the cluster.
func (c *Cluster) nameserviceNames() []string {
	names := []string{c.mcfg.Nameservice}
	for _, n := range c.Federated {
		names = append(names, n.Name)
	}
	return names
}

// startFederated formats (on first run, with ns1's cluster ID) and starts
// nameservices 2..n: metadata on 9870+2k, coordinator on 9880+2k unless
// the configuration names addresses.
func (c *Cluster) startFederated(ctx context.Context) error {
	for k := 1; k < c.cfg.Nameservices; k++ {
		db := ""
		if k-1 < len(c.cfg.FederatedDatabaseURLs) {
			db = c.cfg.FederatedDatabaseURLs[k-1]
		}
		if _, err := c.AddNameservice(ctx, db, pick(c.cfg.FederatedMetadataAddrs, k-1, fmt.Sprintf(":%d", 9870+2*k)),
			pick(c.cfg.FederatedCoordinatorAddrs, k-1, fmt.Sprintf(":%d", 9880+2*k))); err != nil {
			return err
		}
	}
	return nil
}

// AddNameservice formats (unless its database holds one already, with the
// cluster's ID) and starts the next nameservice: its metadata service on
// metaAddr with the database at dbURL (empty: a database of the local
// PostgreSQL), its coordinator on coordAddr. Running datanodes serve it
// once they are told to (refreshNamenodes); datanodes started later serve
// it from the start.
func (c *Cluster) AddNameservice(ctx context.Context, dbURL, metaAddr, coordAddr string) (*Nameservice, error) {
	name := nameserviceName(len(c.Federated) + 1)
	n := &Nameservice{Name: name, mcfg: c.mcfg}
	n.mcfg.Nameservice, n.mcfg.HTTPAddr, n.mcfg.DatabaseURL = name, metaAddr, dbURL
	if dbURL == "" {
		if c.pg == nil {
			return nil, fmt.Errorf("nameservice %s needs a database", name)
		}
		url, err := ensureDatabase(ctx, c.pg, "granary_"+name)
		if err != nil {
			return nil, err
		}
		n.mcfg.DatabaseURL = url
	}
	done, err := metadata.IsFormatted(ctx, n.mcfg)
	if err != nil {
		return nil, err
	}
	if !done {
		ni, err := metadata.Format(ctx, n.mcfg, metadata.FormatOptions{ClusterID: c.Metadata.ClusterID()})
		if err != nil {
			return nil, fmt.Errorf("formatting %s: %w", name, err)
		}
		c.cfg.Logger.Info("formatted a new namespace", "nameservice", name, "cluster_id", ni.ClusterID, "block_pool_id", ni.BlockPoolID)
	}
	if err := c.startNameservice(ctx, n, coordAddr); err != nil {
		return nil, err
	}
	c.Federated = append(c.Federated, n)
	if !done {
		if err := n.Metadata.CreateInitialLayout(ctx); err != nil {
			return nil, fmt.Errorf("creating /tmp and /user in %s: %w", name, err)
		}
	}
	return n, nil
}

// startNameservice starts n's metadata service (on n.mcfg.HTTPAddr) and
// coordinator (on coordAddr); with HA also their nn2 and c2, each on the
// port after (or where they ran before).
func (c *Cluster) startNameservice(ctx context.Context, n *Nameservice, coordAddr string) error {
	metaAddr := n.mcfg.HTTPAddr
	n.Metadata = metadata.New(n.mcfg)
	if err := c.start(ctx, "metadata-"+n.Name, n.Metadata.Run, n.Metadata.Started()); err != nil {
		return err
	}
	n.MetadataURL = c.tls.Scheme() + "://" + localAddr(n.Metadata.Addr())
	n.mcfg.HTTPAddr = hostPort(n.MetadataURL) // a restart keeps the address
	if c.cfg.HA {
		addr := nextPort(metaAddr)
		if n.StandbyURL != "" {
			addr = hostPort(n.StandbyURL)
		}
		var err error
		if n.Standby, n.StandbyURL, err = c.startStandbyMetadata(ctx, "metadata-standby-"+n.Name, n.mcfg, addr); err != nil {
			return err
		}
	}
	ccfg := c.coordinatorConfig(coordAddr)
	ccfg.Nameservice = n.Name
	svc, err := coordinator.New(ccfg)
	if err != nil {
		return err
	}
	if err := c.start(ctx, "coordinator-"+n.Name, svc.Run, svc.Started()); err != nil {
		return err
	}
	n.Coordinator, n.CoordinatorURL = svc, c.tls.Scheme()+"://"+localAddr(svc.Addr())
	if !c.cfg.HA {
		return nil
	}
	if err := waitActive(ctx, svc); err != nil {
		return err
	}
	ccfg.HTTPAddr = nextPort(coordAddr)
	if n.Coordinator2URL != "" {
		ccfg.HTTPAddr = hostPort(n.Coordinator2URL)
	}
	n.Coordinator2, n.Coordinator2URL, err = c.startCoordinator2(ctx, "coordinator2-"+n.Name, ccfg)
	return err
}

// StopNameservice stops a federated nameservice's metadata services and
// coordinators (the datanodes keep serving the others).
func (c *Cluster) StopNameservice(n *Nameservice) {
	_ = c.stopMember("coordinator2-" + n.Name)
	_ = c.stopMember("coordinator-" + n.Name)
	_ = c.stopMember("metadata-" + n.Name)
	_ = c.stopMember("metadata-standby-" + n.Name)
}

// StopNameserviceMetadata stops a federated nameservice's (first) metadata
// service, nn1; with HA its standby takes over.
func (c *Cluster) StopNameserviceMetadata(n *Nameservice) error {
	return c.stopMember("metadata-" + n.Name)
}

// StopNameserviceCoordinator stops a federated nameservice's (first)
// coordinator, c1; with HA c2 takes over.
func (c *Cluster) StopNameserviceCoordinator(n *Nameservice) error {
	return c.stopMember("coordinator-" + n.Name)
}

// ReformatNameservice stops a federated nameservice, formats its namespace
// again (metadata format -force, the cluster's ID: a new namespace and
// block pool) and starts it on its addresses, the datanodes running.
func (c *Cluster) ReformatNameservice(ctx context.Context, n *Nameservice) error {
	c.StopNameservice(n)
	if _, err := metadata.Format(ctx, n.mcfg, metadata.FormatOptions{ClusterID: c.Metadata.ClusterID(), Force: true}); err != nil {
		return err
	}
	if err := c.StartNameservice(ctx, n); err != nil {
		return err
	}
	return n.Metadata.CreateInitialLayout(ctx)
}

// StartNameservice restarts a stopped federated nameservice on its
// addresses.
func (c *Cluster) StartNameservice(ctx context.Context, n *Nameservice) error {
	return c.startNameservice(ctx, n, hostPort(n.CoordinatorURL))
}

func pick(list []string, i int, def string) string {
	if i < len(list) && strings.TrimSpace(list[i]) != "" {
		return list[i]
	}
	return def
}

// stopFederated stops nameservices 2..n.
func (c *Cluster) stopFederated() {
	for _, n := range c.Federated {
		c.StopNameservice(n)
	}
}

// startRouter starts the router over every nameservice and, on an empty
// mount table, mounts /<ns> on each nameservice's root.
func (c *Cluster) startRouter(ctx context.Context) error {
	db := c.cfg.RouterDatabaseURL
	if db == "" {
		if c.pg == nil {
			return fmt.Errorf("the router needs a database: set RouterDatabaseURL")
		}
		var err error
		if db, err = ensureDatabase(ctx, c.pg, "granary_router"); err != nil {
			return err
		}
	}
	nss := map[string]string{c.mcfg.Nameservice: c.MetadataURL}
	if c.StandbyURL != "" {
		nss[c.mcfg.Nameservice] += "," + c.StandbyURL // HA: the router fails over
	}
	for _, n := range c.Federated {
		nss[n.Name] = n.MetadataURL
		if n.StandbyURL != "" {
			nss[n.Name] += "," + n.StandbyURL
		}
	}
	addr := c.cfg.RouterAddr
	if addr == "" {
		addr = ":50071"
	}
	r, err := router.New(router.Config{HTTPAddr: addr, DatabaseURL: db, Nameservices: nss, Superuser: c.mcfg.Superuser,
		Supergroup: c.mcfg.Supergroup, Logger: c.cfg.Logger})
	if err != nil {
		return err
	}
	if err := c.start(ctx, "router", r.Run, r.Started()); err != nil {
		return err
	}
	c.Router, c.RouterURL = r, "http://"+localAddr(r.Addr())
	if len(r.Mounts()) == 0 {
		for _, ns := range c.nameserviceNames() {
			if err := r.PutMount(ctx, api.MountEntry{Source: "/" + ns, Nameservice: ns, Destination: "/"}); err != nil {
				return err
			}
		}
	}
	return nil
}
