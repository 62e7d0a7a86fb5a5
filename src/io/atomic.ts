// Atomic file writes: the bytes go to `<path>.tmp-<pid>`, are fsynced, then renamed over `path`, and the directory
// is fsynced so the rename itself survives a crash. A reader therefore sees the old file or the whole new one,
// never a torn checkpoint. Chunks are written as they come, so a caller can stream a large file without first
// concatenating it in memory.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes `chunks` to `path` atomically (temp file, fsync, rename, fsync of the directory). */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  let closed = false;
  try {
    for (const chunk of chunks) writeAll(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    closed = true;
    renameSync(tmp, path);
  } catch (err) {
    if (!closed) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone, or never renamed: nothing more to clean */ }
    throw err;
  }
  fsyncDir(dirname(path));
}

function writeAll(fd: number, chunk: Uint8Array): void {
  // writeSync may write fewer bytes than asked (and at most 2 GiB at once), so loop until the chunk is out.
  const step = 1 << 30;
  let done = 0;
  while (done < chunk.byteLength) {
    const n = writeSync(fd, chunk, done, Math.min(step, chunk.byteLength - done));
    if (n <= 0) throw new Error(`writeFileAtomic: write returned ${n}`);
    done += n;
  }
}

function fsyncDir(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return; // some platforms (Windows) cannot open a directory; the rename is still atomic there
  }
  try {
    fsyncSync(fd);
  } catch (err) {
    // Filesystems that cannot fsync a directory report EINVAL/EISDIR/EPERM; the data itself is already synced.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    closeSync(fd);
  }
}
