package brt4j.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * PNG plots (JFreeChart, headless): training and validation loss of a run; the demo's comparison. This class
 * references no AWT type: the drawing is in {@link PlotDrawing}, loaded inside the try below, so a runtime without
 * java.desktop gets a warning instead of a NoClassDefFoundError at the caller.
 */
final class Plots {
    private Plots() {}

    /** loss.png from metrics.jsonl; a plot that cannot be drawn (no java.desktop in a trimmed runtime) is a warning. */
    static void loss(Path metrics, Path png) {
        try {
            PlotDrawing.drawLoss(metrics, png);
        } catch (LinkageError | RuntimeException e) {
            System.err.println("brt: plot " + png + " not written (" + e + ")");
        }
    }

    /** As {@link #loss}, for any lines. */
    static void lines(String title, String x, String y, Map<String, double[][]> series, Path png) {
        try {
            PlotDrawing.drawLines(title, x, y, series, png);
        } catch (LinkageError | RuntimeException e) {
            System.err.println("brt: plot " + png + " not written (" + e + ")");
        }
    }

    static double[][] points(List<double[]> pts) { return pts.toArray(new double[0][]); }
}
