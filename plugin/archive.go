package plugin

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"runtime"
	"strings"
)

// Reading plugin packages (PLG-5): a single executable, a .zip or a
// .tar.gz. Archives are read twice from the same private copy: once to
// check every rule without writing anything (planPackage), once to write
// the files the plan names (extractPackage). Both passes go through the
// same walkers, so the checks hold in both.

// packageKind is what a plugin package is, told by its first bytes (as
// notation does), not by its file name.
type packageKind int

const (
	kindExecutable packageKind = iota
	kindZip
	kindTarGz
)

func (k packageKind) String() string {
	switch k {
	case kindZip:
		return "zip archive"
	case kindTarGz:
		return "tar.gz archive"
	}
	return "executable"
}

// detectKind reads the magic number at the start of r: "PK\x03\x04" (or
// "PK\x05\x06", an empty zip) is a zip, 1f 8b a gzip stream; anything else
// is taken to be the plugin executable itself.
func detectKind(r io.ReaderAt, size int64) packageKind {
	var magic [4]byte
	n, _ := r.ReadAt(magic[:], 0)
	switch {
	case n >= 4 && (bytes.Equal(magic[:], []byte("PK\x03\x04")) || bytes.Equal(magic[:], []byte("PK\x05\x06"))):
		return kindZip
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return kindTarGz
	}
	return kindExecutable
}

// archiveEntry is one entry of an archive after its name and type passed
// the checks of checkEntry.
type archiveEntry struct {
	// name is the cleaned, slash-separated name, without a leading "./"
	// and without a trailing "/".
	name string
	// mode holds the type bits (only fs.ModeDir for a directory) and the
	// permission bits of the entry.
	mode fs.FileMode
}

// topLevel reports whether the entry is a file at the top of the archive;
// only such files are installed.
func (e archiveEntry) topLevel() bool { return !strings.Contains(e.name, "/") }

// checkEntry checks one archive entry's name and type; rawName is the name
// as stored. Everything it refuses makes the whole archive invalid.
func checkEntry(rawName string, mode fs.FileMode) (archiveEntry, error) {
	shown := quote(rawName)
	switch {
	case rawName == "":
		return archiveEntry{}, errors.New("an entry has an empty name")
	case len(rawName) > maxEntryName:
		return archiveEntry{}, fmt.Errorf("an entry name is longer than %d bytes", maxEntryName)
	case strings.ContainsRune(rawName, 0):
		return archiveEntry{}, fmt.Errorf("entry %s has a NUL byte in its name", shown)
	case strings.Contains(rawName, `\`):
		return archiveEntry{}, fmt.Errorf("entry %s has a backslash in its name (archive names use /)", shown)
	case strings.HasPrefix(rawName, "/") || hasVolume(rawName):
		return archiveEntry{}, fmt.Errorf("entry %s has an absolute path", shown)
	}
	for _, elem := range strings.Split(rawName, "/") {
		if elem == ".." {
			return archiveEntry{}, fmt.Errorf("entry %s leaves the archive (path traversal with ..)", shown)
		}
	}
	switch t := mode.Type(); {
	case t == 0, t == fs.ModeDir:
	case t&fs.ModeSymlink != 0:
		return archiveEntry{}, fmt.Errorf("entry %s is a symbolic link; plugin archives may hold only regular files and directories", shown)
	default:
		return archiveEntry{}, fmt.Errorf("entry %s is a %s; plugin archives may hold only regular files and directories", shown, typeName(t))
	}
	name := path.Clean(rawName)
	if name == "." {
		if mode.IsDir() {
			return archiveEntry{name: ".", mode: mode}, nil
		}
		return archiveEntry{}, fmt.Errorf("entry %s is a file without a name", shown)
	}
	if !fs.ValidPath(name) {
		return archiveEntry{}, fmt.Errorf("entry %s has an invalid path", shown)
	}
	return archiveEntry{name: name, mode: mode}, nil
}

// maxEntryName bounds an entry name; tar and zip allow 64 KiB and more,
// file systems 255 bytes per element and a few KiB per path.
const maxEntryName = 4096

// hasVolume reports a Windows drive or UNC prefix ("C:", "c:/x"), which
// refers outside the archive on Windows whatever the host system is.
func hasVolume(name string) bool {
	return len(name) >= 2 && name[1] == ':' && ('a' <= name[0]|0x20 && name[0]|0x20 <= 'z')
}

func typeName(t fs.FileMode) string {
	switch {
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "device"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	}
	return "special file"
}

// errLinkEntry marks a tar hard link, which has no fs.FileMode type.
var errLinkEntry = errors.New("hard link")

// budget counts the decompressed bytes of an archive as they are read and
// fails the read that would reach MaxExpandedBytes. It trusts no size an
// archive header states.
type budget struct {
	left int64
	// over is set when a read was refused.
	over bool
}

// maxExpandedBytes is the limit a budget enforces: MaxExpandedBytes, which
// tests lower (export_test.go) so that their bombs stay small and quick to
// make and to refuse under -race.
var maxExpandedBytes int64 = MaxExpandedBytes

func newBudget() *budget { return &budget{left: maxExpandedBytes} }

func (b *budget) errOver() error {
	return fmt.Errorf("the archive expands to %d MiB or more, the limit (a decompression bomb?)", maxExpandedBytes>>20)
}

// reader returns r read through the budget.
func (b *budget) reader(r io.Reader) io.Reader { return &budgetReader{b: b, r: r} }

type budgetReader struct {
	b *budget
	r io.Reader
}

func (br *budgetReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if br.b.left <= 0 {
		br.b.over = true
		return 0, br.b.errOver()
	}
	if int64(len(p)) > br.b.left {
		p = p[:br.b.left]
	}
	n, err := br.r.Read(p)
	br.b.left -= int64(n)
	return n, err
}

// visitFunc is called for each regular file of an archive, in archive
// order, with a reader of its contents. It need not read them.
type visitFunc func(e archiveEntry, contents io.Reader) error

// walkZip checks every entry of the zip archive r (entry count, names,
// types) and calls visit for each regular file. Sizes the archive states
// are used only to refuse early; what counts is what is read.
func walkZip(r io.ReaderAt, size int64, b *budget, visit visitFunc) error {
	if err := checkZipEntryCount(r, size); err != nil {
		return err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) { // insecure names are refused below, with the name
		return fmt.Errorf("not a valid zip archive: %w", err)
	}
	if len(zr.File) > MaxArchiveEntries {
		return fmt.Errorf("the archive has more than %d entries", MaxArchiveEntries)
	}
	var declared uint64
	limit := uint64(max(b.left, 0))
	entries := make([]archiveEntry, len(zr.File))
	for i, f := range zr.File {
		e, err := checkEntry(f.Name, f.Mode())
		if err != nil {
			return err
		}
		entries[i] = e
		declared += f.UncompressedSize64
		if f.UncompressedSize64 >= limit || declared >= limit {
			return b.errOver()
		}
	}
	for i, f := range zr.File {
		if entries[i].mode.IsDir() {
			continue
		}
		if err := visitZipFile(f, entries[i], b, visit); err != nil {
			return err
		}
	}
	return nil
}

func visitZipFile(f *zip.File, e archiveEntry, b *budget, visit visitFunc) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("entry %s: %w", quote(f.Name), err)
	}
	defer rc.Close()
	if err := visit(e, b.reader(rc)); err != nil {
		if b.over {
			return b.errOver()
		}
		return fmt.Errorf("entry %s: %w", quote(f.Name), err)
	}
	return nil
}

// walkTarGz checks every entry of the gzip-compressed tar stream r and
// calls visit for each regular file. Every decompressed byte, headers and
// skipped contents included, is counted against the budget, and at most
// MaxArchiveEntries entries are read.
func walkTarGz(r io.ReaderAt, size int64, b *budget, visit visitFunc) error {
	gz, err := gzip.NewReader(io.NewSectionReader(r, 0, size))
	if err != nil {
		return fmt.Errorf("not a valid gzip stream: %w", err)
	}
	defer gz.Close()
	tr := tar.NewReader(b.reader(gz))
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				return errors.New("the tar archive is empty")
			}
			return nil
		}
		if b.over {
			return b.errOver()
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) { // insecure names are refused below, with the name
			return fmt.Errorf("not a valid tar.gz archive: %w", err)
		}
		if n >= MaxArchiveEntries {
			return fmt.Errorf("the archive has more than %d entries", MaxArchiveEntries)
		}
		mode, err := tarMode(h)
		if errors.Is(err, errLinkEntry) {
			_, nameErr := checkEntry(h.Name, 0)
			if nameErr != nil {
				return nameErr
			}
			return fmt.Errorf("entry %s is a hard link; plugin archives may hold only regular files and directories", quote(h.Name))
		}
		if err != nil {
			return fmt.Errorf("entry %s: %w", quote(h.Name), err)
		}
		e, err := checkEntry(h.Name, mode)
		if err != nil {
			return err
		}
		if e.mode.IsDir() {
			continue
		}
		if h.Size >= b.left {
			return b.errOver()
		}
		if err := visit(e, tr); err != nil {
			if b.over {
				return b.errOver()
			}
			return fmt.Errorf("entry %s: %w", quote(h.Name), err)
		}
	}
}

// tarMode maps a tar header to a file mode: regular files and directories
// as such, everything else to its type (refused by checkEntry), hard links
// to errLinkEntry.
func tarMode(h *tar.Header) (fs.FileMode, error) {
	perm := fs.FileMode(h.Mode).Perm()
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		return perm, nil
	case tar.TypeDir:
		return fs.ModeDir | perm, nil
	case tar.TypeSymlink:
		return fs.ModeSymlink | perm, nil
	case tar.TypeLink:
		return 0, errLinkEntry
	case tar.TypeChar:
		return fs.ModeDevice | fs.ModeCharDevice | perm, nil
	case tar.TypeBlock:
		return fs.ModeDevice | perm, nil
	case tar.TypeFifo:
		return fs.ModeNamedPipe | perm, nil
	}
	return 0, fmt.Errorf("unsupported tar entry type %q; plugin archives may hold only regular files and directories", h.Typeflag)
}

// Zip central directory, read before archive/zip does: zip.NewReader
// keeps a *zip.File for every directory record it finds, and it finds
// records until one does not parse, whatever count the archive states, so
// a 256 MiB archive of empty records would cost gigabytes before any
// check could refuse it. checkZipEntryCount walks the records the same
// way, keeping nothing, and stops after MaxArchiveEntries.
const (
	zipEndLen       = 22         // end of central directory record, without comment
	zipEndSig       = 0x06054b50 // "PK\x05\x06"
	zipDirHeaderLen = 46         // central directory record, without name, extra, comment
	zipDirSig       = 0x02014b50 // "PK\x01\x02"
	zipMaxComment   = 0xffff
)

// checkZipEntryCount refuses a zip archive with more than
// MaxArchiveEntries central directory records, and ZIP64 archives (a
// plugin archive is far below the sizes that need ZIP64, and refusing it
// keeps this reading simple).
func checkZipEntryCount(r io.ReaderAt, size int64) error {
	tail := int64(zipEndLen + zipMaxComment)
	if tail > size {
		tail = size
	}
	buf := make([]byte, tail)
	if _, err := r.ReadAt(buf, size-tail); err != nil && err != io.EOF {
		return fmt.Errorf("not a valid zip archive: %w", err)
	}
	// The last signature wins, as in archive/zip.
	p := -1
	for i := len(buf) - zipEndLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == zipEndSig {
			p = i
			break
		}
	}
	if p < 0 {
		return errors.New("not a valid zip archive: no end of central directory record")
	}
	end := buf[p:]
	if commentLen := int(binary.LittleEndian.Uint16(end[20:])); zipEndLen+commentLen > len(end) {
		return errors.New("not a valid zip archive: truncated comment")
	}
	records := binary.LittleEndian.Uint16(end[10:])
	dirSize := binary.LittleEndian.Uint32(end[12:])
	dirOffset := binary.LittleEndian.Uint32(end[16:])
	if records == 0xffff || binary.LittleEndian.Uint16(end[8:]) == 0xffff || dirSize == 0xffffffff || dirOffset == 0xffffffff {
		return errors.New("ZIP64 archives are not accepted for plugins")
	}
	if int(records) > MaxArchiveEntries {
		return fmt.Errorf("the archive has more than %d entries", MaxArchiveEntries)
	}
	// archive/zip starts reading records at base+dirOffset, base being 0
	// or the number of bytes prepended to the archive; count from both.
	endOffset := size - tail + int64(p)
	starts := []int64{int64(dirOffset)}
	if base := endOffset - int64(dirSize) - int64(dirOffset); base > 0 {
		starts = append(starts, base+int64(dirOffset))
	}
	for _, start := range starts {
		if n := countZipRecords(r, start, size); n > MaxArchiveEntries {
			return fmt.Errorf("the archive has more than %d entries", MaxArchiveEntries)
		}
	}
	return nil
}

// countZipRecords counts central directory records from offset off, up to
// MaxArchiveEntries+1, stopping at the first that is not one.
func countZipRecords(r io.ReaderAt, off, size int64) int {
	var h [zipDirHeaderLen]byte
	n := 0
	for n <= MaxArchiveEntries && off >= 0 && off+zipDirHeaderLen <= size {
		if _, err := r.ReadAt(h[:], off); err != nil {
			break
		}
		if binary.LittleEndian.Uint32(h[:]) != zipDirSig {
			break
		}
		variable := int64(binary.LittleEndian.Uint16(h[28:])) + int64(binary.LittleEndian.Uint16(h[30:])) + int64(binary.LittleEndian.Uint16(h[32:]))
		off += zipDirHeaderLen + variable
		if off > size {
			break
		}
		n++
	}
	return n
}

// packagePlan is what planPackage found: the plugin name and the files to
// install.
type packagePlan struct {
	kind packageKind
	// name is the plugin name, from the executable's file name (PLG-1).
	name string
	// executable is the archive entry (or, for kindExecutable, the file
	// name) of the plugin executable.
	executable string
	// files are the top-level regular files of an archive, executable
	// included, in archive order.
	files []archiveEntry
}

// pluginNameOf returns the plugin name a file name gives, or "" when the
// file name is not notation-NAME (notation-NAME.exe on Windows) for a
// usable NAME (PLG-1).
func pluginNameOf(fileName string) string {
	rest, ok := strings.CutPrefix(fileName, "notation-")
	if !ok {
		return ""
	}
	if runtime.GOOS == "windows" {
		if rest, ok = strings.CutSuffix(rest, ".exe"); !ok {
			return ""
		}
	}
	if checkName(rest) != nil || ExecutableName(rest) != fileName {
		return ""
	}
	return rest
}

// planPackage checks the package r (size bytes; fileName is the name of
// the file or the last element of the URL) and returns what to install.
// It writes nothing. Archives must hold exactly one plugin executable, a
// top-level file named notation-NAME; other top-level files (a license, a
// readme) are installed with it, files in subdirectories are ignored but
// checked like the others.
func planPackage(r io.ReaderAt, size int64, fileName string) (*packagePlan, error) {
	kind := detectKind(r, size)
	if kind == kindExecutable {
		name := pluginNameOf(fileName)
		if name == "" {
			return nil, fmt.Errorf("%w: %s is not a zip or tar.gz archive, so it must be the plugin executable itself, named %s", ErrInvalidPackage, quote(fileName), quote(ExecutableName("NAME")))
		}
		return &packagePlan{kind: kind, name: name, executable: fileName}, nil
	}
	pl := &packagePlan{kind: kind}
	seen := map[string]string{} // lower-cased name → name, for case-insensitive file systems
	var nested []string         // plugin executables in subdirectories, to explain their absence
	var exes []string
	visit := func(e archiveEntry, contents io.Reader) error {
		if _, err := io.Copy(io.Discard, contents); err != nil {
			return err
		}
		base := path.Base(e.name)
		if !e.topLevel() {
			if strings.HasPrefix(base, "notation-") && len(nested) < 3 {
				nested = append(nested, e.name)
			}
			return nil
		}
		key := strings.ToLower(e.name)
		if prev, ok := seen[key]; ok {
			if prev == e.name {
				return fmt.Errorf("the archive holds %s twice", quote(e.name))
			}
			return fmt.Errorf("the archive holds both %s and %s, one file on case-insensitive file systems", quote(prev), quote(e.name))
		}
		seen[key] = e.name
		pl.files = append(pl.files, e)
		if strings.HasPrefix(base, "notation-") {
			exes = append(exes, e.name)
		}
		return nil
	}
	if err := walkArchive(kind, r, size, visit); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPackage, err)
	}
	switch {
	case len(exes) > 1:
		return nil, fmt.Errorf("%w: the archive holds more than one plugin executable (%s); it must hold exactly one", ErrInvalidPackage, quoteList(exes))
	case len(exes) == 0 && len(nested) > 0:
		return nil, fmt.Errorf("%w: the archive holds no plugin executable at its top level (found %s in a subdirectory)", ErrInvalidPackage, quoteList(nested))
	case len(exes) == 0:
		return nil, fmt.Errorf("%w: the archive holds no plugin executable (a top-level file named %s)", ErrInvalidPackage, quote(ExecutableName("NAME")))
	}
	pl.executable = exes[0]
	if pl.name = pluginNameOf(pl.executable); pl.name == "" {
		return nil, fmt.Errorf("%w: %s is not a valid plugin executable name (%s)", ErrInvalidPackage, quote(pl.executable), quote(ExecutableName("NAME")))
	}
	return pl, nil
}

func walkArchive(kind packageKind, r io.ReaderAt, size int64, visit visitFunc) error {
	if kind == kindZip {
		return walkZip(r, size, newBudget(), visit)
	}
	return walkTarGz(r, size, newBudget(), visit)
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
