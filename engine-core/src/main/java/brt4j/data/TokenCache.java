package brt4j.data;

import brt4j.checkpoint.CheckpointDirectory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;

/**
 * A corpus tokenized once into a memory-mapped file beside the data, so that the next run starts at once. The cache
 * is a directory ({@code <data>.brt4j-cache}, or under {@code ~/.cache/brt4j} where the data's folder is read-only)
 * holding {@code tokens.bin} (int32 little-endian ids, documents one after another), {@code docs.bin} (per document:
 * token offset, token count, UTF-8 byte count, name hash; int64 little-endian) and {@code meta.json}, whose key is a
 * hash of the tokenizer's fingerprint and of every data file's path, size and modification time. A different key
 * (the data or the tokenizer changed) rebuilds it; it is written through {@link CheckpointDirectory}, so a crash
 * while building never leaves a cache that looks complete. Empty documents are dropped when building.
 */
public final class TokenCache implements TokenSource, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int FORMAT = 1;

    private final Path dir;
    private final Arena arena;
    private final MemorySegment tokens;
    private final long[] offset, length, bytes, hash;
    private final String key;

    private TokenCache(Path dir, String key) throws IOException {
        this.dir = dir;
        this.key = key;
        this.arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(dir.resolve("tokens.bin"), StandardOpenOption.READ)) {
            this.tokens = ch.size() == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        }
        byte[] idx = Files.readAllBytes(dir.resolve("docs.bin"));
        ByteBuffer bb = ByteBuffer.wrap(idx).order(ByteOrder.LITTLE_ENDIAN);
        int n = idx.length / 32;
        offset = new long[n];
        length = new long[n];
        bytes = new long[n];
        hash = new long[n];
        for (int i = 0; i < n; i++) {
            offset[i] = bb.getLong();
            length[i] = bb.getLong();
            bytes[i] = bb.getLong();
            hash[i] = bb.getLong();
        }
        long total = n == 0 ? 0 : offset[n - 1] + length[n - 1];
        if (total * 4 != (tokens == MemorySegment.NULL ? 0 : tokens.byteSize())) {
            throw new IllegalStateException(dir + ": token cache is inconsistent (index says " + total + " tokens); delete it to rebuild");
        }
    }

    /** The default cache directory for a corpus path. */
    public static Path defaultDir(Path data) {
        Path abs = data.toAbsolutePath().normalize();
        Path parent = abs.getParent();
        if (parent != null && Files.isWritable(parent)) return parent.resolve(abs.getFileName() + ".brt4j-cache");
        return Path.of(System.getProperty("user.home"), ".cache", "brt4j", abs.getFileName() + "-" + sha256(abs.toString()).substring(0, 12));
    }

    /**
     * Opens the cache of {@code data} for {@code tokenizer}, building it first where it is missing or stale.
     * {@code cacheDir} null means {@link #defaultDir}. Progress lines go to {@code log}.
     */
    public static TokenCache open(Path data, TextTokenizer tokenizer, Path cacheDir, Consumer<String> log) {
        List<Path> files = Corpus.files(data);      // refuses a missing path before anything else
        Path dir = cacheDir != null ? cacheDir : defaultDir(data);
        String key = key(data, files, tokenizer);
        try {
            CheckpointDirectory.recover(dir);
            Path meta = dir.resolve("meta.json");
            if (Files.isRegularFile(meta)) {
                JsonNode m = JSON.readTree(meta.toFile());
                if (key.equals(m.path("key").asText())) {
                    return new TokenCache(dir, key);
                }
                log.accept("token cache " + dir + " is stale (data or tokenizer changed); rebuilding");
            }
            build(data, tokenizer, dir, key, log);
            return new TokenCache(dir, key);
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot read or write the token cache (" + e.getMessage() + ")", e);
        }
    }

    private static void build(Path data, TextTokenizer tokenizer, Path dir, String key, Consumer<String> log) throws IOException {
        long t0 = System.nanoTime();
        try (CheckpointDirectory cd = CheckpointDirectory.begin(dir)) {
            long[] counts = new long[4]; // docs, tokens, bytes, empty docs
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            try (OutputStream tok = new BufferedOutputStream(Files.newOutputStream(cd.dir().resolve("tokens.bin")), 1 << 20);
                 OutputStream idx = new BufferedOutputStream(Files.newOutputStream(cd.dir().resolve("docs.bin")), 1 << 16)) {
                ByteBuffer rec = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
                Corpus.read(data, doc -> {
                    try {
                        if (doc.utf8().length == 0) { counts[3]++; return; }
                        int[] ids = tokenizer.encode(doc.utf8());
                        if (ids.length == 0) { counts[3]++; return; }
                        rec.clear();
                        rec.putLong(counts[1]).putLong(ids.length).putLong(doc.utf8().length).putLong(Split.hash(doc.name()));
                        idx.write(rec.array());
                        for (int id : ids) {
                            if (buf.remaining() < 4) { tok.write(buf.array(), 0, buf.position()); buf.clear(); }
                            buf.putInt(id);
                        }
                        counts[0]++;
                        counts[1] += ids.length;
                        counts[2] += doc.utf8().length;
                        if (counts[0] % 1000 == 0) log.accept("tokenized " + counts[0] + " documents, " + counts[1] + " tokens");
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
                tok.write(buf.array(), 0, buf.position());
            }
            if (counts[0] == 0) {
                throw new IllegalArgumentException("data " + data + " holds no non-empty document (empty corpus)");
            }
            ObjectNode m = JSON.createObjectNode();
            m.put("format", FORMAT).put("key", key).put("data", data.toAbsolutePath().toString())
                    .put("tokenizer", tokenizer.describe()).put("documents", counts[0]).put("tokens", counts[1])
                    .put("bytes", counts[2]).put("empty_documents_dropped", counts[3]);
            Files.writeString(cd.dir().resolve("meta.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(m));
            cd.commit();
            log.accept(String.format("token cache %s: %d documents, %d tokens, %d bytes (%.1f s)", dir, counts[0], counts[1],
                    counts[2], (System.nanoTime() - t0) / 1e9));
        }
    }

    private static String key(Path data, List<Path> files, TextTokenizer tokenizer) {
        StringBuilder sb = new StringBuilder("brt4j-token-cache/").append(FORMAT).append('\n').append(tokenizer.fingerprint()).append('\n');
        Path root = data.toAbsolutePath().normalize();
        for (Path f : files) {
            try {
                sb.append(f.toAbsolutePath().normalize().equals(root) ? f.getFileName() : root.relativize(f.toAbsolutePath().normalize()))
                        .append('\t').append(Files.size(f)).append('\t').append(Files.getLastModifiedTime(f).toMillis()).append('\n');
            } catch (IOException e) {
                throw new UncheckedIOException(f + ": cannot read its size (" + e.getMessage() + ")", e);
            }
        }
        return sha256(sb.toString());
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public Path dir() { return dir; }

    public String key() { return key; }

    @Override public int docCount() { return offset.length; }

    @Override public long length(int doc) { return length[doc]; }

    @Override public long bytes(int doc) { return bytes[doc]; }

    @Override public long nameHash(int doc) { return hash[doc]; }

    public long totalTokens() { return offset.length == 0 ? 0 : offset[offset.length - 1] + length[offset.length - 1]; }

    @Override public void read(int doc, long from, int[] dst, int off, int len) {
        if (from < 0 || from + len > length[doc]) throw new IndexOutOfBoundsException("tokens [" + from + ", " + (from + len) + ") of document " + doc);
        MemorySegment.copy(tokens, ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), (offset[doc] + from) * 4, dst, off, len);
    }

    @Override public void close() { arena.close(); }
}
