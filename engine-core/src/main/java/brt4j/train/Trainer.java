package brt4j.train;

import brt4j.autograd.Graph;
import brt4j.autograd.Var;
import brt4j.backend.Backend;
import brt4j.backend.CounterRng;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.checkpoint.DType;
import brt4j.checkpoint.SafeTensors;
import brt4j.checkpoint.SafeTensorsWriter;
import brt4j.data.DocumentStreams;
import brt4j.data.Split;
import brt4j.data.TokenSource;
import brt4j.eval.EvalResult;
import brt4j.eval.Evaluator;
import brt4j.model.BrtModel;
import brt4j.model.Memory;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.SegmentResult;
import brt4j.tensor.Tensor;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * Trains a model by truncated backpropagation over segments (spec §1.2, §2.2, §2.3), top to bottom:
 * <pre>
 *   for each optimizer step:
 *     for each of A micro-batches:  next segment of its B streams -> forward (carrying its XL cache and state,
 *                                   reset at document starts) -> backward (adds d(mean loss)/dθ)
 *     grads /= A; global-norm clip; learning rate of the step; AdamW or Adafactor update
 *     metrics; every evalEvery steps validation; every checkpointEvery steps a checkpoint
 * </pre>
 * Everything the run depends on is in the checkpoint ({@code run/checkpoint}): parameters, optimizer moments, the
 * carried memory of every micro-batch, the streams' positions and the step (dropout masks and data order are
 * functions of the seed and the step). So {@link #restore} continues the identical run: the same losses, step for
 * step, as an uninterrupted one (on a deterministic backend; the CPU backend is).
 *
 * <p>A NaN or infinite loss or gradient norm stops the run ({@link TrainingDiverged}, naming the step) without
 * writing a checkpoint: the last good one stays. {@link #requestStop} (Ctrl-C) ends the run after the current step
 * with a checkpoint.
 */
public final class Trainer {
    public static final String CHECKPOINT = "checkpoint";
    public static final String METRICS = "metrics.jsonl";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final BrtModel model;
    private final Backend be;
    private final TrainOptions opt;
    private final TokenSource data;
    private final Split split;
    private final Path runDir;
    private final TrainListener listener;
    private final Consumer<Path> extras;
    private final Optimizer optimizer;
    private final DocumentStreams[] streams;
    private final Memory[] memory;
    private long step;
    private long tokens;
    private double elapsed;
    private long lastCheckpoint = -1;
    private volatile boolean stop;

    /** The outcome: the step reached, whether it was cut short by {@link #requestStop}, the last validation. */
    public record Result(long step, boolean interrupted, EvalResult lastValidation, Path checkpoint) {}

    /**
     * @param extras writes extra files (the tokenizer) into each checkpoint directory; may be null
     */
    public Trainer(BrtModel model, TrainOptions opt, TokenSource data, Path runDir, TrainListener listener, Consumer<Path> extras) {
        this.model = model;
        this.be = model.backend();
        this.opt = opt;
        this.data = data;
        this.runDir = runDir;
        this.listener = listener == null ? TrainListener.NONE : listener;
        this.extras = extras;
        this.split = Split.of(data, opt.validation(), opt.seed());
        if (split.train().length == 0) throw new IllegalArgumentException("no training documents (empty corpus)");
        this.optimizer = Optimizer.create(opt.optimizer(), model.parameters(), opt);
        ModelConfig c = model.config();
        this.streams = new DocumentStreams[opt.accumulate()];
        this.memory = new Memory[opt.accumulate()];
        for (int a = 0; a < streams.length; a++) {
            streams[a] = DocumentStreams.training(data, split.train(), opt.batch(), c.segment(), CounterRng.mix(opt.seed() * 1000 + a));
            memory[a] = Memory.empty(c, be, opt.batch());
        }
    }

    public Split split() { return split; }

    public long step() { return step; }

    public BrtModel model() { return model; }

    /** Ends the run after the current step, with a checkpoint (Ctrl-C). */
    public void requestStop() { stop = true; }

    public Path checkpointDir() { return runDir.resolve(CHECKPOINT); }

    /** Trains from the current step to {@code opt.steps()}. */
    public Result run() {
        try {
            Files.createDirectories(runDir);
        } catch (IOException e) {
            throw new UncheckedIOException(runDir + ": cannot create the run directory (" + e.getMessage() + ")", e);
        }
        EvalResult lastVal = null;
        listener.started(step, opt.steps());
        try (MetricsLog log = new MetricsLog(runDir.resolve(METRICS), step)) {
            long t0 = System.nanoTime();
            double elapsedBefore = elapsed;
            long tokensAtStart = tokens;
            while (step < opt.steps() && !stop) {
                double[] lossAndGrad = trainStep();
                step++;
                double seconds = (System.nanoTime() - t0) / 1e9;
                elapsed = elapsedBefore + seconds;
                double tps = seconds > 0 ? (tokens - tokensAtStart) / seconds : 0;
                double lr = opt.learningRate(step);
                TrainListener.Step s = new TrainListener.Step(step, opt.steps(), lossAndGrad[0],
                        lossAndGrad[0] * SegmentResult.BITS_PER_NAT, lr, lossAndGrad[1], tokens, tps, elapsed);
                listener.step(s);
                if (step % opt.logEvery() == 0 || step == opt.steps()) {
                    log.write(log.line().put("split", "train").put("step", step).put("loss", s.loss())
                            .put("bits_per_token", s.bitsPerToken()).put("lr", lr).put("grad_norm", s.gradNorm())
                            .put("tokens", tokens).put("tokens_per_s", Math.round(tps)).put("elapsed_s", Math.round(elapsed * 10) / 10.0));
                }
                boolean last = step == opt.steps();
                if ((opt.evalEvery() > 0 && step % opt.evalEvery() == 0) || last) {
                    EvalResult v = validate();
                    if (v != null) {
                        lastVal = v;
                        log.write(log.line().put("split", "val").put("step", step).put("bits_per_token", v.bitsPerToken())
                                .put("bits_per_byte", v.bitsPerByte()).put("tokens", v.tokens()));
                        listener.validated(new TrainListener.Validation(step, v.bitsPerToken(), v.bitsPerByte(), v.tokens()));
                    }
                }
                if ((opt.checkpointEvery() > 0 && step % opt.checkpointEvery() == 0) || last) saveCheckpoint();
            }
            if (stop && lastCheckpoint != step) saveCheckpoint();
        }
        return new Result(step, stop && step < opt.steps(), lastVal, checkpointDir());
    }

    /** One optimizer step; returns {mean loss in nats, gradient norm before clipping}. */
    private double[] trainStep() {
        long s = step + 1;
        model.parameters().zeroGrads();
        double lossSum = 0;
        long count = 0;
        for (int a = 0; a < streams.length; a++) {
            DocumentStreams.Segment seg = streams[a].next();
            try (Graph g = new Graph(be, true, CounterRng.mix(opt.seed() * 0x9e3779b97f4a7c15L + s * streams.length + a))) {
                SegmentResult r = model.forward(g, seg.batch(), memory[a], false);
                if (!Double.isFinite(r.lossSum())) throw diverged(s, "the loss is " + r.lossSum());
                g.backward();
                memory[a] = r.memory();
                lossSum += r.lossSum();
                count += r.tokenCount();
            }
            tokens += (long) opt.batch() * model.config().segment();
        }
        double sq = 0;
        for (Var v : model.parameters().vars()) if (v.grad() != null) sq += be.sumSquares(v.grad());
        double norm = Math.sqrt(sq) / streams.length;
        if (!Double.isFinite(norm)) throw diverged(s, "the gradient norm is " + norm);
        double factor = 1.0 / streams.length;
        if (opt.clip() > 0 && norm > opt.clip()) factor *= opt.clip() / norm;
        if (factor != 1) for (Var v : model.parameters().vars()) if (v.grad() != null) be.scale(v.grad(), factor);
        optimizer.update(opt.learningRate(s), s);
        return new double[]{count == 0 ? 0 : lossSum / count, norm};
    }

    private TrainingDiverged diverged(long s, String what) {
        String kept = lastCheckpoint >= 0 ? "the last good checkpoint (step " + lastCheckpoint + ") is kept at " + checkpointDir()
                : "no checkpoint was written yet";
        return new TrainingDiverged(s, "step " + s + ": " + what + "; training stopped, " + kept);
    }

    /** Bits per token and per byte on (a part of) the validation split; null when there is none. */
    public EvalResult validate() {
        if (split.validation().length == 0) return null;
        return Evaluator.evaluate(model, data, split.validation(), opt.batch(), opt.evalSegments(), model.config().window());
    }

    // ---------------------------------------------------------------- checkpoints

    public void saveCheckpoint() {
        try (CheckpointDirectory cd = CheckpointDirectory.begin(checkpointDir())) {
            Path dir = cd.dir();
            ModelCheckpoint.writeInto(dir, model);
            SafeTensorsWriter ow = new SafeTensorsWriter();
            ow.metadata("optimizer", opt.optimizer());
            optimizer.save(ow);
            ow.write(dir.resolve("optimizer.safetensors"));
            SafeTensorsWriter mw = new SafeTensorsWriter();
            ModelConfig c = model.config();
            for (int a = 0; a < memory.length; a++) {
                for (int i = 0; i < c.nLayers(); i++) {
                    put(mw, "m" + a + ".keys." + i, memory[a].keys(i));
                    put(mw, "m" + a + ".values." + i, memory[a].values(i));
                    if (memory[a].state(i) != null) put(mw, "m" + a + ".state." + i, memory[a].state(i));
                }
            }
            mw.write(dir.resolve("memory.safetensors"));
            ObjectNode t = JSON.createObjectNode();
            t.put("step", step).put("tokens", tokens).put("elapsed_s", elapsed);
            t.set("options", JSON.valueToTree(opt));
            ArrayNode ss = t.putArray("streams");
            for (DocumentStreams st : streams) ss.add(JSON.valueToTree(st.state()));
            Files.writeString(dir.resolve("trainer.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(t));
            if (extras != null) extras.accept(dir);
            cd.commit();
            lastCheckpoint = step;
            listener.checkpointed(step, checkpointDir());
        } catch (IOException e) {
            throw new UncheckedIOException(checkpointDir() + ": cannot write the checkpoint (" + e.getMessage() + ")", e);
        }
    }

    private void put(SafeTensorsWriter w, String name, Tensor t) {
        int[] s = t.shape();
        long[] shape = new long[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = s[i];
        w.add(name, DType.F32, be.download(t), shape);
    }

    /** The options a checkpoint was trained with. */
    public static TrainOptions options(Path checkpoint) {
        return JSON.convertValue(readTrainerJson(checkpoint).get("options"), TrainOptions.class);
    }

    private static JsonNode readTrainerJson(Path checkpoint) {
        Path f = CheckpointDirectory.locate(checkpoint).resolve("trainer.json");
        if (!Files.isRegularFile(f)) {
            throw new IllegalArgumentException(checkpoint + ": no trainer.json (not a training checkpoint, cannot resume)");
        }
        try {
            return JSON.readTree(f.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(f + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    /**
     * Restores the optimizer, the carried memory, the data position and the step from a checkpoint written by
     * {@link #saveCheckpoint} (the model's parameters are loaded with {@link ModelCheckpoint#load}).
     */
    public void restore(Path checkpoint) {
        Path dir = CheckpointDirectory.locate(checkpoint);
        JsonNode t = readTrainerJson(dir);
        JsonNode ss = t.get("streams");
        if (ss == null || ss.size() != streams.length) {
            throw new IllegalArgumentException(dir + ": saved with " + (ss == null ? 0 : ss.size()) + " micro-batches, this run has "
                    + streams.length + " (keep --accumulate as it was to resume)");
        }
        for (int a = 0; a < streams.length; a++) streams[a].restore(JSON.convertValue(ss.get(a), DocumentStreams.State.class));
        try (SafeTensors st = SafeTensors.open(dir.resolve("optimizer.safetensors"))) {
            optimizer.load(st);
        }
        ModelConfig c = model.config();
        try (SafeTensors st = SafeTensors.open(dir.resolve("memory.safetensors"))) {
            for (int a = 0; a < memory.length; a++) {
                memory[a] = Memory.empty(c, be, opt.batch());
                for (int i = 0; i < c.nLayers(); i++) {
                    load(st, "m" + a + ".keys." + i, memory[a].keys(i));
                    load(st, "m" + a + ".values." + i, memory[a].values(i));
                    if (memory[a].state(i) != null) load(st, "m" + a + ".state." + i, memory[a].state(i));
                }
            }
        }
        step = t.path("step").asLong();
        tokens = t.path("tokens").asLong();
        elapsed = t.path("elapsed_s").asDouble();
        lastCheckpoint = step;
    }

    private void load(SafeTensors st, String name, Tensor into) {
        int[] s = into.shape();
        long[] shape = new long[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = s[i];
        float[] v = st.requireFloats(name, shape);
        be.copy(be.upload(v, s), into);
    }
}
