// Command iocpipe bulk-imports threat-intelligence indicators: it reads
// CSV, JSON, JSONL, STIX 2.x, MISP and AlienVault OTX files (formats csv,
// json, jsonl, stix, misp, otx, detected by content; a route may force
// csv, json, jsonl or stix), validates, normalizes and batches them, and delivers them to the
// TruSTAR indicator API (1.3) or the ThreatWinds Ingest API. Every row it
// cannot deliver is explained: file, line, field and reason.
//
// Commands:
//
//	run          import files and folders once
//	validate     run the pipeline up to the sink, sending nothing (--dump
//	             writes the bodies a sink would send)
//	inspect      show how a file will be read: format, mapping, first rows
//	watch        import every file dropped into the routes' inbox folders
//	status       show each route's inbox, files, last import, ledger and sink
//	requeue      move files from a route's failed/ back into its inbox
//	check        check the configuration and reach every sink
//	emulate      serve the TruSTAR, ThreatWinds and TAXII 2.1 emulators
//	taxii discover  list a TAXII 2.1 server's API roots and collections
//	definitions  print the ThreatWinds entity definitions
//	version      print the version
//
// Exit codes: 0 everything valid was delivered and nothing was rejected;
// 3 everything valid was delivered but some rows or files were rejected;
// 1 some valid row could not be delivered, or a fatal error; 2 a usage or
// configuration error.
//
// Where things go: the configuration (config.go) is plain structs with one
// validate that fills every default. A kind of sink is one package under
// sinks/ plus one row of sinkKinds (sinks.go), which holds its config
// section, delivery defaults, route check, client, dry-run encoder and
// whether it takes associations; no other code here chooses by a route's
// sink (definitions and emulate are about the APIs themselves). Formats
// are the pipeline's: a route's config only names one.
package main
