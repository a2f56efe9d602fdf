package brt4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Input handling shared by {@code brt tokenizer encode} and {@code decode}: files in order, or standard input. */
final class TokenizerIo {
    private TokenizerIo() {
    }

    static InputStream open(List<Path> files) throws IOException {
        if (files == null || files.isEmpty()) return System.in;
        List<InputStream> streams = new ArrayList<>();
        for (Path f : files) {
            if (!Files.isRegularFile(f)) throw new NoSuchFileException(f.toString(), null, "input file not found");
            streams.add(Files.newInputStream(f));
        }
        return new SequenceInputStream(Collections.enumeration(streams));
    }

    static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }
}
