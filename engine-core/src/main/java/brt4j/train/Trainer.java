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
import java.util.ArrayList;
import java.util.List;
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
 *
 * <p><b>Data parallel.</b> With a {@link Communicator} of S replicas (one Trainer per GPU, see {@link DataParallel}),
 * {@code opt.batch()} is the global batch: replica r reads rows r*B/S .. (r+1)*B/S - 1 of the same global streams and
 * carries their memory. Before the forward passes the replicas sum their micro-batches' token counts, so each divides
 * its loss by the global count and the summed gradients are the one-replica run's; after the backward passes they
 * sum the gradients (all-reduce), the loss and the stop flag, and then take identical optimizer steps. Rank 0 alone
 * writes metrics and checkpoints; a checkpoint holds the global state (every row's memory, the global streams), so
 * a run resumes on any number of replicas that divides the global batch. With {@link Communicator#SOLO} every sum is
 * the value itself and this is the plain run.
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
    private final Communicator comm;
    private final int localBatch;
    private long step;
    private long tokens;
    private double elapsed;
    private long lastCheckpoint = -1;
    private volatile boolean stopRequested;
    private boolean stop;   // agreed by every replica before a step

    /** The outcome: the step reached, whether it was cut short by {@link #requestStop}, the last validation. */
    public record Result(long step, boolean interrupted, EvalResult lastValidation, Path checkpoint) {}

    /**
     * @param extras writes extra files (the tokenizer) into each checkpoint directory; may be null
     */
    public Trainer(BrtModel model, TrainOptions opt, TokenSource data, Path runDir, TrainListener listener, Consumer<Path> extras) {
        this(model, opt, data, runDir, listener, extras, Communicator.SOLO);
    }

    /**
     * One replica of a data-parallel run: {@code opt.batch()} is the global batch, split evenly over {@code comm}'s
     * replicas; {@code listener} and {@code extras} matter on rank 0 only (the others write nothing).
     */
    public Trainer(BrtModel model, TrainOptions opt, TokenSource data, Path runDir, TrainListener listener, Consumer<Path> extras,
                   Communicator comm) {
        if (opt.batch() % comm.size() != 0) {
            throw new IllegalArgumentException("a global batch of " + opt.batch() + " streams does not split evenly over "
                    + comm.size() + " replicas (the global batch is the per-GPU batch times the number of GPUs)");
        }
        this.comm = comm;
        this.localBatch = opt.batch() / comm.size();
        this.model = model;
        this.be = model.backend();
        this.opt = opt;
        this.data = data;
        this.runDir = runDir;
        this.listener = listener == null || comm.rank() != 0 ? TrainListener.NONE : listener;
        this.extras = extras;
        this.split = Split.of(data, opt.validation(), opt.seed());
        if (split.train().length == 0) throw new IllegalArgumentException("no training documents (empty corpus)");
        if (Split.predictable(data, split.train()) == 0) {
            throw new IllegalArgumentException("nothing to learn: every training document (" + split.train().length
                    + ") is a single token, and a token is predicted only from the same document");
        }
        this.optimizer = Optimizer.create(opt.optimizer(), model.parameters(), opt);
        ModelConfig c = model.config();
        this.streams = new DocumentStreams[opt.accumulate()];
        this.memory = new Memory[opt.accumulate()];
        for (int a = 0; a < streams.length; a++) {
            streams[a] = DocumentStreams.training(data, split.train(), opt.batch(), c.segment(), CounterRng.mix(opt.seed() * 1000 + a),
                    comm.rank() * localBatch, localBatch);
            memory[a] = Memory.empty(c, be, localBatch);
        }
    }

    public Split split() { return split; }

    public long step() { return step; }

    public BrtModel model() { return model; }

    /** Ends the run after the current step, with a checkpoint (Ctrl-C); in a data-parallel run any rank may ask. */
    public void requestStop() { stopRequested = true; }

    public Communicator communicator() { return comm; }

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
        // Every replica starts from rank 0's parameters (they are initialized or loaded alike; this makes sure).
        comm.broadcast(model.parameters().vars().stream().map(v -> v.value).toList(), 0);
        boolean writer = comm.rank() == 0;
        try (MetricsLog log = writer ? new MetricsLog(runDir.resolve(METRICS), step) : null) {
            long t0 = System.nanoTime();
            double elapsedBefore = elapsed;
            long tokensAtStart = tokens;
            while (step < opt.steps() && !agreeToStop()) {
                double[] lossAndGrad = trainStep();
                step++;
                double seconds = (System.nanoTime() - t0) / 1e9;
                elapsed = elapsedBefore + seconds;
                double tps = seconds > 0 ? (tokens - tokensAtStart) / seconds : 0;
                double lr = opt.learningRate(step);
                TrainListener.Step s = new TrainListener.Step(step, opt.steps(), lossAndGrad[0],
                        lossAndGrad[0] * SegmentResult.BITS_PER_NAT, lr, lossAndGrad[1], tokens, tps, elapsed);
                listener.step(s);
                if (writer && (step % opt.logEvery() == 0 || step == opt.steps())) {
                    log.write(log.line().put("split", "train").put("step", step).put("loss", s.loss())
                            .put("bits_per_token", s.bitsPerToken()).put("lr", lr).put("grad_norm", s.gradNorm())
                            .put("tokens", tokens).put("tokens_per_s", Math.round(tps)).put("elapsed_s", Math.round(elapsed * 10) / 10.0));
                }
                boolean last = step == opt.steps();
                if ((opt.evalEvery() > 0 && step % opt.evalEvery() == 0) || last) {
                    EvalResult v = writer ? validate() : null;
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
        int vocab = model.config().vocabSize();
        DocumentStreams.Segment[] segs = new DocumentStreams.Segment[streams.length];
        double[] counts = new double[streams.length];
        for (int a = 0; a < streams.length; a++) {
            segs[a] = streams[a].next();
            counts[a] = segs[a].batch().lossCount(vocab);
        }
        double[] globalCounts = comm.allReduceSum(counts);   // each loss is a mean over the global batch's tokens
        double lossSum = 0, count = 0;
        for (int a = 0; a < streams.length; a++) {
            Memory carried = memory[a];
            try (Graph g = new Graph(be, true, CounterRng.mix(opt.seed() * 0x9e3779b97f4a7c15L + s * streams.length + a))) {
                SegmentResult r = model.forward(g, segs[a].batch(), carried, false, (long) globalCounts[a]);
                g.backward();
                memory[a] = r.memory();
                lossSum += r.lossSum();
            }
            carried.free(be);
            count += globalCounts[a];
            tokens += (long) opt.batch() * model.config().segment();
        }
        // Sum the loss and which parameters have a gradient (a replica's rows may reach a parameter that another's
        // do not; the sum then needs its zeros), then the gradients themselves.
        List<Var> params = List.copyOf(model.parameters().vars());
        double[] mine = new double[1 + params.size()];
        mine[0] = lossSum;
        for (int i = 0; i < params.size(); i++) mine[1 + i] = params.get(i).grad() != null ? 1 : 0;
        double[] sums = comm.allReduceSum(mine);
        if (!Double.isFinite(sums[0])) throw diverged(s, "the loss is " + sums[0]);
        List<Tensor> grads = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) if (sums[1 + i] > 0) grads.add(params.get(i).materializeGrad());
        comm.allReduceSum(grads);
        double sq = 0;
        for (Tensor gr : grads) sq += be.sumSquares(gr);
        double norm = Math.sqrt(sq) / streams.length;
        if (!Double.isFinite(norm)) throw diverged(s, "the gradient norm is " + norm);
        double factor = 1.0 / streams.length;
        if (opt.clip() > 0 && norm > opt.clip()) factor *= opt.clip() / norm;
        if (factor != 1) for (Tensor gr : grads) be.scale(gr, factor);
        optimizer.update(opt.learningRate(s), s);
        return new double[]{count == 0 ? 0 : sums[0] / count, norm};
    }

    /** Whether any replica was asked to stop: every replica sees the same answer, so all stop after the same step. */
    private boolean agreeToStop() {
        stop = comm.allReduceSum(new double[]{stopRequested ? 1 : 0})[0] > 0;
        return stop;
    }

    private TrainingDiverged diverged(long s, String what) {
        String kept = lastCheckpoint >= 0 ? "the last good checkpoint (step " + lastCheckpoint + ") is kept at " + checkpointDir()
                : "no checkpoint was written yet";
        return new TrainingDiverged(s, "step " + s + ": " + what + "; training stopped, " + kept);
    }

    /** Bits per token and per byte on (a part of) the validation split; null when it has no token to predict. */
    public EvalResult validate() {
        if (Split.predictable(data, split.validation()) == 0) return null;
        return Evaluator.evaluate(model, data, split.validation(), opt.batch(), opt.evalSegments(), model.config().window());
    }

    // ---------------------------------------------------------------- checkpoints

    /**
     * Writes the checkpoint (rank 0; every replica must call this at the same step, since gathering the carried
     * memory of the whole batch is a collective).
     */
    public void saveCheckpoint() {
        List<Tensor> globalMemory = gatherMemory();
        if (comm.rank() != 0) {
            lastCheckpoint = step;
            return;
        }
        try (CheckpointDirectory cd = CheckpointDirectory.begin(checkpointDir())) {
            Path dir = cd.dir();
            ModelCheckpoint.writeInto(dir, model);
            SafeTensorsWriter ow = new SafeTensorsWriter();
            ow.metadata("optimizer", opt.optimizer());
            optimizer.save(ow);
            ow.write(dir.resolve("optimizer.safetensors"));
            SafeTensorsWriter mw = new SafeTensorsWriter();
            List<String> names = memoryNames();
            for (int k = 0; k < names.size(); k++) put(mw, names.get(k), globalMemory.get(k));
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

    /** The carried memory tensors in checkpoint order: per micro-batch, per layer, keys, values and the state. */
    private List<Tensor> localMemory() {
        List<Tensor> l = new ArrayList<>();
        ModelConfig c = model.config();
        for (Memory m : memory) {
            for (int i = 0; i < c.nLayers(); i++) {
                l.add(m.keys(i));
                l.add(m.values(i));
                if (m.state(i) != null) l.add(m.state(i));
            }
        }
        return l;
    }

    private List<String> memoryNames() {
        List<String> l = new ArrayList<>();
        ModelConfig c = model.config();
        for (int a = 0; a < memory.length; a++) {
            for (int i = 0; i < c.nLayers(); i++) {
                l.add("m" + a + ".keys." + i);
                l.add("m" + a + ".values." + i);
                if (memory[a].state(i) != null) l.add("m" + a + ".state." + i);
            }
        }
        return l;
    }

    /**
     * The memory of the whole batch [B, ...]: each replica puts its rows in place and zeros elsewhere, and a sum over
     * the replicas (exact: every element has one nonzero term) gathers them. One replica: its own tensors.
     */
    private List<Tensor> gatherMemory() {
        List<Tensor> local = localMemory();
        if (comm.size() == 1) return local;
        List<Tensor> global = new ArrayList<>();
        for (Tensor t : local) {
            int[] shape = t.shape().clone();
            shape[0] = opt.batch();
            float[] all = new float[t.size() * comm.size()];
            System.arraycopy(be.download(t), 0, all, comm.rank() * t.size(), t.size());
            global.add(be.upload(all, shape));
        }
        comm.allReduceSum(global);
        return global;
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

    /** The optimizer step a checkpoint was written at. */
    public static long savedStep(Path checkpoint) {
        return readTrainerJson(checkpoint).path("step").asLong();
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
        for (int a = 0; a < memory.length; a++) memory[a] = Memory.empty(c, be, localBatch);
        try (SafeTensors st = SafeTensors.open(dir.resolve("memory.safetensors"))) {
            List<String> names = memoryNames();
            List<Tensor> local = localMemory();
            for (int k = 0; k < names.size(); k++) loadRows(st, names.get(k), local.get(k));
        }
        step = t.path("step").asLong();
        tokens = t.path("tokens").asLong();
        elapsed = t.path("elapsed_s").asDouble();
        lastCheckpoint = step;
    }

    /** This replica's rows of a saved whole-batch tensor [B, ...] into {@code into} [B/S, ...]. */
    private void loadRows(SafeTensors st, String name, Tensor into) {
        int[] s = into.shape();
        long[] shape = new long[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = s[i];
        shape[0] = opt.batch();
        float[] all = st.requireFloats(name, shape);
        float[] mine = new float[into.size()];
        System.arraycopy(all, comm.rank() * into.size(), mine, 0, mine.length);
        be.copy(be.upload(mine, s), into);
    }
}
