// Package blocktoken is HDFS's block access tokens
// (dfs.block.access.token.enable): the metadata service signs, for every
// block it locates or allocates, a token naming the block pool, the block,
// the user, the access modes and an expiry, with the current key of a
// rolling set; the keys reach the coordinator and, through it, the datanodes
// (registration replies and KEYUPDATE commands); the datanodes check every
// block request against them. The identifier is HDFS's
// BlockTokenIdentifier, the password its HmacSHA1, the string
// Token.encodeToUrlString's (kind HDFS_BLOCK_TOKEN).
package blocktoken

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
)

// Header carries a block token on the datanodes' block API.
const Header = "X-Granary-Block-Token"

// Key is one block key (HDFS's BlockKey).
type Key struct {
	ID     int32  `json:"id"`
	Expiry int64  `json:"expiry"` // milliseconds since the epoch
	Secret []byte `json:"secret"`
}

// Keys is what the key holder exports (HDFS's ExportedBlockKeys): the
// current key signs, every key verifies. Generation changes whenever the
// set does, so a receiver knows whether it is up to date.
type Keys struct {
	Generation     int64 `json:"generation"`
	UpdateInterval int64 `json:"updateInterval"` // ms, dfs.block.access.key.update.interval
	TokenLifetime  int64 `json:"tokenLifetime"`  // ms, dfs.block.access.token.lifetime
	Current        int32 `json:"current"`
	Keys           []Key `json:"keys"`
}

// Set signs and checks tokens with a Keys; safe for concurrent use.
type Set struct {
	mu   sync.RWMutex
	keys Keys
	now  func() time.Time
}

// NewSet returns an empty set (it refuses every token until Update).
func NewSet() *Set { return &Set{now: time.Now} }

// Update replaces the keys.
func (s *Set) Update(k Keys) {
	s.mu.Lock()
	s.keys = k
	s.mu.Unlock()
}

// Keys returns the current keys.
func (s *Set) Keys() Keys {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys
}

// Generation is the generation of the keys held (0: none).
func (s *Set) Generation() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.keys.Generation
}

func (s *Set) key(id int32) (Key, bool) {
	for _, k := range s.keys.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return Key{}, false
}

// Issue signs a token for user on the block with the current key.
func (s *Set) Issue(user, bpid string, blockID int64, modes ...hadooptoken.AccessMode) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.key(s.keys.Current)
	if !ok {
		return "", errs.E(errs.IO, "no block key to sign a block token with yet")
	}
	id := hadooptoken.Block{
		ExpiryDate: s.now().Add(time.Duration(s.keys.TokenLifetime) * time.Millisecond).UnixMilli(),
		KeyID:      k.ID, UserID: user, BlockPoolID: bpid, BlockID: blockID, Modes: modes,
	}
	b := id.Marshal()
	return hadooptoken.Token{Identifier: b, Password: hadooptoken.Password(b, k.Secret), Kind: hadooptoken.KindBlock}.Encode(), nil
}

// Check is BlockTokenSecretManager.checkAccess: the token must be for this
// block pool and block, grant mode, be unexpired and carry the password of
// a key in the set. Failures are InvalidToken with HDFS's messages.
func (s *Set) Check(token, bpid string, blockID int64, mode hadooptoken.AccessMode) error {
	if token == "" {
		return errs.E(errs.InvalidToken, "Block token is required for %s access to block %s:blk_%d", mode, bpid, blockID)
	}
	tok, err := hadooptoken.Decode(token)
	if err != nil {
		return errs.Wrap(errs.InvalidToken, err, "Unreadable block token")
	}
	id, err := hadooptoken.UnmarshalBlock(tok.Identifier)
	if err != nil {
		return errs.Wrap(errs.InvalidToken, err, "Unreadable block token identifier")
	}
	if id.BlockPoolID != bpid || id.BlockID != blockID {
		return errs.E(errs.InvalidToken, "Block token with %s doesn't apply to block %s:blk_%d", id, bpid, blockID)
	}
	if s.now().UnixMilli() > id.ExpiryDate {
		return errs.E(errs.InvalidToken, "Block token with %s is expired.", id)
	}
	if !id.Has(mode) {
		return errs.E(errs.InvalidToken, "Block token with %s doesn't have %s access mode", id, mode)
	}
	s.mu.RLock()
	k, ok := s.key(id.KeyID)
	s.mu.RUnlock()
	if !ok {
		return errs.E(errs.InvalidToken, "Can't re-compute password for %s, since the required block key (keyID=%d) doesn't exist.", id, id.KeyID)
	}
	if !hmac.Equal(tok.Password, hadooptoken.Password(tok.Identifier, k.Secret)) {
		return errs.E(errs.InvalidToken, "Block token with %s doesn't have the correct token password", id)
	}
	return nil
}

// Master generates and rolls the keys (the metadata service's
// BlockTokenSecretManager in master mode): every update interval the next
// key becomes the current one and a new next key is made, so that every
// key reaches the datanodes an interval before it signs anything; a key
// stays valid for verification two update intervals plus a token lifetime
// after it was made, as HDFS's.
type Master struct {
	*Set
	interval, lifetime time.Duration
	nextID             int32
	made               time.Time
}

// NewMaster returns a master with its first key; key IDs start at a random
// number, so that keys of a restarted master never collide with old ones.
func NewMaster(interval, lifetime time.Duration) *Master {
	var b [4]byte
	_, _ = rand.Read(b[:])
	m := &Master{Set: NewSet(), interval: interval, lifetime: lifetime, nextID: int32(binary.BigEndian.Uint32(b[:]) & 0x3fffffff)}
	m.roll() // the first current key
	m.roll() // and the next one
	return m
}

// RollIfDue adds a new current key once the update interval has passed
// since the last one and drops expired keys; it reports whether it did.
func (m *Master) RollIfDue() bool {
	if m.now().Sub(m.made) < m.interval {
		return false
	}
	m.roll()
	return true
}

// roll makes the next key current, adds a new next key and forgets expired
// ones.
func (m *Master) roll() {
	now := m.now()
	secret := make([]byte, 64)
	_, _ = rand.Read(secret)
	m.nextID++
	next := Key{ID: m.nextID, Expiry: now.Add(3*m.interval + m.lifetime).UnixMilli(), Secret: secret}
	m.mu.Lock()
	keys := slices.DeleteFunc(slices.Clone(m.keys.Keys), func(k Key) bool { return k.Expiry < now.UnixMilli() })
	current := next.ID // the very first key
	if len(keys) > 0 {
		current = keys[len(keys)-1].ID // the previous next key
	}
	m.keys = Keys{
		Generation: int64(next.ID), UpdateInterval: m.interval.Milliseconds(), TokenLifetime: m.lifetime.Milliseconds(),
		Current: current, Keys: append(keys, next),
	}
	m.mu.Unlock()
	m.made = now
}

// String describes the keys for logs.
func (k Keys) String() string {
	return fmt.Sprintf("generation %d, current key %d of %d", k.Generation, k.Current, len(k.Keys))
}

// Resume makes the master go on from keys another master made (the
// previous active metadata service's, read back from the database): the
// datanodes already hold them, so tokens signed now verify at once. The
// next roll is an update interval from now. Keys that have all expired are
// not resumed (it reports false).
func (m *Master) Resume(k Keys) bool {
	now := m.now()
	live := slices.DeleteFunc(slices.Clone(k.Keys), func(x Key) bool { return x.Expiry < now.UnixMilli() })
	if len(live) == 0 || !slices.ContainsFunc(live, func(x Key) bool { return x.ID == k.Current }) {
		return false
	}
	k.Keys = live
	m.Update(k)
	m.nextID = live[len(live)-1].ID
	m.made = now
	return true
}
