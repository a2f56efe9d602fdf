package brt4j.cli;

import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** `brt trace --compare` over the golden fixtures, on the fast CPU backend and the float64 oracle. */
class TraceCommandTest {
    @TempDir Path tmp;

    static Path fixture(String name) {
        for (String c : new String[]{System.getProperty("brt.shared", ""), "../../shared", "../shared"}) {
            if (c.isEmpty()) continue;
            Path p = Path.of(c, "fixtures", "brt", name);
            if (Files.isDirectory(p)) return p;
        }
        assumeTrue(false, "golden fixtures not found; skipping");
        return null;
    }

    record Run(int exit, String out, String err) {}

    static Run brt(String... args) {
        PrintStream oldOut = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        StringWriter err = new StringWriter();
        try {
            System.setOut(new PrintStream(buf, true));
            var cl = Brt.commandLine();
            cl.setErr(new PrintWriter(err, true));
            int exit = cl.execute(args);
            return new Run(exit, buf.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
        }
    }

    @ParameterizedTest
    @CsvSource({"rec_fixed_skip,float32,cpu", "feedback_fixed_skip,float32,cpu", "slide,float32,cpu", "xl,float32,cpu",
            "rec_fixed_skip,float64,cpu", "feedback_fixed_skip,float64,cpu", "slide,float64,cpu", "xl,float64,cpu",
            "rec_fixed_skip,float32,opencl", "feedback_fixed_skip,float32,opencl", "slide,float32,opencl", "xl,float32,opencl",
            "rec_fixed_skip,float32,cuda", "feedback_fixed_skip,float32,cuda", "slide,float32,cuda", "xl,float32,cuda"})
    void goldenFixturesPass(String name, String dtype, String device) {
        Path dir = fixture(name);
        if (!device.equals("cpu")) assumeTrue(available(device), "no " + device + " device here; skipping");
        Path out = tmp.resolve("trace.safetensors");
        Run r = brt("trace", "--checkpoint", dir.toString(), "--inputs", dir.resolve("inputs.safetensors").toString(),
                "--compare", dir.resolve("expected.safetensors").toString(), "--out", out.toString(), "--device", device, "--dtype", dtype);
        assertEquals(0, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("0 failed"), r.out());
        try (SafeTensors t = SafeTensors.open(out)) {
            assertTrue(t.contains("seg1.logits") && t.contains("seg0.hidden.layers.1"));
            assertEquals(dtype.equals("float64") ? DType.F64 : DType.F32, t.dtype("seg0.logits"));
        }
    }

    /** Whether a GPU backend of this kind opens here (PoCL in CI gives OpenCL on the CPU). */
    static boolean available(String device) {
        try (var b = brt4j.gpu.Devices.open(device, "fp32", new PrintStream(java.io.OutputStream.nullOutputStream()))) {
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Test
    void aMismatchExitsWithOneAndNamesTheTensor() throws Exception {
        Path dir = fixture("slide");
        // Expected outputs with one logit changed.
        Path bad = tmp.resolve("bad.safetensors");
        SafeTensorsWriter w = new SafeTensorsWriter();
        try (SafeTensors e = SafeTensors.open(dir.resolve("expected.safetensors"))) {
            for (var info : e.infos()) {
                if (info.dtype() == DType.I32) { w.add(info.name(), DType.I32, e.ints(info.name()), info.shape()); continue; }
                float[] v = e.floats(info.name());
                if (info.name().equals("seg1.logits")) v[5] += 0.01f;
                w.add(info.name(), DType.F32, v, info.shape());
            }
        }
        w.write(bad);
        Run r = brt("trace", "--checkpoint", dir.toString(), "--inputs", dir.resolve("inputs.safetensors").toString(),
                "--compare", bad.toString(), "--device", "cpu");
        assertEquals(1, r.exit(), r.out() + r.err());
        assertTrue(r.out().contains("FAIL seg1.logits") && r.out().contains("first mismatch at [0, 0, 5]"), r.out());
    }

    /** Writes an inputs file with the given tensors (I32 unless named *.f32). */
    private Path inputs(Object... nameShapeData) {
        SafeTensorsWriter w = new SafeTensorsWriter();
        for (int i = 0; i < nameShapeData.length; i += 3) {
            String name = (String) nameShapeData[i];
            long[] shape = (long[]) nameShapeData[i + 1];
            if (nameShapeData[i + 2] instanceof float[] f) w.add(name, DType.F32, f, shape);
            else w.add(name, DType.I32, (int[]) nameShapeData[i + 2], shape);
        }
        Path p = tmp.resolve("in" + System.nanoTime() + ".safetensors");
        w.write(p);
        return p;
    }

    private String refusal(Path in) {
        Path dir = fixture("slide");
        Run r = brt("trace", "--checkpoint", dir.toString(), "--inputs", in.toString(), "--out", tmp.resolve("o.safetensors").toString(),
                "--device", "cpu");
        assertEquals(2, r.exit(), r.out() + r.err());
        assertTrue(r.err().lines().count() == 1, "one sentence: " + r.err());
        return r.err();
    }

    @Test
    void badInputsAreRefusedNamingTheTensor() {
        int[] ok = new int[2 * 8];
        java.util.Arrays.fill(ok, 5);
        assertTrue(refusal(inputs("seg0.tokens", new long[]{2, 8}, new float[16], "seg0.start", new long[]{2}, new int[]{1, 1}))
                .contains("seg0.tokens must be I32"));
        int[] outOfRange = ok.clone();
        outOfRange[3] = 97;
        assertTrue(refusal(inputs("seg0.tokens", new long[]{2, 8}, outOfRange, "seg0.start", new long[]{2}, new int[]{1, 1}))
                .contains("seg0.tokens[0, 3] = 97 is outside the vocabulary"));
        assertTrue(refusal(inputs("seg0.tokens", new long[]{2, 8}, ok, "seg0.start", new long[]{2}, new int[]{1, 1},
                "seg1.tokens", new long[]{1, 8}, new int[8], "seg1.start", new long[]{1}, new int[]{0}))
                .contains("seg1.tokens has batch 1, but seg0.tokens has 2"));
        assertTrue(refusal(inputs("seg0.tokens", new long[]{2, 8}, ok)).contains("missing seg0.start"));
    }
}
