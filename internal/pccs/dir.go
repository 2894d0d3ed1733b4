package pccs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

// bundleExt is the file name extension of bundle files.
const bundleExt = ".json"

// maxBundleFileBytes bounds the size of a bundle file. Real bundles are
// tens of kilobytes; the platform PCK CRL is the largest piece.
const maxBundleFileBytes = 16 << 20

// DirSource reads offline bundles from a directory of files in the
// dcap-qvl JSON form of collateral.Bundle. It reads the directory on every
// call, so files can be replaced while it runs. Put a Cache in front of it
// to avoid the reads.
//
// A file named <fmspc>-<ca>.json (FMSPC in hex, CA "platform" or
// "processor") is found without reading the others, but the name is only a
// convenience: the FMSPC always comes from the TCB Info inside, and the CA
// type from the PCK CRL issuer, falling back to the name.
type DirSource struct {
	dir string
}

// NewDirSource returns a source for the bundle files in dir, which must be
// a readable directory.
func NewDirSource(dir string) (*DirSource, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("bundle directory %s is not a directory", dir)
	}
	return &DirSource{dir: dir}, nil
}

// BundleFileName returns the conventional file name for a key.
func BundleFileName(key Key) string {
	return key.String() + bundleExt
}

// Collateral returns the bundle for the key. The file that BundleFileName
// names wins when its contents are for the key, so that an operator can
// pin a bundle by its name. Otherwise the matching file issued last wins. It returns an error wrapping ErrNotFound
// when no file matches.
func (d *DirSource) Collateral(_ context.Context, fmspc [fmspcLen]byte, ca string) (*collateral.Bundle, error) {
	ca, err := ParseCA(ca)
	if err != nil {
		return nil, err
	}
	key := Key{FMSPC: fmspc, CA: ca}

	// Fast path: the conventional name, when its contents agree.
	path := filepath.Join(d.dir, BundleFileName(key))
	if entry, err := readBundleFile(path); err == nil && entry.Key == key {
		return entry.Bundle, nil
	}

	entries, skipped, err := d.scan()
	if err != nil {
		return nil, err
	}
	var best *Entry
	for i := range entries {
		e := &entries[i]
		if e.Key == key && (best == nil || e.Validity.IssueDate.After(best.Validity.IssueDate)) {
			best = e
		}
	}
	if best == nil {
		msg := fmt.Sprintf("no bundle for %s in %s", key, d.dir)
		if len(skipped) > 0 {
			msg += fmt.Sprintf(" (skipped unreadable files: %s)", strings.Join(skipped, "; "))
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, msg)
	}
	return best.Bundle, nil
}

// Entries reads every bundle file in the directory. It implements Catalog.
// Unreadable files are skipped, so that one bad file does not hide the
// others; the error lists them only when no file could be read.
func (d *DirSource) Entries(context.Context) ([]Entry, error) {
	entries, skipped, err := d.scan()
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 && len(skipped) > 0 {
		return nil, fmt.Errorf("%w: no readable bundle in %s: %s", ErrInvalidBundle, d.dir, strings.Join(skipped, "; "))
	}
	return entries, nil
}

// scan reads all bundle files in name order. skipped holds one message per
// unreadable file.
func (d *DirSource) scan() (entries []Entry, skipped []string, err error) {
	dirEntries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading bundle directory: %w", err)
	}
	sort.Slice(dirEntries, func(i, j int) bool { return dirEntries[i].Name() < dirEntries[j].Name() })
	for _, de := range dirEntries {
		if de.IsDir() || !strings.HasSuffix(de.Name(), bundleExt) {
			continue
		}
		entry, err := readBundleFile(filepath.Join(d.dir, de.Name()))
		if err != nil {
			skipped = append(skipped, err.Error())
			continue
		}
		entries = append(entries, entry)
	}
	return entries, skipped, nil
}

// ReadBundleFile reads one bundle file. The CA type comes from the PCK CRL
// issuer or, failing that, from a file name of the form <fmspc>-<ca>.json.
func ReadBundleFile(path string) (Entry, error) {
	return readBundleFile(path)
}

func readBundleFile(path string) (Entry, error) {
	data, err := readFileLimited(path, maxBundleFileBytes)
	if err != nil {
		return Entry{}, err
	}
	b, err := collateral.ParseBundleJSON(data)
	if err != nil {
		return Entry{}, fmt.Errorf("bundle file %s: %w", path, err)
	}
	entry, err := Describe(b, caFromFileName(path))
	if err != nil {
		return Entry{}, fmt.Errorf("bundle file %s: %w", path, err)
	}
	return entry, nil
}

// caFromFileName returns the CA type of a <fmspc>-<ca>.json name, or "".
func caFromFileName(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), bundleExt)
	_, ca, ok := strings.Cut(name, "-")
	if !ok {
		return ""
	}
	ca, err := ParseCA(ca)
	if err != nil {
		return ""
	}
	return ca
}

// readFileLimited reads a regular file of at most limit bytes. Anything
// else, such as a named pipe that would block the open for ever, is an
// error.
func readFileLimited(path string, limit int64) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("bundle file %s is not a regular file (mode %s)", path, info.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading bundle file %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("bundle file %s is larger than the limit of %d bytes", path, limit)
	}
	return data, nil
}

// MarshalBundleIndent returns b in the dcap-qvl JSON form, indented and
// ending in a newline. Indenting changes no string value, so the signed
// JSON text inside stays byte for byte the same.
func MarshalBundleIndent(b *collateral.Bundle) ([]byte, error) {
	compact, err := b.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, fmt.Errorf("encoding bundle: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// WriteBundleFile writes b in the dcap-qvl JSON form to path, through a
// temporary file in the same directory so that readers never see half a
// file.
func WriteBundleFile(path string, b *collateral.Bundle) error {
	data, err := MarshalBundleIndent(b)
	if err != nil {
		return err
	}
	// The rename below replaces whatever is at path, so a device, a named
	// pipe or a folder there is rejected, and a symbolic link is followed
	// to the file it names.
	if resolved, err := filepath.EvalSymlinks(path); err == nil {
		info, err := os.Stat(resolved)
		if err != nil {
			return fmt.Errorf("writing bundle: %w", err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("writing bundle: %s exists and is not a regular file (mode %s); choose another path",
				path, info.Mode().Type())
		}
		path = resolved
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing bundle %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing bundle %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing bundle %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing bundle: %w", err)
	}
	return nil
}
