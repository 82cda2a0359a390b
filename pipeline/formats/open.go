package formats

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// An Opened is a file opened for reading: its source, the format Detect
// chose and that format's Reader over it. Close it when done.
type Opened struct {
	Source *Source
	Format Format
	Reader Reader
}

// Close ends the reader (when it is an io.Closer) and closes the file.
func (o *Opened) Close() error {
	if c, ok := o.Reader.(io.Closer); ok {
		c.Close()
	}
	if o.Source.file == nil {
		return nil
	}
	return o.Source.file.Close()
}

// Open opens the file at path (named name in reports; path when empty),
// refuses what is no UTF-8 text, detects its format under opts and opens
// that format's Reader. wrap, when set, wraps every read of the file (to
// count bytes for progress). A returned error is a *FileError, or the
// error of opening the file.
func Open(path, name string, opts Options, wrap func(io.Reader) io.Reader) (*Opened, error) {
	if name == "" {
		name = path
	}
	src, err := openSource(path, name, wrap)
	if err != nil {
		return nil, err
	}
	f, r, _, err := openDetected(src, opts)
	if err != nil {
		src.file.Close()
		if f == nil {
			return nil, &FileError{File: name, Err: err}
		}
		var fe *FileError
		if !errors.As(err, &fe) {
			fe = &FileError{File: name, Err: err}
		}
		fe.Format = f.Name()
		return nil, fe
	}
	return &Opened{Source: src, Format: f, Reader: r}, nil
}

// openDetected detects the format of src under opts and opens its
// Reader; a detected format whose Open gives up with ErrFallback hands
// the file to the next one by Sniff, and why says what it gave up on.
// On error, f is the format that failed (nil when none was found).
func openDetected(src *Source, opts Options) (f Format, r Reader, why string, err error) {
	if opts.Format != "" {
		if f, err = Detect(src.Name, src.Head, opts.Format); err != nil {
			return nil, nil, "", err
		}
		r, err = f.Open(src, opts)
		return f, r, "", err
	}
	ranked := rank(src.Name, src.Head)
	if len(ranked) == 0 {
		return nil, nil, "", errors.New("no registered format reads this file")
	}
	for i, f := range ranked {
		if i > 0 {
			if _, err := src.Rewind(); err != nil {
				return f, nil, why, err
			}
		}
		r, err = f.Open(src, opts)
		if err == nil || !errors.Is(err, ErrFallback) || i == len(ranked)-1 {
			return f, r, why, err
		}
		why = f.Name() + ": " + fallbackReason(err)
	}
	panic("unreachable")
}

// fallbackReason is the reason of an ErrFallback error, without it.
func fallbackReason(err error) string {
	var fe *FileError
	if errors.As(err, &fe) && fe.Line > 0 {
		return fmt.Sprintf("line %d: %s", fe.Line, strings.TrimSuffix(fe.Err.Error(), ": "+ErrFallback.Error()))
	}
	return strings.TrimSuffix(err.Error(), ": "+ErrFallback.Error())
}

// openSource opens the file and reads its head.
func openSource(path, name string, wrap func(io.Reader) io.Reader) (*Source, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &FileError{File: name, Err: fmt.Errorf("not a regular file (%s)", fi.Mode().Type())}
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	src := &Source{Name: name, Path: path, file: file, wrap: wrap}
	var r io.Reader = file
	if wrap != nil {
		r = wrap(r)
	}
	src.R = bufio.NewReaderSize(r, HeadSize)
	head, err := src.R.Peek(HeadSize)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		file.Close()
		return nil, err
	}
	if err := CheckEncoding(head[:min(len(head), 4096)]); err != nil {
		file.Close()
		return nil, &FileError{File: name, Err: err}
	}
	if bytes.HasPrefix(head, utf8BOM) {
		src.R.Discard(len(utf8BOM))
		head = head[len(utf8BOM):]
	}
	src.Head = head
	return src, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// CheckEncoding refuses what cannot be text in UTF-8: UTF-16 and UTF-32
// (by byte order mark) and binary files (a NUL byte near the start).
func CheckEncoding(head []byte) error {
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return errors.New("file is UTF-16 (byte order mark found): save it as UTF-8")
	case bytes.IndexByte(head, 0) >= 0:
		return errors.New("file looks binary (NUL bytes): not CSV or JSON text")
	}
	return nil
}

// Describe reads the head of the file at path and says how it will be
// read under opts: the format, the delimiter and header of a delimited
// file, the shape of a JSON document, and which columns or keys feed
// which fields. A file that cannot be read at all is an error, with the
// reason the import would give.
func Describe(path string, opts Options) (*Description, error) {
	src, err := openSource(path, path, nil)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) {
			return nil, fe.Err
		}
		return nil, err
	}
	defer src.file.Close()
	f, r, why, err := openDetected(src, opts)
	if f == nil {
		return nil, err
	}
	d := &Description{Format: f.Name(), Why: why}
	if err != nil {
		var fe *FileError
		switch {
		case errors.As(err, &fe) && fe.Line > 0:
			return d, fmt.Errorf("line %d: %w", fe.Line, fe.Err)
		case errors.As(err, &fe):
			return d, fe.Err
		}
		return d, err
	}
	if c, ok := r.(io.Closer); ok {
		defer c.Close()
	}
	if ds, ok := r.(Describer); ok {
		return d, ds.Describe(d)
	}
	return d, nil
}
