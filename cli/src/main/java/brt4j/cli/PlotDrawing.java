package brt4j.cli;

import brt4j.train.MetricsLog;
import com.fasterxml.jackson.databind.JsonNode;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The drawing behind {@link Plots} (JFreeChart, java.desktop). Kept apart so that loading {@link Plots} needs no AWT
 * class: in a runtime without java.desktop (a jlink'd one) this class fails to load inside Plots' try, and the plot
 * is a warning rather than the end of a training run.
 */
final class PlotDrawing {
    static { System.setProperty("java.awt.headless", "true"); }

    private PlotDrawing() {}

    static void drawLoss(Path metrics, Path png) {
        if (!Files.isRegularFile(metrics)) return;
        XYSeries train = new XYSeries("train bits/token"), val = new XYSeries("validation bits/token");
        for (JsonNode l : MetricsLog.read(metrics)) {
            (l.path("split").asText().equals("val") ? val : train).add(l.path("step").asDouble(), l.path("bits_per_token").asDouble());
        }
        XYSeriesCollection ds = new XYSeriesCollection();
        ds.addSeries(train);
        if (val.getItemCount() > 0) ds.addSeries(val);
        write(chart("Training", "step", "bits per token", ds, val.getItemCount() > 0 ? 1 : -1), png);
    }

    static void drawLines(String title, String x, String y, Map<String, double[][]> series, Path png) {
        XYSeriesCollection ds = new XYSeriesCollection();
        series.forEach((name, pts) -> {
            XYSeries s = new XYSeries(name);
            for (double[] p : pts) if (Double.isFinite(p[1])) s.add(p[0], p[1]);
            ds.addSeries(s);
        });
        write(chart(title, x, y, ds, -1), png);
    }

    private static JFreeChart chart(String title, String x, String y, XYSeriesCollection ds, int shapesFor) {
        JFreeChart ch = ChartFactory.createXYLineChart(title, x, y, ds, PlotOrientation.VERTICAL, true, false, false);
        XYPlot plot = ch.getXYPlot();
        plot.setBackgroundPaint(Color.WHITE);
        plot.setDomainGridlinePaint(Color.LIGHT_GRAY);
        plot.setRangeGridlinePaint(Color.LIGHT_GRAY);
        plot.getRangeAxis().setAutoRange(true);
        ((org.jfree.chart.axis.NumberAxis) plot.getRangeAxis()).setAutoRangeIncludesZero(false);
        XYLineAndShapeRenderer r = new XYLineAndShapeRenderer(true, false);
        Color[] colors = {new Color(0x1f77b4), new Color(0x9ecae1), new Color(0xd62728), new Color(0xfc9272),
                new Color(0x2ca02c), new Color(0xff7f0e)};
        for (int i = 0; i < ds.getSeriesCount(); i++) {
            boolean reference = ds.getSeriesKey(i).toString().startsWith("(");   // reference levels: grey, dashed
            r.setSeriesPaint(i, reference ? Color.GRAY : colors[i % colors.length]);
            r.setSeriesStroke(i, reference ? new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[]{6f, 4f}, 0f)
                    : new BasicStroke(2f));
            if (i == shapesFor) r.setSeriesShapesVisible(i, true);
        }
        plot.setRenderer(r);
        return ch;
    }

    private static void write(JFreeChart ch, Path png) {
        try {
            ChartUtils.saveChartAsPNG(png.toFile(), ch, 900, 540);
        } catch (IOException e) {
            throw new UncheckedIOException(png + ": cannot write the plot (" + e.getMessage() + ")", e);
        }
    }

}
