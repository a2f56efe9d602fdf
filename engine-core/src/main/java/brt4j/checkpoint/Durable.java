package brt4j.checkpoint;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * The file-system steps that make a write survive a crash: fsync of a file, fsync of a directory (so that a rename
 * or a new entry inside it is on disk), and an atomic rename. On Linux and macOS these are the real thing. Where a
 * directory cannot be opened for fsync (Windows), the directory fsync is skipped: renames there are still atomic, but
 * their durability across a power cut is then up to the file system.
 */
final class Durable {
    private Durable() {}

    static void fsyncFile(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    static void fsyncDirectory(Path dir) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(dir, StandardOpenOption.READ);
        } catch (IOException | UnsupportedOperationException e) {
            return; // Not supported on this platform (see the class comment).
        }
        try (ch) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems refuse fsync on a directory (EINVAL); the rename itself has already happened.
        }
    }

    /** Renames {@code from} to {@code to} atomically, replacing a file (not a non-empty directory) at {@code to}. */
    static void atomicRename(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system cannot rename " + from + " to " + to + " atomically", e);
        }
    }

    /** A short reason for an I/O error, without the path (callers name the file themselves). */
    static String describe(IOException e) {
        if (e instanceof NoSuchFileException) return "no such file or directory";
        if (e instanceof AccessDeniedException) return "permission denied";
        if (e instanceof FileAlreadyExistsException) return "it already exists";
        if (e instanceof DirectoryNotEmptyException) return "directory not empty";
        if (e instanceof FileSystemException f && f.getReason() != null) return f.getReason();
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
