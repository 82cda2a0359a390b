// Package stixpattern turns the pattern of a STIX indicator into the plain
// indicators it expresses, or refuses with a reason.
//
// iocpipe imports indicators from STIX 2.0 and 2.1 bundles into APIs that only
// take plain indicators: an IP address or CIDR block, a domain name, a URL, an
// email address or a file hash. A STIX indicator object carries its detection
// logic in the pattern property, written in the STIX Patterning language
// (STIX 2.1 section 9; STIX 2.0 Part 5). Most patterns in the wild are simple,
// such as
//
//	[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'example.com']
//
// but the language can say much more than a list of indicators can: that two
// things must be observed together (AND), in order (FOLLOWEDBY), within a time
// window, or that a value matches a regular expression. Importing such a
// pattern as a list of indicators would change its meaning, so Parse never
// guesses: it returns the indicators only when the list means exactly what the
// pattern means, and a *NotExpressibleError naming the first offending
// construct otherwise.
//
// # Parsing
//
// Parse first parses the whole pattern into a syntax tree with a lexer and a
// recursive-descent parser for the full grammar of STIX 2.1 (which includes
// STIX 2.0): observation expressions in brackets; comparison expressions
// joined by AND and OR, with parentheses, inside brackets; observation
// expressions joined by AND, OR and FOLLOWEDBY, with parentheses; the
// qualifiers WITHIN n SECONDS, REPEATS n TIMES and START t'...' STOP t'...'
// (STIX 2.0 plain strings are accepted for START and STOP); the operators
// =, ==, !=, <>, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET and ISSUPERSET,
// optionally preceded by NOT, and EXISTS; string constants with the escapes
// \' and \\ (no other escape is valid), integers, floats, true, false,
// t'timestamp', h'hex', b'base64' and sets ('a', 'b'); object paths
// type:property(.property|[index]|[*])* where object types may contain
// hyphens and a property name that is not an identifier
// ([A-Za-z_][A-Za-z0-9_]*, not a keyword) is quoted, as in
// file:hashes.'SHA-256'. White space (any
// Unicode white space) and /* */ and // comments may separate tokens.
// Keywords are case-sensitive, as in the grammar published by OASIS: "or" is
// not OR.
//
// Precedence is, from highest to lowest: parentheses, AND, OR, FOLLOWEDBY;
// qualifiers bind to the observation expression or parenthesised group just
// before them.
//
// A pattern that does not follow the grammar, holds an invalid constant (an
// odd-length hex string, bad base64, a malformed timestamp), repeats a
// qualifier on the same observation expression, uses a non-positive count in
// WITHIN or REPEATS, or nests brackets and parentheses more than 100 levels
// deep is rejected with a *SyntaxError giving the byte offset of the problem.
// Parsing takes time linear in the length of the pattern; limiting that
// length is the caller's business.
//
// # Expressibility
//
// A valid pattern is expressible as plain indicators if and only if it is a
// tree of OR operators, at the observation level, the comparison level or
// both, parentheses allowed, whose leaves are comparisons
//
//	<path> = '<string>'                   (or ==)
//	<path> IN ('<string>', '<string>', ...)  (equivalent to an OR of =)
//
// where every constant is a non-empty string constant (not a number, boolean,
// timestamp, hex or binary constant) and <path> is one of
//
//	ipv4-addr:value    -> IPv4
//	ipv6-addr:value    -> IPv6
//	domain-name:value  -> Domain
//	url:value          -> URL
//	email-addr:value   -> Email
//	file:hashes.<key>  -> MD5, SHA1, SHA256 or SHA512
//
// with <key> one of MD5, SHA-1, SHA1, SHA-256, SHA256, SHA-512 or SHA512,
// compared case-insensitively (ASCII only) and quoted or not (a key with a
// hyphen must be quoted: file:hashes.'SHA-1'). Object types and property
// names are otherwise case-sensitive, as in STIX; a quoted property name
// denotes the same property as the unquoted one (ipv4-addr:'value').
//
// A leaf may also be an AND of comparisons (=, ==) on one object that
// says plain indicators, in one of three forms:
//
//	X:<ref>.type = '<t>' AND X:<ref>.value = '<v>'
//	    the object <ref> of X (network-traffic:src_ref, as MISP's converter
//	    writes ip-src and ip-dst), where <t> is one of the object types
//	    above: one Observable of that kind, with the path <t>:value;
//	    comparisons on plain properties of X itself with a string or an
//	    integer (network-traffic:dst_port = '443', as MISP writes
//	    ip-dst|port) are its Notes ("dst_port 443");
//	domain-name:value = '<d>' AND domain-name:resolves_to_refs[*].value = '<a>'
//	    a domain and what it resolves to (as MISP's converter writes
//	    domain|ip): two Observables, the domain and the address (IPv4 or
//	    IPv6, address or block, else a domain name, as its value says);
//	file:hashes.<key> = '<h>' AND file:<property> = '<s>' AND ...
//	    one file's hashes (each algorithm once) and plain properties
//	    compared with a string or an integer (name, size, mime_type): one
//	    Observable per hash, whose Notes hold the other comparisons
//	    ("name a.exe; size 1024").
//
// An AND across objects (ipv4-addr:value = ... AND network-traffic:
// dst_port = ...), of two values of one object, without a hash, or
// holding an OR, NOT or another operator uses AND.
//
// Each leaf yields one Observable per string, in order of appearance;
// duplicates are kept. Values are returned unescaped but otherwise exactly as
// given: '198.51.100.0/24' is returned as is, and deciding that it is a CIDR
// block, or that a value is not a valid address at all, is the caller's
// business.
//
// Anything else is a *NotExpressibleError. The tree is checked top-down and
// left to right, and the reason names the first offending construct found:
//
//	uses AND                      AND at either level (but the composites above)
//	uses FOLLOWEDBY
//	uses qualifier WITHIN         also REPEATS and START/STOP
//	uses NOT
//	uses operator MATCHES         also LIKE and EXISTS
//	compares file:name (not an indicator path)
//	compares ipv4-addr:value with ISSUBSET   any operator but = and IN
//	uses a non-string constant 5
//	compares url:value with an empty string
//	compares url:value with an empty set
//
// Within one comparison the checks run in that order: NOT, then a
// pattern-matching operator, then the path, then the operator, then the
// constants.
package stixpattern
