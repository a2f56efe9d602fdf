package brt4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TokenCacheTest {
    @TempDir Path tmp;

    /** A tokenizer that counts its calls (to see whether a cache was rebuilt). */
    static final class Counting implements TextTokenizer {
        int calls;
        final String salt;
        Counting(String salt) { this.salt = salt; }
        @Override public int vocabSize() { return ByteTokenizer.VOCAB; }
        @Override public int[] encode(byte[] utf8) { calls++; return new ByteTokenizer().encode(utf8); }
        @Override public byte[] decode(int[] ids) { return new ByteTokenizer().decode(ids); }
        @Override public String fingerprint() { return "counting/" + salt; }
        @Override public String describe() { return "counting"; }
    }

    @Test void buildsOnceThenReopensAndRebuildsWhenDataOrTokenizerChange() throws IOException {
        Path data = Files.createDirectories(tmp.resolve("corpus"));
        Files.writeString(data.resolve("a.txt"), "hello");
        Files.writeString(data.resolve("b.txt"), "");
        Files.writeString(data.resolve("c.txt"), "xy");
        List<String> log = new ArrayList<>();
        Counting tok = new Counting("1");
        try (TokenCache c = TokenCache.open(data, tok, null, log::add)) {
            assertEquals(2, c.docCount(), "the empty document is dropped");
            assertEquals(5, c.length(0));
            assertEquals(2, c.length(1));
            assertEquals(2, c.bytes(1));
            int[] t = new int[3];
            c.read(0, 1, t, 0, 3);
            assertArrayEquals(new ByteTokenizer().encode("ell".getBytes()), t);
            assertEquals(tmp.resolve("corpus.brt4j-cache"), c.dir());
        }
        assertEquals(2, tok.calls, "empty documents are not tokenized");
        try (TokenCache c = TokenCache.open(data, tok, null, log::add)) {
            assertEquals(2, c.docCount());
        }
        assertEquals(2, tok.calls, "a second open reads the cache");
        Files.writeString(data.resolve("c.txt"), "xyz");
        Files.setLastModifiedTime(data.resolve("c.txt"), FileTime.fromMillis(System.currentTimeMillis() + 5000));
        try (TokenCache c = TokenCache.open(data, tok, null, log::add)) {
            assertEquals(3, c.length(1));
        }
        assertEquals(4, tok.calls, "changed data rebuilds");
        try (TokenCache c = TokenCache.open(data, new Counting("2"), null, log::add)) {
            assertEquals(2, c.docCount());
        }
        assertTrue(log.stream().anyMatch(l -> l.contains("stale")), log.toString());
    }

    @Test void emptyCorpusIsRefused() throws IOException {
        Path data = Files.createDirectories(tmp.resolve("c"));
        Files.writeString(data.resolve("a.txt"), "");
        var e = assertThrows(IllegalArgumentException.class, () -> TokenCache.open(data, new ByteTokenizer(), null, s -> {}));
        assertTrue(e.getMessage().contains("empty corpus"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("c.brt4j-cache")), "no half cache left");
    }
}
