package pipeline

// headerNames maps column headers and JSON keys — lower-cased, with
// everything but letters and digits dropped, so "First Seen", "first_seen"
// and "firstSeen" are one key — to canonical fields. Earlier entries of
// headerRank win when a file has several columns for one field.
var headerNames = map[string]string{
	"value": FieldValue, "indicator": FieldValue, "ioc": FieldValue, "indicatorvalue": FieldValue,
	"iocvalue": FieldValue, "observable": FieldValue, "observablevalue": FieldValue, "data": FieldValue,
	"artifact": FieldValue, "entity": FieldValue, "attribute": FieldValue, "attributevalue": FieldValue,
	"entityvalue": FieldValue,

	"type": FieldType, "indicatortype": FieldType, "ioctype": FieldType, "kind": FieldType,
	"datatype": FieldType, "entitytype": FieldType, "observabletype": FieldType, "attributetype": FieldType,
	"valuetype": FieldType,

	"firstseen": FieldFirstSeen, "firstseenutc": FieldFirstSeen, "first": FieldFirstSeen,
	"firstdate": FieldFirstSeen, "dateadded": FieldFirstSeen, "dateaddedutc": FieldFirstSeen, "added": FieldFirstSeen,
	"created": FieldFirstSeen, "createdat": FieldFirstSeen, "firstobserved": FieldFirstSeen,
	"validfrom": FieldFirstSeen, "date": FieldFirstSeen, "timestamp": FieldFirstSeen,
	"datetime": FieldFirstSeen, "time": FieldFirstSeen, "reported": FieldFirstSeen,
	"firstseenat": FieldFirstSeen, "dateutc": FieldFirstSeen, "timestamputc": FieldFirstSeen,

	"lastseen": FieldLastSeen, "lastseenutc": FieldLastSeen, "last": FieldLastSeen,
	"lastdate": FieldLastSeen, "lastonline": FieldLastSeen, "lastobserved": FieldLastSeen,
	"modified": FieldLastSeen, "updated": FieldLastSeen, "validuntil": FieldLastSeen,
	"lastseenat": FieldLastSeen, "utc": FieldLastSeen,

	"sightings": FieldSightings, "sighting": FieldSightings, "count": FieldSightings,
	"hits": FieldSightings, "occurrences": FieldSightings, "observations": FieldSightings,

	"source": FieldSource, "reporter": FieldSource, "feed": FieldSource, "provider": FieldSource,
	"sourcename": FieldSource, "feedname": FieldSource, "providername": FieldSource,

	"notes": FieldNotes, "note": FieldNotes, "description": FieldNotes, "comment": FieldNotes,
	"comments": FieldNotes, "context": FieldNotes, "details": FieldNotes, "desc": FieldNotes,
	"title": FieldNotes,

	"tags": FieldTags, "tag": FieldTags, "labels": FieldTags, "label": FieldTags,

	"enclave": FieldEnclaves, "enclaves": FieldEnclaves, "enclaveid": FieldEnclaves, "enclaveids": FieldEnclaves,

	"reputation": FieldReputation,
}

// headerRank orders aliases of one field: a lower rank wins.
var headerRank = map[string]int{
	"firstseen": -3, "firstseenutc": -2, "dateadded": -1,
	"lastseen": -3, "lastseenutc": -2, "utc": 1,
	"value": -3, "indicator": -2, "ioc": -1,
	"notes": -3, "description": -2, "title": 1,
}
