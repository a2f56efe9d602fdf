package brt4j.backend;

/** {@link CpuVsOracleTest} on one thread: the serial paths of every kernel. */
public class CpuVsOracleSingleThreadTest extends CpuVsOracleTest {
    @Override protected int threads() { return 1; }
}
