package pan

// derivedLabel prefixes the labels of DeriveKey, keeping its keys in a domain of their
// own, apart from the per-account fingerprint keys and the key check.
const derivedLabel = "cardseg/derived/"

// DeriveKey returns a 32-byte key for another purpose than fingerprints, derived from the
// master key: HMAC-SHA256(master, "cardseg/derived/" + label). Each purpose passes its
// own label, so a key derived for one purpose says nothing about another's, nor about
// the fingerprints. It is the derivation of earlier releases: new keys come from package
// keys (HKDF); this one is kept only to read what was stored under it.
func (f *Fingerprinter) DeriveKey(label string) []byte {
	if f.master == nil {
		panic("pan: Fingerprinter not created by NewFingerprinter")
	}
	return mac(f.master, derivedLabel+label)
}
