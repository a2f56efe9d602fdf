package brt4j.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static brt4j.cli.TraceCommandTest.brt;
import static brt4j.cli.TraceCommandTest.fixture;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `brt check` between the float64 oracle and the fast CPU backend: every tensor listed, the bound stated, the exit status. */
class CheckCommandTest {

    @Test
    void cpuAgainstOraclePassesAndSaysWhichBoundItUsed() {
        Path dir = fixture("slide");
        TraceCommandTest.Run r = brt("check", "--checkpoint", dir.toString(), "--devices", "reference,cpu");
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("ok   logits"), r.out());
        assertTrue(r.out().contains("grad "), r.out());
        assertTrue(r.out().contains("updated "), r.out());
        assertTrue(r.out().contains("PASS: "), r.out());
        assertTrue(r.out().contains("0 over the bound tol * max(1, max|expected|)"), r.out());
        assertTrue(r.out().contains("largest share of its bound"), r.out());
    }

    @Test
    void aToleranceNoBackendCanMeetFailsWithExitOne() {
        Path dir = fixture("slide");
        TraceCommandTest.Run r = brt("check", "--checkpoint", dir.toString(), "--devices", "reference,cpu", "--tolerance", "1e-15");
        assertEquals(1, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("FAIL: "), r.out());
    }

    @Test
    void oneDeviceIsRefusedInOneSentence() {
        TraceCommandTest.Run r = brt("check", "--checkpoint", fixture("slide").toString(), "--devices", "cpu");
        assertNotEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains("--devices takes two devices"), r.err());
    }

    @Test
    void aBatchOrToleranceBelowOneRowOrZeroIsRefused() {
        TraceCommandTest.Run b = brt("check", "--checkpoint", fixture("slide").toString(), "--devices", "cpu,cpu", "--batch", "0");
        assertTrue(b.err().contains("--batch must be positive, got 0"), b.err());
        TraceCommandTest.Run t = brt("check", "--checkpoint", fixture("slide").toString(), "--devices", "cpu,cpu", "--tolerance", "-1");
        assertTrue(t.err().contains("--tolerance must be positive, got -1.0"), t.err());
        assertNotEquals(0, t.exit());
    }
}
