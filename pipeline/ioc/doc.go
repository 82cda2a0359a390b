// Package ioc is the record model every part of iocpipe shares: indicators
// and their types, tags and precedence levels, where a record came from
// (Origin), the batches a sink receives and the Result it returns, reject
// report entries and the row-range set the ledger stores.
//
// It is a leaf: it imports nothing of the project, so formats, the engine
// and every sink can depend on it without depending on each other. Its
// types are plain values; behaviour that needs configuration (normalizing
// a value, resolving an enclave) lives in the packages that own it.
package ioc
