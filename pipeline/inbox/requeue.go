package inbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Errors of Requeue, for errors.Is.
var (
	// ErrNotFailed: the name is not a file in failed/.
	ErrNotFailed = errors.New("no such file in failed/")
	// ErrTaken: a file of the same name is in the inbox already.
	ErrTaken = errors.New("a file of that name is in the inbox already")
)

// A Requeued is a file Requeue moved from failed/ back into the inbox.
type Requeued struct {
	// Name is its name, in failed/ and now in the inbox.
	Name string
	// Reason is why it failed, from its report (empty without one);
	// Reasons are, for a file given up, every reason it was not
	// delivered.
	Reason  string
	Reasons []string
	// Status is its report's status (failed, refused); empty without a
	// report.
	Status string
}

// Requeue moves files from the failed/ folder of the inbox o describes
// back into the inbox, where a watch picks each up as a new drop: the
// named ones (names in failed/), or every file there when names is
// empty. Each file's report is removed once the file is back. Nothing in
// the inbox is ever replaced: a name taken there is an error (ErrTaken)
// and the file stays in failed/. Names are checked before anything moves:
// one that is not a file in failed/ (a report, say) is ErrNotFailed, and
// nothing is moved. Files that are not regular files (a refused symlink)
// are left out of "every file", and an error when named.
//
// Requeue is safe while a watch runs: a file moves by one rename that
// never replaces, and the ledger does not take a failed file for a
// duplicate (its content was not recorded as imported), so it is imported
// again, skipping only the rows acknowledged before it failed.
func Requeue(o Options, names []string) ([]Requeued, error) {
	dir, _, _, failed, err := o.dirs()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if names, err = failedFiles(failed); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		if err := checkFailed(failed, name); err != nil {
			return nil, err
		}
	}
	var out []Requeued
	var errs []error
	for _, name := range names {
		r, err := requeue(dir, failed, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

// failedFiles lists the regular files in failed/, by name.
func failedFiles(failed string) ([]string, error) {
	entries, err := readFolder(failed)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, d := range entries {
		if name := d.Name(); d.Type().IsRegular() && !ignored(name) && !ownFile(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// checkFailed checks that name is a regular file of failed/.
func checkFailed(failed, name string) error {
	if name == "" || name != filepath.Base(name) || ignored(name) || ownFile(name) {
		return fmt.Errorf("%q in %s: %w (give the name of a failed file, as listed there)", name, failed, ErrNotFailed)
	}
	fi, err := os.Lstat(filepath.Join(failed, name))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s in %s: %w", name, failed, ErrNotFailed)
	}
	if err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s in %s is not a regular file (%s): it would be refused again", name, failed, fi.Mode().Type())
	}
	return nil
}

// requeue moves failed/name into the inbox dir, then removes its report.
func requeue(dir, failed, name string) (Requeued, error) {
	r := Requeued{Name: name}
	report := filepath.Join(failed, name+reportSuffix)
	if b, err := os.ReadFile(report); err == nil {
		var rep Report
		if json.Unmarshal(b, &rep) == nil {
			r.Reason, r.Reasons, r.Status = rep.Err, rep.Reasons, rep.Status
		}
	}
	if err := renameNoReplace(filepath.Join(failed, name), filepath.Join(dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return r, fmt.Errorf("%s: %w (%s): it stays in failed/; move or rename one of them", name, ErrTaken, filepath.Join(dir, name))
		}
		return r, fmt.Errorf("moving %s back into the inbox: %w", name, err)
	}
	if err := os.Remove(report); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("%s is back in the inbox, but its report %s could not be removed: %w", name, report, err)
	}
	return r, nil
}
