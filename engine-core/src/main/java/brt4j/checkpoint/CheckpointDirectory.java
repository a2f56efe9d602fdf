package brt4j.checkpoint;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes a checkpoint directory atomically: a crash (of the process, or of the machine once fsync has returned) at
 * any moment leaves the checkpoint at {@code target} either fully old or fully new, never half-written.
 *
 * <p>How: the caller fills a temporary sibling {@code <name>.tmp-<random>}; {@link #commit} fsyncs every file and
 * directory in it, then
 * <ol>
 *   <li>renames the current {@code <name>} (if any) to {@code <name>.old},</li>
 *   <li>renames the temporary directory to {@code <name>},</li>
 *   <li>deletes {@code <name>.old},</li>
 * </ol>
 * fsyncing the parent directory after each rename so that they reach the disk in this order.
 *
 * <p>The invariant: {@code <name>}, whenever it exists, is a complete checkpoint (it only ever appears by an atomic
 * rename of a complete one); and whenever {@code <name>} does not exist but a checkpoint was ever committed,
 * {@code <name>.old} exists and is complete (step 1 to 2). So {@link #recover} restores the state after any crash:
 * <ul>
 *   <li>{@code <name>.old} without {@code <name>}: crash between 1 and 2; rename {@code .old} back (the old checkpoint
 *       wins, the new one is discarded with its temporary directory);</li>
 *   <li>{@code <name>.old} with {@code <name>}: crash during 3; finish deleting {@code .old};</li>
 *   <li>{@code <name>.tmp-*}: an unfinished or discarded write; delete it.</li>
 * </ul>
 * {@link #begin} runs {@link #recover} first. Readers that must not modify anything (another process, read-only media)
 * use {@link #locate}, which finds the complete checkpoint in either place.
 *
 * <p>Assumes one writer per checkpoint name at a time: a second writer's recovery would delete the first one's
 * temporary directory (its commit then fails loudly; nothing is corrupted). Not thread-safe.
 */
public final class CheckpointDirectory implements AutoCloseable {
    private static final String OLD_SUFFIX = ".old";
    private static final String TMP_INFIX = ".tmp-";

    private final Path target;
    private final Path tmp;
    private boolean done;

    private CheckpointDirectory(Path target, Path tmp) {
        this.target = target;
        this.tmp = tmp;
    }

    /**
     * Recovers any interrupted write of {@code target}, then creates an empty temporary sibling for the new
     * checkpoint. Fill {@link #dir()}, then {@link #commit()}; closing without commit discards it.
     */
    public static CheckpointDirectory begin(Path target) {
        Path t = target.toAbsolutePath().normalize();
        recover(t);
        try {
            Files.createDirectories(t.getParent());
            Path tmp = Files.createTempDirectory(t.getParent(), t.getFileName() + TMP_INFIX);
            return new CheckpointDirectory(t, tmp);
        } catch (IOException e) {
            throw new CheckpointException(target + ": cannot create a temporary checkpoint directory next to it ("
                    + Durable.describe(e) + ")", e);
        }
    }

    /** The temporary directory to write the checkpoint's files into. */
    public Path dir() {
        return tmp;
    }

    /** Where the checkpoint will be after {@link #commit}. */
    public Path target() {
        return target;
    }

    /** Makes the files in {@link #dir()} durable and puts them in place of {@code target} atomically. */
    public void commit() {
        if (done) {
            throw new IllegalStateException("checkpoint " + target + " was already committed or discarded");
        }
        Path old = sibling(target, OLD_SUFFIX);
        Path parent = target.getParent();
        try {
            fsyncTree(tmp);
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(old); // Only a leftover of a finished commit can be here: begin() recovered.
                Durable.atomicRename(target, old);
                Durable.fsyncDirectory(parent);
            }
            Durable.atomicRename(tmp, target);
            Durable.fsyncDirectory(parent);
            done = true;
            deleteTree(old);
            Durable.fsyncDirectory(parent);
        } catch (IOException e) {
            if (!done) {
                putBack(old);
            }
            throw new CheckpointException(target + ": cannot commit the checkpoint (" + Durable.describe(e)
                    + "); the previous checkpoint, if any, is kept", e);
        }
    }

    /** After a failed step 2, moves the old checkpoint back now rather than at the next recovery. */
    private void putBack(Path old) {
        try {
            if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS) && Files.exists(old, LinkOption.NOFOLLOW_LINKS)) {
                Durable.atomicRename(old, target);
                Durable.fsyncDirectory(target.getParent());
            }
        } catch (IOException ignored) {
            // recover() will do it; the commit's own error is what the caller needs to see.
        }
    }

    /** Discards the temporary directory unless {@link #commit} succeeded. */
    @Override
    public void close() {
        if (!done) {
            done = true;
            try {
                deleteTree(tmp);
            } catch (IOException e) {
                throw new CheckpointException(tmp + ": cannot delete the discarded checkpoint (" + Durable.describe(e)
                        + ")", e);
            }
        }
    }

    /**
     * Repairs what an interrupted commit of {@code target} left (see the class comment) and reports whether a
     * complete checkpoint is now at {@code target}. Does nothing, and writes nothing, when nothing was left.
     */
    public static boolean recover(Path target) {
        Path t = target.toAbsolutePath().normalize();
        Path old = sibling(t, OLD_SUFFIX);
        try {
            if (Files.exists(old, LinkOption.NOFOLLOW_LINKS)) {
                if (Files.exists(t, LinkOption.NOFOLLOW_LINKS)) {
                    deleteTree(old);
                } else {
                    Durable.atomicRename(old, t);
                }
                Durable.fsyncDirectory(t.getParent());
            }
            for (Path tmp : leftoverTemporaries(t)) {
                deleteTree(tmp);
            }
        } catch (IOException e) {
            throw new CheckpointException(target + ": cannot recover the checkpoint directory after an interrupted"
                    + " write (" + Durable.describe(e) + ")", e);
        }
        return Files.isDirectory(t);
    }

    /**
     * The directory holding the complete checkpoint of {@code target} without modifying anything: {@code target}
     * itself, or {@code <target>.old} while a commit is between its two renames (or crashed there).
     */
    public static Path locate(Path target) {
        Path old = sibling(target.toAbsolutePath().normalize(), OLD_SUFFIX);
        // Twice: a concurrent commit can move the checkpoint from .old back to target between the two checks.
        for (int attempt = 0; attempt < 2; attempt++) {
            if (Files.isDirectory(target)) {
                return target;
            }
            if (Files.isDirectory(old)) {
                return old;
            }
        }
        throw new CheckpointException(target + ": no such checkpoint directory");
    }

    /** Whether {@code target} holds a checkpoint, in either of the places {@link #locate} looks. */
    public static boolean exists(Path target) {
        return Files.isDirectory(target) || Files.isDirectory(sibling(target.toAbsolutePath().normalize(), OLD_SUFFIX));
    }

    private static Path sibling(Path target, String suffix) {
        return target.resolveSibling(target.getFileName() + suffix);
    }

    private static List<Path> leftoverTemporaries(Path target) throws IOException {
        List<Path> out = new ArrayList<>();
        Path parent = target.getParent();
        if (!Files.isDirectory(parent)) {
            return out;
        }
        String prefix = target.getFileName() + TMP_INFIX;
        try (DirectoryStream<Path> siblings = Files.newDirectoryStream(parent)) {
            for (Path p : siblings) {
                if (p.getFileName().toString().startsWith(prefix)) {
                    out.add(p);
                }
            }
        }
        return out;
    }

    /** fsyncs every file and directory below {@code root}, children before parents, root last. */
    private static void fsyncTree(Path root) throws IOException {
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                if (attrs.isRegularFile()) {
                    Durable.fsyncFile(file);
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) throw e;
                Durable.fsyncDirectory(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /**
     * Deletes {@code root} and everything below it, if it exists; symbolic links are deleted, not followed. Public for
     * the benchmarks' temporary run directories.
     */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.deleteIfExists(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) throw e;
                Files.deleteIfExists(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
