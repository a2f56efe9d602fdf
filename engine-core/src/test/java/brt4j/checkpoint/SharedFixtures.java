package brt4j.checkpoint;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Locates the project's shared/ folder (golden fixtures): the {@code brt.shared} property that surefire sets, else
 * ../../shared or ../shared from the working directory. Tests that need it are skipped where it is absent.
 */
final class SharedFixtures {
    private SharedFixtures() {}

    static Path brtFixtures() {
        Path shared = null;
        String prop = System.getProperty("brt.shared");
        if (prop != null && Files.isDirectory(Path.of(prop, "fixtures", "brt"))) {
            shared = Path.of(prop);
        }
        for (String candidate : new String[] {"../../shared", "../shared"}) {
            if (shared == null && Files.isDirectory(Path.of(candidate, "fixtures", "brt"))) {
                shared = Path.of(candidate);
            }
        }
        assumeTrue(shared != null, "shared/fixtures/brt not found (set -Dbrt.shared=...)");
        return shared.resolve("fixtures").resolve("brt").normalize();
    }
}
