package trustartest

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// checkSubmission checks body against the contract of POST
// /api/1.3/indicators and returns its number of rows. Refusals are 400s
// naming the field, or a 413 for too many rows. Unknown fields, and null
// optional fields, are ignored.
func (e *Emulator) checkSubmission(body []byte) (int, error) {
	doc, err := decodeObject(body)
	if err != nil {
		return 0, err
	}
	enclaves, err := e.checkEnclaveIDs(doc["enclaveIds"])
	if err != nil {
		return 0, err
	}
	if err := checkTags("tags", doc["tags"], enclaves); err != nil {
		return 0, err
	}
	return e.checkContent(doc["content"], enclaves)
}

// decodeObject decodes body, which must hold exactly one JSON object,
// keeping numbers as json.Number.
func decodeObject(body []byte) (map[string]any, error) {
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, badRequest("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, badRequest("malformed JSON request body: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("request body must hold a single JSON object, found more after it")
	}
	return doc, nil
}

// checkEnclaveIDs checks the enclaveIds field and returns the ids, lower
// cased.
func (e *Emulator) checkEnclaveIDs(v any) ([]string, error) {
	if v == nil {
		return nil, badRequest("enclaveIds is required")
	}
	list, ok := v.([]any)
	if !ok {
		return nil, badRequest("enclaveIds must be an array of enclave ids")
	}
	if len(list) == 0 {
		return nil, badRequest("enclaveIds must hold at least one enclave id")
	}
	ids := make([]string, len(list))
	for i, item := range list {
		id, ok := item.(string)
		if !ok {
			return nil, badRequest("enclaveIds[%d] must be a string", i)
		}
		if !isUUID(id) {
			return nil, badRequest("enclaveIds[%d] is %q, which is not an enclave id: enclave ids (UUIDs), not enclave names, are required", i, id)
		}
		ids[i] = strings.ToLower(id)
		if len(e.allowed) > 0 && !slices.Contains(e.allowed, ids[i]) {
			return nil, badRequest("enclaveIds[%d] is %q, which is not an enclave you may submit to", i, id)
		}
	}
	return ids, nil
}

// checkContent checks the content field and returns its number of rows.
func (e *Emulator) checkContent(v any, enclaves []string) (int, error) {
	if v == nil {
		return 0, badRequest("content is required")
	}
	rows, ok := v.([]any)
	if !ok {
		return 0, badRequest("content must be an array of indicator rows")
	}
	switch limit := e.opts.MaxIndicators; {
	case len(rows) == 0:
		return 0, badRequest("content must hold at least one indicator row")
	case len(rows) > limit:
		return 0, tooLarge("Payload too large: a submission may hold at most %d indicators, got %d", limit, len(rows))
	}
	for i, row := range rows {
		if err := checkRow("content["+strconv.Itoa(i)+"]", row, enclaves); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}

// checkRow checks one indicator row; path names it in errors.
func checkRow(path string, v any, enclaves []string) error {
	row, ok := v.(map[string]any)
	if !ok {
		return badRequest("%s must be an object", path)
	}
	switch value := row["value"].(type) {
	case nil:
		return badRequest("%s.value is required", path)
	case string:
		if strings.TrimSpace(value) == "" {
			return badRequest("%s.value must not be empty", path)
		}
	default:
		return badRequest("%s.value must be a string", path)
	}
	for _, name := range []string{"firstSeen", "lastSeen", "sightings"} {
		if err := checkCount(path, name, row[name]); err != nil {
			return err
		}
	}
	for _, name := range []string{"source", "notes"} {
		if _, ok := row[name].(string); !ok && row[name] != nil {
			return badRequest("%s.%s must be a string", path, name)
		}
	}
	if tags := row["tags"]; tags != nil {
		return checkTags(path+".tags", tags, enclaves)
	}
	return nil
}

// checkCount checks an optional field holding a non-negative integer, such
// as a timestamp in epoch milliseconds or a number of sightings.
func checkCount(path, name string, v any) error {
	if v == nil {
		return nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return badRequest("%s.%s must be a number", path, name)
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	switch {
	case err != nil:
		return badRequest("%s.%s must be an integer, got %s", path, name, n)
	case i < 0:
		return badRequest("%s.%s must not be negative, got %s", path, name, n)
	}
	return nil
}

// checkTags checks an optional array of tags {name, enclaveId}; each tag's
// enclave must be among the submission's enclaves.
func checkTags(path string, v any, enclaves []string) error {
	if v == nil {
		return nil
	}
	tags, ok := v.([]any)
	if !ok {
		return badRequest("%s must be an array of tags", path)
	}
	for i, t := range tags {
		tag, ok := t.(map[string]any)
		if !ok {
			return badRequest("%s[%d] must be an object with name and enclaveId", path, i)
		}
		if err := checkTagName(path, i, tag["name"]); err != nil {
			return err
		}
		if err := checkTagEnclave(path, i, tag["enclaveId"], enclaves); err != nil {
			return err
		}
	}
	return nil
}

// checkTagName checks the name of tag i of path: TruSTAR allows letters,
// digits, '-' and '_' (and lower-cases names on save).
func checkTagName(path string, i int, v any) error {
	name, ok := v.(string)
	switch {
	case v == nil:
		return badRequest("%s[%d].name is required", path, i)
	case !ok:
		return badRequest("%s[%d].name must be a string", path, i)
	case name == "":
		return badRequest("%s[%d].name must not be empty", path, i)
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '_' {
			return badRequest("%s[%d].name %q may hold only letters, digits, '-' and '_'", path, i, name)
		}
	}
	return nil
}

// checkTagEnclave checks the enclaveId of tag i of path.
func checkTagEnclave(path string, i int, v any, enclaves []string) error {
	id, ok := v.(string)
	switch {
	case v == nil:
		return badRequest("%s[%d].enclaveId is required", path, i)
	case !ok:
		return badRequest("%s[%d].enclaveId must be a string", path, i)
	case !isUUID(id):
		return badRequest("%s[%d].enclaveId is %q, which is not an enclave id: enclave ids (UUIDs), not enclave names, are required", path, i, id)
	case !slices.Contains(enclaves, strings.ToLower(id)):
		return badRequest("%s[%d].enclaveId %q is not among the submission's enclaveIds", path, i, id)
	}
	return nil
}
