package brt4j.data;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Reads the documents of a corpus, streaming, in a deterministic order. A corpus is a path to:
 * <ul>
 *   <li>a folder: every regular file below it, in sorted order (hidden files and folders skipped), each read by its
 *       kind as below;</li>
 *   <li>JSON Lines ({@code .jsonl}, {@code .jsonl.gz}, {@code .json.gz}): one document per line, its {@code text}
 *       field (the layout PG19 and most corpora are shipped in);</li>
 *   <li>a zip ({@code .zip}, {@code .jar}): one document per file entry (a source-code corpus; a JDK's
 *       {@code lib/src.zip});</li>
 *   <li>any other file: one document ({@code .gz}: gunzipped).</li>
 * </ul>
 * Empty documents are passed on (the token cache drops them); text that is not valid UTF-8 is refused with the name
 * of the file (and line or entry) and the byte offset.
 */
public final class Corpus {
    private static final ObjectMapper JSON = new ObjectMapper();

    private Corpus() {}

    /** The files a corpus path stands for, sorted; refuses a missing path or a folder with no file. */
    public static List<Path> files(Path root) {
        if (!Files.exists(root)) throw new IllegalArgumentException("data path " + root + " does not exist");
        if (Files.isRegularFile(root)) return List.of(root);
        if (!Files.isDirectory(root)) throw new IllegalArgumentException("data path " + root + " is neither a file nor a folder");
        List<Path> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            s.filter(Files::isRegularFile).filter(p -> !hidden(root, p)).sorted().forEach(out::add);
        } catch (IOException e) {
            throw new UncheckedIOException(root + ": cannot list the folder (" + e.getMessage() + ")", e);
        }
        if (out.isEmpty()) throw new IllegalArgumentException("data folder " + root + " holds no files");
        return out;
    }

    private static boolean hidden(Path root, Path p) {
        for (Path part : root.relativize(p)) if (part.toString().startsWith(".")) return true;
        return false;
    }

    /** Passes every document of the corpus to {@code sink}, in order. */
    public static void read(Path root, Consumer<Document> sink) {
        for (Path f : files(root)) {
            String name = Files.isDirectory(root) ? root.relativize(f).toString() : f.getFileName().toString();
            try {
                readFile(f, name, sink);
            } catch (IOException e) {
                throw new UncheckedIOException(f + ": cannot read (" + e.getMessage() + ")", e);
            }
        }
    }

    /** All documents, in memory (tests, small corpora). */
    public static List<Document> readAll(Path root) {
        List<Document> docs = new ArrayList<>();
        read(root, docs::add);
        return docs;
    }

    private static void readFile(Path f, String name, Consumer<Document> sink) throws IOException {
        String lower = f.getFileName().toString().toLowerCase();
        if (lower.endsWith(".jsonl") || lower.endsWith(".jsonl.gz") || lower.endsWith(".json.gz") || lower.endsWith(".ndjson")) {
            try (InputStream in = open(f, lower.endsWith(".gz"))) {
                readJsonLines(in, f.toString(), name, sink);
            }
        } else if (lower.endsWith(".zip") || lower.endsWith(".jar")) {
            // a damaged archive reads as one without entries through the stream: its directory says what is wrong
            try (java.util.zip.ZipFile check = new java.util.zip.ZipFile(f.toFile())) {
                check.size();
            } catch (java.util.zip.ZipException e) {
                throw new IllegalArgumentException(f + ": not a zip file (" + e.getMessage() + ")");
            }
            try (ZipInputStream zip = new ZipInputStream(new BufferedInputStream(Files.newInputStream(f), 1 << 16))) {
                for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                    if (e.isDirectory()) continue;
                    byte[] bytes = zip.readAllBytes();
                    String docName = name + "!" + e.getName();
                    checkUtf8(bytes, f + " entry " + e.getName());
                    sink.accept(new Document(docName, bytes));
                }
            }
        } else {
            byte[] bytes;
            try (InputStream in = open(f, lower.endsWith(".gz"))) {
                bytes = in.readAllBytes();
            }
            checkUtf8(bytes, f.toString());
            sink.accept(new Document(name, bytes));
        }
    }

    private static InputStream open(Path f, boolean gz) throws IOException {
        InputStream in = new BufferedInputStream(Files.newInputStream(f), 1 << 16);
        try {
            return gz ? new GZIPInputStream(in, 1 << 16) : in;
        } catch (java.util.zip.ZipException e) {
            in.close();
            throw new IllegalArgumentException(f + ": not a gzip file (" + e.getMessage() + ")");
        }
    }

    private static void readJsonLines(InputStream in, String file, String name, Consumer<Document> sink) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        long lineNo = 0;
        boolean more = true;
        while (more) {
            line.reset();
            int b;
            while ((b = in.read()) != -1 && b != '\n') line.write(b);
            more = b != -1;
            if (!more && line.size() == 0) break;
            lineNo++;
            byte[] bytes = line.toByteArray();
            if (isBlank(bytes)) continue;
            String where = file + " line " + lineNo;
            checkUtf8(bytes, where);
            JsonNode node;
            try {
                node = JSON.readTree(bytes);
            } catch (JacksonException e) {
                throw new IllegalArgumentException(where + ": not valid JSON (" + e.getOriginalMessage() + ")");
            }
            JsonNode text = node == null ? null : node.get("text");
            if (text == null || !text.isTextual()) {
                throw new IllegalArgumentException(where + ": no string field \"text\" (JSON Lines documents need one)");
            }
            sink.accept(new Document(name + ":" + lineNo, text.textValue().getBytes(StandardCharsets.UTF_8)));
        }
    }

    private static boolean isBlank(byte[] b) {
        for (byte x : b) if (x != ' ' && x != '\t' && x != '\r') return false;
        return true;
    }

    /** Refuses bytes that are not UTF-8, naming where they came from and the offset of the first bad byte. */
    static void checkUtf8(byte[] bytes, String where) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            dec.decode(in);
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(where + ": not valid UTF-8 (bad byte near offset " + firstBad(bytes) + ")");
        }
    }

    private static int firstBad(byte[] bytes) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        java.nio.CharBuffer out = java.nio.CharBuffer.allocate(bytes.length + 1);
        dec.decode(in, out, true);
        return in.position();
    }
}
