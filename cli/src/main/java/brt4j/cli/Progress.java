package brt4j.cli;

import brt4j.train.TrainListener;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.nio.file.Path;
import java.text.DecimalFormat;

/**
 * The training progress bar (step, loss, tokens/s, ETA) and the plots redrawn at each validation; bars counted in
 * tokens. Speeds have explicit formats: the library's default ("#.0") printed 0.2 steps/s as ".2 steps/s".
 */
class Progress implements TrainListener, AutoCloseable {
    private final String name;
    private final Path runDir;
    private ProgressBar bar;
    private double lastVal = Double.NaN;
    private Step last;

    /** A bar for long work counted in tokens (a prompt read, an evaluation), on stderr. */
    static ProgressBar tokens(String task, long total) {
        return new ProgressBarBuilder().setTaskName(task).setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setUnit(" tokens", 1).showSpeed(new DecimalFormat("#,##0")).setUpdateIntervalMillis(500).setMaxRenderedLength(120).build();
    }

    Progress(String name, Path runDir) {
        this.name = name;
        this.runDir = runDir;
    }

    @Override public void started(long step, long steps) {
        bar = new ProgressBarBuilder().setTaskName(name).setInitialMax(steps).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500).setMaxRenderedLength(140).showSpeed(new DecimalFormat("0.00")).setUnit(" steps", 1).startsFrom(step, java.time.Duration.ZERO)
                .continuousUpdate().build();
    }

    @Override public void step(Step s) {
        last = s;
        bar.stepTo(s.step());
        describe();
    }

    @Override public void validated(Validation v) {
        lastVal = v.bitsPerToken();
        if (bar != null && last != null) describe();   // the step's line came before its validation
        if (runDir != null) Plots.loss(runDir.resolve(brt4j.train.Trainer.METRICS), runDir.resolve("loss.png"));
    }

    private void describe() {
        bar.setExtraMessage(String.format(" loss %.3f bits/token%s, %,.0f tok/s", last.bitsPerToken(),
                Double.isNaN(lastVal) ? "" : String.format(", val %.3f", lastVal), last.tokensPerSecond()));
    }

    @Override public void message(String line) {
        if (bar != null) bar.pause();
        System.err.println(line);
        if (bar != null) bar.resume();
    }

    @Override public void close() {
        if (bar != null) bar.close();
    }
}
