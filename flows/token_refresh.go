package flows

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// A refresh token names its session and generation and is MACed with a
// key derived from the master secret:
//
//	rt.<base64url(session id (32) | generation (8, big endian) | HMAC-SHA256 (32))>
//
// The store keeps no token at all, only the session's current generation
// (store.Session.RefreshGen): a dump of it yields nothing to present, and
// a token is checked without a lookup of its own. A refresh advances the
// generation atomically (SessionStore.AdvanceRefresh), so the token just
// used, and every older one, is then a reuse: the MAC proves we issued it,
// the generation proves it was spent, and the whole session ends.
const refreshPrefix = "rt."

const refreshRawLen = 32 + 8 + sha256.Size

// refreshMAC is the MAC of (id, gen) under key.
func refreshMAC(key, id []byte, gen uint64) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("caddyauth refresh v1\x00"))
	m.Write(id)
	var g [8]byte
	binary.BigEndian.PutUint64(g[:], gen)
	m.Write(g[:])
	return m.Sum(nil)
}

// issueRefresh returns the refresh token of generation gen of the session
// sid (a store id: 64 hex digits).
func (t *tokenKeys) issueRefresh(sid string, gen uint64) string {
	id, err := hex.DecodeString(sid)
	if err != nil || len(id) != 32 {
		panic("flows: refresh token for a malformed session id")
	}
	raw := make([]byte, 0, refreshRawLen)
	raw = append(raw, id...)
	raw = binary.BigEndian.AppendUint64(raw, gen)
	raw = append(raw, refreshMAC(t.refresh[0], id, gen)...)
	return refreshPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// parseRefresh returns the session id and generation of a refresh token we
// issued (under the current or the previous secret); ok is false for
// anything else.
func (t *tokenKeys) parseRefresh(tok string) (sid string, gen uint64, ok bool) {
	body, found := strings.CutPrefix(tok, refreshPrefix)
	if !found || base64.RawURLEncoding.DecodedLen(len(body)) != refreshRawLen {
		return "", 0, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) != refreshRawLen {
		return "", 0, false
	}
	id, mac := raw[:32], raw[40:]
	gen = binary.BigEndian.Uint64(raw[32:40])
	for _, k := range t.refresh {
		if hmac.Equal(mac, refreshMAC(k, id, gen)) {
			return hex.EncodeToString(id), gen, true
		}
	}
	return "", 0, false
}
