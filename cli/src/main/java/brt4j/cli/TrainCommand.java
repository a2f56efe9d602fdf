package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.data.Corpus;
import brt4j.data.TextTokenizer;
import brt4j.data.TokenCache;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.model.Parameters;
import brt4j.gpu.cuda.CudaBackend;
import brt4j.train.Communicator;
import brt4j.train.TrainOptions;
import brt4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * {@code brt train}: a model from a corpus. Checks everything a user can get wrong (config, data path, tokenizer
 * against vocabulary, run directory) before any work; tokenizes once into a cache; trains with a progress bar,
 * metrics.jsonl, loss.png and checkpoints in the run directory; Ctrl-C saves a checkpoint; --resume continues the
 * identical run.
 */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a model on a corpus (text folder, JSON Lines, zip).")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", description = "model config: a JSON file (configs/*.json) or a preset name (e.g. Rec:fixed:skip)")
    String config;
    @Option(names = "--data", required = true, description = "corpus: folder of text files, .jsonl[.gz] with a text field, or .zip")
    Path data;
    @Option(names = {"--out", "--run"}, defaultValue = "run", description = "run directory (checkpoint, metrics.jsonl, loss.png); default ${DEFAULT-VALUE}")
    Path out;
    @Option(names = "--resume", description = "continue the run in --out from its checkpoint")
    boolean resume;
    @Option(names = "--tokenizer", description = "SentencePiece .model file, or 'bytes' (default)")
    String tokenizer;
    @Mixin DeviceOptions devices;
    @Option(names = "--cache-dir", description = "token cache directory (default: <data>.brt4j-cache beside the data)")
    Path cacheDir;
    @Option(names = "--gpus", description = "data parallel: one replica per CUDA GPU of this host, joined by NCCL; --batch is then per GPU")
    Integer gpus;
    @Option(names = "--nodes", description = "hosts in a data-parallel run (each runs this command with its --node-rank)") Integer nodes;
    @Option(names = "--node-rank", description = "this host's number, 0..nodes-1 (node 0 writes checkpoints and metrics)") Integer nodeRank;
    @Option(names = "--rendezvous", description = "host:port of node 0 for NCCL's TCP bootstrap (NCCL_COMM_ID), the same on every node") String rendezvous;

    @Option(names = "--steps", description = "optimizer steps of the whole run (default: " + TrainOptions.STEPS + "; with --resume: the new total)") Long steps;
    @Option(names = "--batch", description = "document streams per micro-batch (B; default: " + TrainOptions.BATCH + ")") Integer batch;
    @Option(names = "--accumulate", description = "micro-batches per optimizer step (default: " + TrainOptions.ACCUMULATE + ")") Integer accumulate;
    @Option(names = "--optimizer", description = "adamw | adafactor (default: " + TrainOptions.OPTIMIZER + ")") String optimizer;
    @Option(names = "--schedule", description = "rsqrt (the paper's) | cosine | constant (default: " + TrainOptions.SCHEDULE + ")") String schedule;
    @Option(names = "--lr", description = "peak learning rate; rsqrt's base, 1.0 with adafactor as in the paper (default: " + TrainOptions.LR + ")") Double lr;
    @Option(names = "--min-lr", description = "cosine's floor (default: lr / 10)") Double minLr;
    @Option(names = "--warmup", description = "linear warm-up steps (default: " + TrainOptions.WARMUP + ")") Long warmup;
    @Option(names = "--weight-decay", description = "AdamW's decoupled weight decay, matrices only (default: " + TrainOptions.WEIGHT_DECAY + ")") Double weightDecay;
    @Option(names = "--clip", description = "global gradient-norm clip, 0: none (default: " + TrainOptions.CLIP + ")") Double clip;
    @Option(names = "--dropout", description = "override the config's dropout and attn_dropout") Double dropout;
    @Option(names = "--log-every", description = "steps between lines of metrics.jsonl (default: " + TrainOptions.LOG_EVERY + ")") Integer logEvery;
    @Option(names = "--eval-every", description = "steps between validations, 0: only at the end (default: " + TrainOptions.EVAL_EVERY + ")") Integer evalEvery;
    @Option(names = "--eval-segments", description = "segments per validation, 0: the whole validation split (default: " + TrainOptions.EVAL_SEGMENTS + ")") Integer evalSegments;
    @Option(names = "--checkpoint-every", description = "steps between checkpoints, 0: only at the end (default: " + TrainOptions.CHECKPOINT_EVERY + ")") Integer checkpointEvery;
    @Option(names = "--seed", description = "initialization, data order and dropout (default: " + TrainOptions.SEED + ")") Long seed;
    @Option(names = "--validation", description = "fraction of documents held out (default: " + TrainOptions.VALIDATION + ")") Double validation;

    @Spec CommandSpec spec;

    @Override public Integer call() throws Exception {
        Path ckpt = out.resolve(Trainer.CHECKPOINT);
        boolean haveCkpt = CheckpointDirectory.exists(ckpt);
        // ---- everything a user can get wrong, before any work
        ModelConfig cfg;
        TrainOptions opt;
        TextTokenizer tok;
        if (resume) {
            if (!haveCkpt) throw new IllegalArgumentException(out + " holds no checkpoint to resume from");
            List<String> fixed = fixedOnResume();
            if (!fixed.isEmpty()) {
                throw new IllegalArgumentException("--resume continues the run with the config and options saved in its checkpoint, so "
                        + String.join(", ", fixed) + " cannot be given (--steps can: the new total)");
            }
            Path dir = CheckpointDirectory.locate(ckpt);
            cfg = ModelConfig.load(dir.resolve(ModelCheckpoint.CONFIG));
            opt = Trainer.options(dir);
            if (steps != null) opt = opt.withSteps(steps);
            long at = Trainer.savedStep(dir);
            if (opt.steps() <= at) {
                throw new IllegalArgumentException(steps == null
                        ? "the run in " + out + " has finished its " + at + " steps: pass --steps with a larger total to train further"
                        : "the run in " + out + " is at step " + at + ", so --steps " + steps + " leaves nothing to train: pass a total above " + at);
            }
            TextTokenizer saved = Tokenizers.fromCheckpoint(dir);
            tok = tokenizer != null ? Tokenizers.load(tokenizer) : saved != null ? saved : Tokenizers.load("bytes");
            Tokenizers.checkSame(tok, saved, dir);
        } else {
            if (haveCkpt) throw new IllegalArgumentException(out + " already holds a checkpoint; pass --resume to continue it, or choose another --out");
            if (config == null) throw new IllegalArgumentException("--config is required (a configs/*.json file or a preset name)");
            cfg = Files.isRegularFile(Path.of(config)) ? ModelConfig.load(Path.of(config)) : presetOrFile(config);
            if (dropout != null) cfg = cfg.withDropout(dropout, dropout);
            opt = options(TrainOptions.defaults());
            tok = Tokenizers.load(tokenizer);
        }
        Tokenizers.check(tok, cfg.vocabSize(), "the model config");
        if (!resume && tok.vocabSize() * 2 <= cfg.vocabSize()) {
            // legal (the extra rows are never targets, and generation draws only the tokenizer's ids), but the head
            // and the embedding spend most of their work on them
            System.err.printf("note: the tokenizer, %s, leaves most of the model's %,d output rows unused; pass --tokenizer,"
                    + " or a config sized for it (configs/laptop-bytes.json for bytes)%n", tok.describe(), cfg.vocabSize());
        }
        GpuReplicas replicas = GpuReplicas.of(gpus, nodes, nodeRank, rendezvous, devices.device);
        if (replicas != null && !resume) opt = opt.withBatch(opt.batch() * replicas.world());   // --batch is per GPU
        if (replicas != null && opt.batch() % replicas.world() != 0) {
            throw new IllegalArgumentException("the checkpoint's global batch of " + opt.batch() + " streams does not split evenly over "
                    + replicas.world() + " GPUs; resume on a number of GPUs that divides it");
        }
        Corpus.files(data);
        Backend[] backends = replicas != null ? replicas.open(devices.precision, System.err) : new Backend[]{devices.open()};

        TokenCache cache = TokenCache.open(data, tok, cacheDir, System.err::println);
        Files.createDirectories(out);
        if (replicas != null) {
            System.err.printf("global batch: %d streams = %d GPU(s) x %d%n", opt.batch(), replicas.world(), opt.batch() / replicas.world());
        }
        final TextTokenizer t = tok;
        final ModelConfig c = cfg;
        final TrainOptions o = opt;
        Trainer[] trainers = new Trainer[backends.length];
        try (Progress progress = new Progress("train", out)) {
            CountDownLatch done = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                System.err.println("\nbrt: stopping after this step; saving a checkpoint in " + out.resolve(Trainer.CHECKPOINT));
                for (Trainer tr : trainers) if (tr != null) tr.requestStop();
                try {
                    done.await(120, TimeUnit.SECONDS);
                } catch (InterruptedException ignored) {
                }
            });
            Runtime.getRuntime().addShutdownHook(hook);
            Trainer.Result r;
            try {
                if (replicas == null) {
                    r = replica(backends[0], Communicator.SOLO, c, o, cache, ckpt, progress, t, trainers, 0);
                } else {
                    r = replicas.run((CudaBackend[]) backends, (local, comm) ->
                            replica(backends[local], comm, c, o, cache, ckpt, progress, t, trainers, local)).getFirst();
                }
            } finally {
                done.countDown();
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);   // also after a failure: exiting is no Ctrl-C
                } catch (IllegalStateException shuttingDown) {
                    // Ctrl-C: the hook is running and waits for us
                }
            }
            progress.close();
            if (Files.exists(out.resolve(Trainer.METRICS))) Plots.loss(out.resolve(Trainer.METRICS), out.resolve("loss.png"));   // node 0 writes it
            String val = r.lastValidation() == null ? "" : String.format("; validation %.4f bits/token, %.4f bits/byte",
                    r.lastValidation().bitsPerToken(), r.lastValidation().bitsPerByte());
            System.out.printf("%s at step %d%s; checkpoint %s%n", r.interrupted() ? "interrupted" : "done", r.step(), val, r.checkpoint());
        } finally {
            cache.close();
        }
        return 0;
    }

    /** One replica (the only one, or one GPU's): the model, its trainer, its run; rank 0 reports and writes. */
    private Trainer.Result replica(Backend be, Communicator comm, ModelConfig cfg, TrainOptions opt, TokenCache cache, Path ckpt,
                                   Progress progress, TextTokenizer tok, Trainer[] trainers, int local) {
        BrtModel model = resume ? ModelCheckpoint.load(ckpt, be) : new BrtModel(Parameters.initialize(cfg, be, opt.seed()));
        Trainer trainer = new Trainer(model, opt, cache, out, progress, dir -> Tokenizers.save(tok, dir), comm);
        if (resume) trainer.restore(ckpt);
        trainers[local] = trainer;
        if (comm.rank() == 0) {
            System.err.printf("model: %s, %,d parameters; data: %s (%d documents, %,d tokens); run: %s%n",
                    config != null ? config : "resumed", model.parameters().count(), data, cache.docCount(), cache.totalTokens(), out);
            System.err.printf("split: %d training and %d validation documents; step %d of %d%n",
                    trainer.split().train().length, trainer.split().validation().length, trainer.step(), opt.steps());
        }
        return trainer.run();
    }

    private static ModelConfig presetOrFile(String name) {
        try {
            return ModelConfig.preset(name);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--config " + name + " is neither a file nor a preset (" + e.getMessage() + ")");
        }
    }

    private TrainOptions options(TrainOptions d) {
        return new TrainOptions(or(batch, d.batch()), or(accumulate, d.accumulate()), or(steps, d.steps()), or(optimizer, d.optimizer()),
                or(schedule, d.schedule()), or(lr, d.lr()), or(minLr, lr != null ? lr / 10 : d.minLr()), or(warmup, d.warmup()), or(weightDecay, d.weightDecay()),
                d.beta1(), d.beta2(), or(clip, d.clip()), or(logEvery, d.logEvery()), or(evalEvery, d.evalEvery()),
                or(evalSegments, d.evalSegments()), or(checkpointEvery, d.checkpointEvery()), or(seed, d.seed()), or(validation, d.validation()));
    }

    private static <T> T or(T v, T d) { return v != null ? v : d; }

    /** Options a resumed run would have to ignore: it continues identically, with the config and options it saved. */
    private static final List<String> FIXED_ON_RESUME = List.of("--config", "--dropout", "--batch", "--accumulate", "--optimizer",
            "--schedule", "--lr", "--min-lr", "--warmup", "--weight-decay", "--clip", "--log-every", "--eval-every", "--eval-segments",
            "--checkpoint-every", "--seed", "--validation");

    /** Those of {@link #FIXED_ON_RESUME} given on the command line. */
    private List<String> fixedOnResume() {
        return FIXED_ON_RESUME.stream().filter(spec.commandLine().getParseResult()::hasMatchedOption).toList();
    }
}
