package brt4j.backend;

import brt4j.backend.cpu.CpuBackend;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The vector species is a static final constant, so a narrower width needs a fresh JVM: this test runs every test
 * of {@link CpuVsOracleTest} in child JVMs started with {@code -Dbrt.vector.bits=128} and {@code =256} (bounds
 * checks on), so the paths that 128-bit machines take are checked here too.
 */
class NarrowVectorWidthTest {

    @Test
    void oracleAgreementAt128And256Bits() throws Exception {
        for (int bits : new int[]{128, 256}) {
            if (bits >= CpuBackend.vectorBits()) continue;
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--add-modules", "jdk.incubator.vector", "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=2",
                    "-Dbrt.vector.bits=" + bits, "-XX:TieredStopAtLevel=1",
                    "-cp", System.getProperty("java.class.path"), NarrowVectorWidthTest.class.getName(), String.valueOf(bits)));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes());
            int rc = p.waitFor();
            assertEquals(0, rc, bits + "-bit run failed:\n" + output);
            assertTrue(output.contains("vector bits " + bits), output);
        }
    }

    /** The child: runs every @Test method of CpuVsOracleTest, exits 1 on the first failure. */
    public static void main(String[] args) throws Exception {
        System.out.println("vector bits " + CpuBackend.vectorBits());
        if (CpuBackend.vectorBits() != Integer.parseInt(args[0])) System.exit(2);
        int run = 0;
        for (Method m : CpuVsOracleTest.class.getDeclaredMethods()) {
            if (!m.isAnnotationPresent(Test.class)) continue;
            CpuVsOracleTest t = new CpuVsOracleTest();
            t.setUp();
            try {
                m.setAccessible(true);
                m.invoke(t);
                run++;
            } catch (java.lang.reflect.InvocationTargetException e) {
                System.out.println("FAILED " + m.getName() + ": " + e.getCause());
                System.exit(1);
            } finally {
                t.tearDown();
            }
        }
        System.out.println("passed " + run + " tests");
    }
}
