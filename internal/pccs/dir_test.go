package pccs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcs-project/tcs/internal/dcap/collateral"
)

func writeBundle(t *testing.T, dir, name string, b *collateral.Bundle) {
	t.Helper()
	if err := WriteBundleFile(filepath.Join(dir, name), b); err != nil {
		t.Fatal(err)
	}
}

func TestDirSourceLookup(t *testing.T) {
	dir := t.TempDir()
	other := [6]byte{0x00, 0x60, 0x6a, 0x00, 0x00, 0x00}
	platform := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAPlatform})
	processor := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAProcessor})
	misnamed := newSyntheticBundle(t, bundleSpec{fmspc: other, ca: CAPlatform})
	older := newSyntheticBundle(t, bundleSpec{fmspc: other, ca: CAProcessor, issue: testIssue.Add(-time.Hour)})
	newer := newSyntheticBundle(t, bundleSpec{fmspc: other, ca: CAProcessor, tcbVersion: 1})

	writeBundle(t, dir, "00906ea10000-platform.json", platform)
	writeBundle(t, dir, "anything.json", processor)
	// The name claims testFMSPC, but the TCB Info inside contains other.
	writeBundle(t, dir, "00906ea10000-processor.json", misnamed)
	writeBundle(t, dir, "a-old.json", older)
	writeBundle(t, dir, "b-new.json", newer)
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a bundle"), 0o644); err != nil {
		t.Fatal(err)
	}

	src, err := NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		fmspc [6]byte
		ca    string
		want  *collateral.Bundle
	}{
		"conventional name":     {fmspc: testFMSPC, ca: CAPlatform, want: platform},
		"other name":            {fmspc: testFMSPC, ca: CAProcessor, want: processor},
		"name disagrees":        {fmspc: other, ca: CAPlatform, want: misnamed},
		"newest of two matches": {fmspc: other, ca: CAProcessor, want: newer},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := src.Collateral(context.Background(), tc.fmspc, tc.ca)
			if err != nil {
				t.Fatalf("Collateral: %v", err)
			}
			compareBundles(t, got, tc.want)
		})
	}

	t.Run("not found", func(t *testing.T) {
		_, err := src.Collateral(context.Background(), [6]byte{1, 2, 3, 4, 5, 6}, CAPlatform)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("error %v, want ErrNotFound", err)
		}
		if !strings.Contains(err.Error(), "broken.json") {
			t.Errorf("error %q does not name the unreadable file", err)
		}
	})
	t.Run("entries", func(t *testing.T) {
		entries, err := src.Entries(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 5 {
			t.Errorf("Entries returned %d bundles, want 5", len(entries))
		}
	})
}

func TestDirSourceCAFromFileName(t *testing.T) {
	dir := t.TempDir()
	// A development CA whose name says neither Platform nor Processor.
	b := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC, ca: CAProcessor, pckCACN: "Dev PCK CA"})
	writeBundle(t, dir, "00906EA10000-processor.json", b)
	writeBundle(t, dir, "no-hint.json", b)

	src, err := NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := src.Collateral(context.Background(), testFMSPC, CAProcessor)
	if err != nil {
		t.Fatalf("Collateral: %v", err)
	}
	compareBundles(t, got, b)

	if _, err := ReadBundleFile(filepath.Join(dir, "no-hint.json")); !errors.Is(err, ErrInvalidBundle) {
		t.Errorf("file without CA hint: error %v, want ErrInvalidBundle", err)
	}
}

func TestDirSourceRealBundles(t *testing.T) {
	paths := realBundles(t)
	dir := t.TempDir()
	var want []Entry
	for _, path := range paths {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := collateral.ParseBundleJSON(data)
		if err != nil {
			t.Fatal(err)
		}
		e := mustDescribe(t, b, "")
		want = append(want, e)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(filepath.Dir(path))+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	src, err := NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range want {
		got, err := src.Collateral(context.Background(), e.Key.FMSPC, e.Key.CA)
		if err != nil {
			t.Fatalf("Collateral(%s): %v", e.Key, err)
		}
		compareBundles(t, got, e.Bundle)
	}
}

func TestNewDirSourceErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"missing": filepath.Join(t.TempDir(), "missing"),
		"not dir": file,
	}
	for name, dir := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := NewDirSource(dir); err == nil {
				t.Errorf("NewDirSource(%s) succeeded", dir)
			}
		})
	}
}

func TestWriteBundleFileRoundTrip(t *testing.T) {
	want := newSyntheticBundle(t, bundleSpec{fmspc: testFMSPC})
	path := filepath.Join(t.TempDir(), "b.json")
	writeBundle(t, filepath.Dir(path), filepath.Base(path), want)

	entry, err := ReadBundleFile(path)
	if err != nil {
		t.Fatal(err)
	}
	compareBundles(t, entry.Bundle, want)
	if entry.Key != (Key{FMSPC: testFMSPC, CA: CAPlatform}) {
		t.Errorf("Key = %s", entry.Key)
	}
}

func BenchmarkDirSourceCollateral(b *testing.B) {
	dir := b.TempDir()
	for i := range 8 {
		fmspc := testFMSPC
		fmspc[5] = byte(i)
		bundle := newSyntheticBundle(b, bundleSpec{fmspc: fmspc})
		if err := WriteBundleFile(filepath.Join(dir, BundleFileName(Key{FMSPC: fmspc, CA: CAPlatform})), bundle); err != nil {
			b.Fatal(err)
		}
	}
	src, err := NewDirSource(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := src.Collateral(ctx, testFMSPC, CAPlatform); err != nil {
			b.Fatal(err)
		}
	}
}

func TestDirSourceSkipsNamedPipe(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "stuck.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := src.Collateral(context.Background(), [6]byte{1, 2, 3, 4, 5, 6}, CAPlatform)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err = %v, want one saying the pipe is not a regular file", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Collateral blocked on a named pipe in the bundle directory")
	}
}

func TestWriteBundleFileKeepsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe.json")
	if err := syscall.Mkfifo(pipe, 0o600); err != nil {
		t.Fatal(err)
	}
	b := &collateral.Bundle{TCBInfo: []byte("{}")}
	for _, path := range []string{pipe, dir} {
		err := WriteBundleFile(path, b)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("WriteBundleFile(%s): err = %v, want a refusal", path, err)
		}
	}
	info, err := os.Lstat(pipe)
	if err != nil || info.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("the named pipe was replaced: %v, %v", info, err)
	}

	// A symbolic link is followed, and the link stays a link.
	target := filepath.Join(dir, "target.json")
	if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := WriteBundleFile(link, b); err != nil {
		t.Fatalf("WriteBundleFile through a link: %v", err)
	}
	if info, err := os.Lstat(link); err != nil || info.Mode().Type() != os.ModeSymlink {
		t.Errorf("the link was replaced by a file")
	}
	if data, _ := os.ReadFile(target); string(data) == "old" {
		t.Errorf("the link's target was not written")
	}
}
