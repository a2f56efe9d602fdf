package brt4j.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class CorpusTest {
    @TempDir Path tmp;

    static String text(Document d) { return new String(d.utf8(), StandardCharsets.UTF_8); }

    @Test void folderOfTextFilesInSortedOrderSkippingHidden() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("books"));
        Files.writeString(dir.resolve("b.txt"), "second");
        Files.writeString(dir.resolve("a.txt"), "first é");
        Files.createDirectories(dir.resolve("sub"));
        Files.writeString(dir.resolve("sub/c.md"), "third");
        Files.writeString(dir.resolve(".hidden"), "no");
        Files.writeString(dir.resolve("empty.txt"), "");
        List<Document> docs = Corpus.readAll(dir);
        assertEquals(List.of("a.txt", "b.txt", "empty.txt", "sub/c.md"), docs.stream().map(Document::name).toList());
        assertEquals("first é", text(docs.get(0)));
        assertEquals(0, docs.get(2).utf8().length);
    }

    @Test void jsonLinesPlainAndGzip() throws IOException {
        String lines = "{\"text\": \"one\", \"id\": 1}\n\n{\"text\": \"two\\nlines\"}\n{\"text\": \"\"}\n";
        Path plain = tmp.resolve("c.jsonl");
        Files.writeString(plain, lines);
        Path gz = tmp.resolve("c.jsonl.gz");
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(gz))) { o.write(lines.getBytes(StandardCharsets.UTF_8)); }
        for (Path p : List.of(plain, gz)) {
            List<Document> docs = Corpus.readAll(p);
            assertEquals(List.of("one", "two\nlines", ""), docs.stream().map(CorpusTest::text).toList(), p.toString());
            assertTrue(docs.get(1).name().endsWith(":3"), docs.get(1).name());
        }
    }

    @Test void jsonLineWithoutTextIsRefusedWithFileAndLine() throws IOException {
        Path p = tmp.resolve("bad.jsonl");
        Files.writeString(p, "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n");
        var e = assertThrows(IllegalArgumentException.class, () -> Corpus.readAll(p));
        assertTrue(e.getMessage().contains("bad.jsonl line 2") && e.getMessage().contains("text"), e.getMessage());
    }

    @Test void zipOfSourceFiles() throws IOException {
        Path z = tmp.resolve("src.zip");
        try (ZipOutputStream zo = new ZipOutputStream(Files.newOutputStream(z))) {
            zo.putNextEntry(new ZipEntry("java.base/"));
            zo.putNextEntry(new ZipEntry("java.base/A.java"));
            zo.write("class A {}".getBytes(StandardCharsets.UTF_8));
            zo.putNextEntry(new ZipEntry("java.base/B.java"));
            zo.write("class B {}".getBytes(StandardCharsets.UTF_8));
        }
        List<Document> docs = Corpus.readAll(z);
        assertEquals(List.of("src.zip!java.base/A.java", "src.zip!java.base/B.java"), docs.stream().map(Document::name).toList());
        assertEquals("class B {}", text(docs.get(1)));
        // a damaged archive is named as one, not read as an empty corpus
        Path broken = Files.write(tmp.resolve("broken.zip"), new byte[]{'P', 'K', 3, 4, 'x', 'y'});
        var e = assertThrows(IllegalArgumentException.class, () -> Corpus.readAll(broken));
        assertTrue(e.getMessage().startsWith(broken + ": not a zip file"), e.getMessage());
    }

    @Test void nonUtf8IsReportedWithTheFileName() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("d"));
        Files.writeString(dir.resolve("good.txt"), "fine");
        Files.write(dir.resolve("latin1.txt"), new byte[]{'c', 'a', 'f', (byte) 0xe9, ' ', 'x'});
        var e = assertThrows(IllegalArgumentException.class, () -> Corpus.readAll(dir));
        assertTrue(e.getMessage().contains("latin1.txt") && e.getMessage().contains("UTF-8") && e.getMessage().contains("offset 3"), e.getMessage());

        Path z = tmp.resolve("bad.zip");
        try (ZipOutputStream zo = new ZipOutputStream(Files.newOutputStream(z))) {
            zo.putNextEntry(new ZipEntry("X.java"));
            zo.write(new byte[]{(byte) 0xff});
        }
        var e2 = assertThrows(IllegalArgumentException.class, () -> Corpus.readAll(z));
        assertTrue(e2.getMessage().contains("bad.zip entry X.java"), e2.getMessage());
    }

    @Test void missingPathAndEmptyFolderAreOneSentence() throws IOException {
        var e = assertThrows(IllegalArgumentException.class, () -> Corpus.files(tmp.resolve("nope")));
        assertEquals("data path " + tmp.resolve("nope") + " does not exist", e.getMessage());
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Corpus.files(empty)).getMessage().contains("holds no files"));
    }
}
