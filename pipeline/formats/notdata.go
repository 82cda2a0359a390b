package formats

import (
	"path/filepath"
	"strings"
)

// notData are the names of files that are not indicator data, by glob,
// in lower case: documentation, licences, configuration and code that
// sit beside the feeds in a folder or land in an inbox with them.
var notData = [...]string{"readme*", "license*", "licence*", "copying*", "changelog*",
	"*.md", "*.rst", "*.yaml", "*.yml", "*.toml", "*.py", "*.go", "*.sh"}

// NotData returns the globs IsNotData matches, for messages and help.
func NotData() []string { return append([]string(nil), notData[:]...) }

// IsNotData reports whether a file name (not a path) is one of NotData,
// whatever its case: a folder run leaves such a file out, an inbox files
// it away unread.
func IsNotData(name string) bool {
	name = strings.ToLower(name)
	for _, g := range notData {
		if ok, _ := filepath.Match(g, name); ok {
			return true
		}
	}
	return false
}
