package brt4j.train;

import brt4j.model.ModelConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/** Every config file in the repository's configs/ loads; the paper ones agree with the presets of the same name. */
class ConfigsTest {
    @Test void everyConfigFileLoads() throws IOException {
        Path dir = Path.of("..", "configs");
        assertTrue(Files.isDirectory(dir), dir.toAbsolutePath().toString());
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) { files = s.filter(p -> p.toString().endsWith(".json")).toList(); }
        assertTrue(files.size() >= 20, "configs found: " + files.size());
        for (Path f : files) {
            ModelConfig c = ModelConfig.load(f);
            assertNotNull(c, f.toString());
        }
        assertEquals(ModelConfig.preset("Rec:fixed:skip"), ModelConfig.load(dir.resolve("paper/rec-fixed-skip.json")));
        assertEquals(ModelConfig.preset("Slide:13L"), ModelConfig.load(dir.resolve("paper/slide-13l.json")));
    }
}
