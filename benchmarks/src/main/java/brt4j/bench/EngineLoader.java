package brt4j.bench;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The class loader of one engine build in the same-JVM A/B harnesses (train.StepAB, GemmAB): the engine (an
 * engine-core jar or classes folder), then benchmarks/target/classes and the libraries in benchmarks/target/lib
 * except their own engine-core jar, over the platform loader, so that no brt4j class comes from the application
 * class path. Run from the repository root, after building the benchmarks module.
 */
public final class EngineLoader {
    private EngineLoader() {}

    public static ClassLoader of(Path engine) throws IOException {
        if (!Files.exists(engine)) throw new IllegalArgumentException("no engine at " + engine);
        List<URL> urls = new ArrayList<>(List.of(engine.toUri().toURL(), Path.of("benchmarks/target/classes").toUri().toURL()));
        try (DirectoryStream<Path> libs = Files.newDirectoryStream(Path.of("benchmarks/target/lib"), "*.jar")) {
            for (Path p : libs) if (!p.getFileName().toString().startsWith("brt4j-engine-core")) urls.add(p.toUri().toURL());
        } catch (IOException e) {
            throw new IllegalStateException("benchmarks/target/lib: build the benchmarks module first", e);
        }
        return new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
    }
}
