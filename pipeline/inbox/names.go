package inbox

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxName is the longest file name, in bytes, that file systems take
// (NAME_MAX on Linux, macOS and Windows).
const maxName = 255

// maxExt is the longest extension a name keeps as its extension: a longer
// one is part of the stem (and the rejected rows take the format's).
const maxExt = 16

// maxBase is the longest name a file is filed under, before a -N: room is
// left for the -N (up to -99999), the longest companion suffix
// (.rejects plus an extension of maxExt, or .rejected-rows.jsonl) and the
// dot and random part of the temporary name companions are written under.
const maxBase = maxName - len("-99999") - len(".rejects") - maxExt - len("..4294967295.tmp")

// splitExt splits name into its stem and its extension (see maxExt).
func splitExt(name string) (stem, ext string) {
	ext = filepath.Ext(name)
	if ext == name || len(ext) > maxExt {
		return name, ""
	}
	return strings.TrimSuffix(name, ext), ext
}

// shortName returns name when it fits maxBase, else its stem cut (at a
// character boundary) and followed by ~ and a hash of the whole name, then
// its extension: distinct names stay distinct, and the same name is always
// shortened the same way.
func shortName(name string) string {
	if len(name) <= maxBase {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	tag := "~" + hex.EncodeToString(sum[:6])
	stem, ext := splitExt(name)
	n := maxBase - len(tag) - len(ext)
	for n > 0 && !utf8.RuneStart(stem[n]) {
		n--
	}
	return stem[:n] + tag + ext
}

// reserve picks the name under which a file called name (shortened, see
// shortName) goes into dir: that name when neither it nor its companion
// files (name+suffix) exist, else name with -2, -3, ... before the
// extension. Nothing is ever overwritten, with one exception: a name
// whose report (the first suffix) is of the content sum and names it as
// filed, while the file itself is not there, is the name an earlier run
// chose before it was stopped at the rename; it is picked again, and
// stale says so (its companions are those of the earlier run).
func reserve(dir, name string, suffixes []string, sum string) (dest string, stale bool, err error) {
	name = shortName(name)
	stem, ext := splitExt(name)
	for i := 1; i < 100000; i++ {
		cand := name
		if i > 1 {
			cand = stem + "-" + strconv.Itoa(i) + ext
		}
		if free(dir, cand, suffixes) {
			return cand, false, nil
		}
		if sum != "" && interrupted(dir, cand, suffixes[0], sum) {
			return cand, true, nil
		}
	}
	return "", false, fmt.Errorf("%s: no free name for %s", dir, name)
}

// free reports whether neither name nor its companions exist in dir. An
// error other than "does not exist" (dir is not a folder, say) is not
// free, and ends with reserve's error.
func free(dir, name string, suffixes []string) bool {
	for _, s := range append([]string{""}, suffixes...) {
		if _, err := os.Lstat(filepath.Join(dir, name+s)); !errors.Is(err, fs.ErrNotExist) {
			return false
		}
	}
	return true
}

// interrupted reports whether dir holds the report (name+suffix) of a
// filing of the content sum under name that stopped before the file was
// moved there.
func interrupted(dir, name, suffix, sum string) bool {
	if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, name+suffix))
	if err != nil {
		return false
	}
	var rep Report
	return json.Unmarshal(b, &rep) == nil && rep.SHA256 == sum && rep.MovedTo == name
}

// removeStale removes the companions an interrupted filing left under
// name in dir, so that this filing's take their place.
func removeStale(dir, name string, suffixes []string) error {
	for _, s := range suffixes {
		if err := os.Remove(filepath.Join(dir, name+s)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
