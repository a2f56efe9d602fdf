package brt4j.tokenizer;

import java.io.PrintStream;

/**
 * A one-line progress bar on a terminal stream, redrawn in place at most ten times a second; silent when given
 * null. Training reports through it so a long run shows where it is.
 */
public final class ProgressBar {
    private final PrintStream out;
    private final long startNanos = System.nanoTime();
    private long lastDraw;
    private String stage = "";

    public ProgressBar(PrintStream out) {
        this.out = out;
    }

    public static ProgressBar silent() {
        return new ProgressBar(null);
    }

    /** Shows {@code fraction} (0 to 1) of the whole job done, with a short note on the current stage. */
    public synchronized void update(String stage, double fraction, String note) {
        if (out == null) return;
        long now = System.nanoTime();
        if (stage.equals(this.stage) && now - lastDraw < 100_000_000L && fraction < 1) return;
        if (!stage.equals(this.stage) && !this.stage.isEmpty()) out.println();
        this.stage = stage;
        lastDraw = now;
        int width = 30, filled = (int) Math.round(Math.max(0, Math.min(1, fraction)) * width);
        double seconds = (now - startNanos) / 1e9;
        out.printf("\r%-18s [%s%s] %3d%% %6.1fs  %-40s", stage, "=".repeat(filled), " ".repeat(width - filled),
                (int) Math.round(fraction * 100), seconds, note);
        out.flush();
    }

    public synchronized void finish(String message) {
        if (out == null) return;
        if (!stage.isEmpty()) out.println();
        out.println(message);
        out.flush();
        stage = "";
    }
}
