package issuer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"
)

// secretCacheSize bounds the remembered secrets: one per client.
const secretCacheSize = 10_000

// secretCacheTTL is how long a verified secret is trusted without bcrypt. Revocation and
// a changed secret end it at once (on every replica: the client is read from the store
// on each token request, and its hash is part of the key).
const secretCacheTTL = 10 * time.Minute

// secretCache remembers, per client, a keyed hash of the last secret that verified
// against the client's stored bcrypt hash. The HMAC key is random and lives only in this
// process, so the cache is worthless to anyone reading memory dumps offline without it
// and nothing of it is ever stored; the stored hash is inside the MAC, so a new secret
// (a new hash) never matches an entry made for the old one.
type secretCache struct {
	key []byte
	ttl time.Duration
	max int
	now func() time.Time

	mu sync.Mutex
	m  map[string]secretEntry
}

type secretEntry struct {
	mac [sha256.Size]byte
	at  time.Time
}

func newSecretCache(size int, ttl time.Duration) *secretCache {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &secretCache{key: key, ttl: ttl, max: size, now: time.Now, m: map[string]secretEntry{}}
}

func (sc *secretCache) mac(clientID, hash, secret string) [sha256.Size]byte {
	h := hmac.New(sha256.New, sc.key)
	// NUL cannot occur in a client id or a bcrypt hash, so the parts cannot run together.
	h.Write([]byte(clientID))
	h.Write([]byte{0})
	h.Write([]byte(hash))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}

// verified reports whether secret is the one remembered for the client with this hash.
func (sc *secretCache) verified(clientID, hash, secret string) bool {
	mac := sc.mac(clientID, hash, secret)
	sc.mu.Lock()
	e, ok := sc.m[clientID]
	sc.mu.Unlock()
	return ok && sc.now().Sub(e.at) < sc.ttl && hmac.Equal(e.mac[:], mac[:])
}

// remember records that secret verified against hash.
func (sc *secretCache) remember(clientID, hash, secret string) {
	mac := sc.mac(clientID, hash, secret)
	now := sc.now()
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if _, ok := sc.m[clientID]; !ok && len(sc.m) >= sc.max {
		for id, e := range sc.m {
			if now.Sub(e.at) >= sc.ttl {
				delete(sc.m, id)
			}
		}
		// Still full of live entries: forget a quarter (in random map order); those
		// clients pay bcrypt once more.
		for id := range sc.m {
			if len(sc.m) < sc.max*3/4 {
				break
			}
			delete(sc.m, id)
		}
	}
	sc.m[clientID] = secretEntry{mac: mac, at: now}
}

func (sc *secretCache) forget(clientID string) {
	sc.mu.Lock()
	delete(sc.m, clientID)
	sc.mu.Unlock()
}

func (sc *secretCache) forgetAll() {
	sc.mu.Lock()
	clear(sc.m)
	sc.mu.Unlock()
}
