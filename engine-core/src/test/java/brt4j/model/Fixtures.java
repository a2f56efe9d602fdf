package brt4j.model;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Finds ../shared/fixtures/brt (the golden outputs) from the build, as surefire's brt.shared property says. */
public final class Fixtures {
    private Fixtures() {}

    public static Path root() {
        for (String candidate : new String[]{System.getProperty("brt.shared", ""), "../../shared", "../shared", "/work/shared"}) {
            if (candidate.isEmpty()) continue;
            Path p = Path.of(candidate, "fixtures", "brt");
            if (Files.isDirectory(p)) return p.toAbsolutePath().normalize();
        }
        assumeTrue(false, "golden fixtures not found (../shared/fixtures/brt); skipping");
        return null;
    }

    public static Path dir(String name) { return root().resolve(name); }
}
