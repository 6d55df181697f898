package issuer

import "sync/atomic"

// CountBcrypt makes is count its bcrypt comparisons of client secrets (the token
// endpoint's, including the dummy one for unknown clients) and returns the counter.
func CountBcrypt(is *Issuer) *atomic.Int64 {
	var n atomic.Int64
	inner := is.compare
	is.compare = func(hash, secret []byte) error {
		n.Add(1)
		return inner(hash, secret)
	}
	return &n
}
