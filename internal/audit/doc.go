// Package audit keeps each account's tamper-evident audit log: it records the changes
// every write hands to its Recorder (in that write's transaction), gives each event its
// canonical form, links the events into a per-account hash chain (the chainer, in every
// replica, serialised by the chain head's lock), and lists and verifies the chain.
//
// It depends on the vocabulary (internal/subaccounts) alone; no other domain package
// imports it: they write through subaccounts.Recorder. It must not import the store,
// httpapi or anything under cmd.
package audit
