//go:build !linux

package inbox

// renameNoReplace renames oldpath to newpath, failing with an error
// satisfying errors.Is(err, fs.ErrExist) when newpath exists.
func renameNoReplace(oldpath, newpath string) error {
	return linkRename(oldpath, newpath)
}
