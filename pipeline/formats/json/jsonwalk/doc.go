// Package jsonwalk is what the JSON formats share: a JSON document read
// in streamed passes, never held whole. It registers no format.
//
// The first pass (Scan, scan.go and scanfeeds.go) checks the whole
// syntax and learns a Doc: the document's Shape (an array, a submission,
// a single object or wrapper, JSON Lines), the Kind of its records
// (plain items, STIX, MISP, OTX), where the items stand, and the
// contexts (pulses, events) their indicators inherit (Feed, feed.go). A
// Walker (walk.go) then walks the document token by token, descending
// only where its reader asks, with line numbers from a lineTracker
// (lines.go). A Mapper (mapper.go, aliases.go) maps JSON objects onto
// the canonical fields: the route's json_fields, then the key aliases.
//
// A document whose Kind is not Items is handed (Hand, format.go) to the
// DocumentReader of the format registered under the Kind's name
// (NewFormat, NewContentFormat): the json format reads the file's
// beginning, and the stix, misp or otx format the rest.
//
// Where things go: a new shape of plain JSON items (a wrapper key), or a
// new kind of document told from its content: scan.go and scanfeeds.go,
// with a new Kind whose format package registers NewFormat with its
// DocumentReader; how
// any JSON object's keys map onto fields: mapper.go and aliases.go (a
// new alias of a field: pipeline/formats/fields.go); what pulses and
// events pass on to their indicators: feed.go.
package jsonwalk
