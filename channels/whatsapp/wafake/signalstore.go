package wafake

import (
	"context"
	"sync"

	groupRecord "go.mau.fi/libsignal/groups/state/record"
	"go.mau.fi/libsignal/keys/identity"
	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/serialize"
	"go.mau.fi/libsignal/state/record"
)

var serializer = serialize.NewProtoBufSerializer()

// memStore is a fake contact's Signal state. It lives only in memory: a
// contact exists for the lifetime of its Server.
type memStore struct {
	mu         sync.Mutex
	identity   *identity.KeyPair
	regID      uint32
	preKeys    map[uint32]*record.PreKey
	signed     map[uint32]*record.SignedPreKey
	sessions   map[string]*record.Session
	identities map[string]*identity.Key
}

func newMemStore(id *identity.KeyPair, regID uint32) *memStore {
	return &memStore{
		identity: id, regID: regID,
		preKeys:    map[uint32]*record.PreKey{},
		signed:     map[uint32]*record.SignedPreKey{},
		sessions:   map[string]*record.Session{},
		identities: map[string]*identity.Key{},
	}
}

func (s *memStore) GetIdentityKeyPair() *identity.KeyPair { return s.identity }
func (s *memStore) GetLocalRegistrationID() uint32        { return s.regID }

func (s *memStore) SaveIdentity(_ context.Context, a *protocol.SignalAddress, k *identity.Key) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities[a.String()] = k
	return nil
}

// IsTrustedIdentity trusts on first use and afterwards; the fake has no UI
// to confirm a changed key, and a re-paired client legitimately has a new one.
func (s *memStore) IsTrustedIdentity(context.Context, *protocol.SignalAddress, *identity.Key) (bool, error) {
	return true, nil
}

func (s *memStore) LoadPreKey(_ context.Context, id uint32) (*record.PreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.preKeys[id], nil
}

func (s *memStore) StorePreKey(_ context.Context, id uint32, r *record.PreKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.preKeys[id] = r
	return nil
}

func (s *memStore) ContainsPreKey(_ context.Context, id uint32) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.preKeys[id]
	return ok, nil
}

func (s *memStore) RemovePreKey(_ context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.preKeys, id)
	return nil
}

func (s *memStore) LoadSession(_ context.Context, a *protocol.SignalAddress) (*record.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.sessions[a.String()]; ok {
		return r, nil
	}
	return record.NewSession(serializer.Session, serializer.State), nil
}

func (s *memStore) GetSubDeviceSessions(context.Context, string) ([]uint32, error) { return nil, nil }

func (s *memStore) StoreSession(_ context.Context, a *protocol.SignalAddress, r *record.Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[a.String()] = r
	return nil
}

func (s *memStore) ContainsSession(_ context.Context, a *protocol.SignalAddress) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.sessions[a.String()]
	return ok, nil
}

func (s *memStore) DeleteSession(_ context.Context, a *protocol.SignalAddress) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, a.String())
	return nil
}

func (s *memStore) DeleteAllSessions(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions = map[string]*record.Session{}
	return nil
}

func (s *memStore) LoadSignedPreKey(_ context.Context, id uint32) (*record.SignedPreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed[id], nil
}

func (s *memStore) LoadSignedPreKeys(context.Context) ([]*record.SignedPreKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*record.SignedPreKey, 0, len(s.signed))
	for _, r := range s.signed {
		out = append(out, r)
	}
	return out, nil
}

func (s *memStore) StoreSignedPreKey(_ context.Context, id uint32, r *record.SignedPreKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signed[id] = r
	return nil
}

func (s *memStore) ContainsSignedPreKey(_ context.Context, id uint32) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.signed[id]
	return ok, nil
}

func (s *memStore) RemoveSignedPreKey(_ context.Context, id uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.signed, id)
	return nil
}

// Sender keys (groups) are not faked: contacts only write 1:1.
func (s *memStore) StoreSenderKey(context.Context, *protocol.SenderKeyName, *groupRecord.SenderKey) error {
	return nil
}

func (s *memStore) LoadSenderKey(context.Context, *protocol.SenderKeyName) (*groupRecord.SenderKey, error) {
	return groupRecord.NewSenderKey(serializer.SenderKeyRecord, serializer.SenderKeyState), nil
}
