package namespace

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/granary-fs/granary/internal/errs"
	"github.com/granary-fs/granary/internal/hadooptoken"
)

// The delegation-token secret manager's state, HDFS's
// DelegationTokenSecretManager as FSNamesystem persists it: master keys and
// live tokens are part of the namespace, logged as OP_UPDATE_MASTER_KEY,
// OP_GET_DELEGATION_TOKEN, OP_RENEW_DELEGATION_TOKEN and
// OP_CANCEL_DELEGATION_TOKEN and saved in the image's secret section, so
// they survive restarts and reach a standby through the edit log. Policy
// (lifetimes, who may renew) is the service's; this keeps the records.

// DelegationKey is a master key (HDFS's DelegationKey).
type DelegationKey struct {
	ID     int32
	Expiry int64 // milliseconds since the epoch
	Key    []byte
}

// DelegationToken is a live token: its identifier (the Writable bytes of
// hadooptoken.Delegation), when it lapses unless renewed, and the owner's
// groups when it was issued.
type DelegationToken struct {
	Ident   []byte
	Renewal int64 // milliseconds since the epoch
	Groups  []string
}

type secrets struct {
	keys   map[int32]DelegationKey
	tokens map[string]DelegationToken // by identifier
	keyID  int32                      // the newest master key's ID
	seq    int32                      // the last sequence number issued
}

func (s *secrets) init() {
	if s.keys == nil {
		s.keys, s.tokens = map[int32]DelegationKey{}, map[string]DelegationToken{}
	}
}

// UpdateMasterKey adds a master key (OP_UPDATE_MASTER_KEY).
type UpdateMasterKey struct{ Key DelegationKey }

// GetDelegationToken records an issued token (OP_GET_DELEGATION_TOKEN).
type GetDelegationToken struct{ Token DelegationToken }

// RenewDelegationToken moves a token's renewal date (OP_RENEW_DELEGATION_TOKEN).
type RenewDelegationToken struct {
	Ident   []byte
	Renewal int64
}

// CancelDelegationToken forgets a token (OP_CANCEL_DELEGATION_TOKEN).
type CancelDelegationToken struct{ Ident []byte }

func (*UpdateMasterKey) Code() OpCode       { return OpUpdateMasterKey }
func (*GetDelegationToken) Code() OpCode    { return OpGetDelegationToken }
func (*RenewDelegationToken) Code() OpCode  { return OpRenewDelegationToken }
func (*CancelDelegationToken) Code() OpCode { return OpCancelDelegationToken }

func (o *UpdateMasterKey) encode(e *encoder) { e.delegationKey(o.Key) }
func (o *UpdateMasterKey) decode(d *decoder) { o.Key = d.delegationKey() }
func (o *GetDelegationToken) encode(e *encoder) {
	e.delegationToken(o.Token)
}
func (o *GetDelegationToken) decode(d *decoder) { o.Token = d.delegationToken() }
func (o *RenewDelegationToken) encode(e *encoder) {
	e.str(string(o.Ident))
	e.int(o.Renewal)
}
func (o *RenewDelegationToken) decode(d *decoder) {
	o.Ident, o.Renewal = []byte(d.str()), d.int()
}
func (o *CancelDelegationToken) encode(e *encoder) { e.str(string(o.Ident)) }
func (o *CancelDelegationToken) decode(d *decoder) { o.Ident = []byte(d.str()) }

func (e *encoder) delegationKey(k DelegationKey) {
	e.int(int64(k.ID))
	e.int(k.Expiry)
	e.str(string(k.Key))
}

func (d *decoder) delegationKey() DelegationKey {
	return DelegationKey{ID: d.i32(), Expiry: d.int(), Key: []byte(d.str())}
}

// i32 reads a varint that must fit an int32 (key IDs, sequence numbers):
// a record has one encoding.
func (d *decoder) i32() int32 {
	v := d.int()
	if v < -1<<31 || v >= 1<<31 {
		d.fail("int32")
		return 0
	}
	return int32(v)
}

func (e *encoder) delegationToken(t DelegationToken) {
	e.str(string(t.Ident))
	e.int(t.Renewal)
	e.uint(uint64(len(t.Groups)))
	for _, g := range t.Groups {
		e.str(g)
	}
}

func (d *decoder) delegationToken() DelegationToken {
	t := DelegationToken{Ident: []byte(d.str()), Renewal: d.int()}
	n := d.uint()
	if n > uint64(len(d.buf)) {
		d.fail("groups")
		return t
	}
	for range n {
		t.Groups = append(t.Groups, d.str())
	}
	return t
}

// applySecret applies the four secret-manager ops.
func (ns *Namespace) applySecret(op Op) error {
	s := &ns.secrets
	s.init()
	switch o := op.(type) {
	case *UpdateMasterKey:
		s.keys[o.Key.ID] = o.Key
		s.keyID = max(s.keyID, o.Key.ID)
	case *GetDelegationToken:
		id, err := hadooptoken.UnmarshalDelegation(o.Token.Ident)
		if err != nil {
			return err
		}
		s.tokens[string(o.Token.Ident)] = o.Token
		s.seq = max(s.seq, id.SequenceNumber)
	case *RenewDelegationToken:
		if t, ok := s.tokens[string(o.Ident)]; ok {
			t.Renewal = o.Renewal
			s.tokens[string(o.Ident)] = t
		}
	case *CancelDelegationToken:
		delete(s.tokens, string(o.Ident))
	}
	return nil
}

// CurrentDelegationKey returns the newest master key, if any.
func (ns *Namespace) CurrentDelegationKey() (DelegationKey, bool) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	k, ok := ns.secrets.keys[ns.secrets.keyID]
	return k, ok
}

// AddDelegationKey logs a new master key; its ID follows the newest one's.
func (ns *Namespace) AddDelegationKey(ctx context.Context, expiry int64, key []byte) (DelegationKey, error) {
	var k DelegationKey
	err := ns.mutate(ctx, "Cannot update the delegation token master key", func(t *tx) error {
		k = DelegationKey{ID: ns.secrets.keyID + 1, Expiry: expiry, Key: bytes.Clone(key)}
		return t.log(&UpdateMasterKey{Key: k})
	})
	return k, err
}

// IssueDelegationToken logs a new token: mint gets the next sequence number
// and the current master key and returns the identifier and its first
// renewal date.
func (ns *Namespace) IssueDelegationToken(ctx context.Context, groups []string, mint func(seq int32, key DelegationKey) ([]byte, int64, error)) error {
	return ns.mutate(ctx, "Cannot issue delegation token", func(t *tx) error {
		key, ok := ns.secrets.keys[ns.secrets.keyID]
		if !ok {
			return errs.E(errs.IO, "Delegation token secret manager has no master key yet")
		}
		ident, renewal, err := mint(ns.secrets.seq+1, key)
		if err != nil {
			return err
		}
		return t.log(&GetDelegationToken{Token: DelegationToken{Ident: ident, Renewal: renewal, Groups: slices.Clone(groups)}})
	})
}

// LookupDelegationToken returns a live token's record and the master key
// it was signed with.
func (ns *Namespace) LookupDelegationToken(ident []byte, keyID int32) (DelegationToken, DelegationKey, bool) {
	ns.mu.RLock()
	defer ns.mu.RUnlock()
	t, ok := ns.secrets.tokens[string(ident)]
	if !ok {
		return DelegationToken{}, DelegationKey{}, false
	}
	k, ok := ns.secrets.keys[keyID]
	return t, k, ok
}

// RenewDelegationToken logs a token's new renewal date, which decide
// computes from the live record (or refuses).
func (ns *Namespace) RenewDelegationToken(ctx context.Context, ident []byte, decide func(DelegationToken, bool) (int64, error)) (int64, error) {
	var renewal int64
	err := ns.mutate(ctx, "Cannot renew delegation token", func(t *tx) error {
		rec, ok := ns.secrets.tokens[string(ident)]
		var err error
		if renewal, err = decide(rec, ok); err != nil {
			return err
		}
		return t.log(&RenewDelegationToken{Ident: ident, Renewal: renewal})
	})
	return renewal, err
}

// CancelDelegationToken logs a token's cancellation once check allows it.
func (ns *Namespace) CancelDelegationToken(ctx context.Context, ident []byte, check func(DelegationToken, bool) error) error {
	return ns.mutate(ctx, "Cannot cancel delegation token", func(t *tx) error {
		rec, ok := ns.secrets.tokens[string(ident)]
		if err := check(rec, ok); err != nil {
			return err
		}
		return t.log(&CancelDelegationToken{Ident: ident})
	})
}

// PurgeSecrets forgets tokens and keys that expired before now (HDFS's
// ExpiredTokenRemover); nothing is logged, as in HDFS: an expired record
// replayed from the log is purged again. The newest key always stays.
func (ns *Namespace) PurgeSecrets(now int64) (tokens, keys int) {
	ns.mu.Lock()
	defer ns.mu.Unlock()
	s := &ns.secrets
	for id, t := range s.tokens {
		if t.Renewal < now {
			delete(s.tokens, id)
			tokens++
		}
	}
	for id, k := range s.keys {
		if k.Expiry < now && id != s.keyID {
			delete(s.keys, id)
			keys++
		}
	}
	return tokens, keys
}

// writeSecrets appends the image's secret section: the counters, the keys
// and the tokens, in ID order so that an image's bytes depend only on the
// state.
func (ns *Namespace) writeSecrets(e *encoder) {
	s := &ns.secrets
	e.int(int64(s.keyID))
	e.int(int64(s.seq))
	ids := slices.Sorted(maps.Keys(s.keys))
	e.uint(uint64(len(ids)))
	for _, id := range ids {
		e.delegationKey(s.keys[id])
	}
	idents := slices.Sorted(maps.Keys(s.tokens))
	e.uint(uint64(len(idents)))
	for _, id := range idents {
		e.delegationToken(s.tokens[id])
	}
}

func (ns *Namespace) readSecrets(d *decoder) {
	s := &ns.secrets
	s.init()
	s.keyID, s.seq = d.i32(), d.i32()
	n := d.uint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		k := d.delegationKey()
		s.keys[k.ID] = k
	}
	n = d.uint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		t := d.delegationToken()
		s.tokens[string(t.Ident)] = t
	}
}
