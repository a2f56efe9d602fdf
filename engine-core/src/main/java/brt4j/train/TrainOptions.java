package brt4j.train;

/**
 * How to train (everything but the model's shape, which is {@link brt4j.model.ModelConfig}). Saved in every
 * checkpoint's {@code trainer.json}, so a resumed run continues with the same settings.
 *
 * @param batch           B, document streams (rows) per micro-batch
 * @param accumulate      micro-batches per optimizer step (each with its own B streams and carried memory)
 * @param steps           optimizer steps of the whole run
 * @param optimizer       {@code adamw} or {@code adafactor} (the paper's, spec §2.3)
 * @param schedule        {@code rsqrt} (the paper's), {@code cosine} or {@code constant}
 * @param lr              peak (cosine, constant) or base (rsqrt: 1.0 with Adafactor as in the paper) learning rate
 * @param minLr           cosine's floor
 * @param warmup          linear warmup steps
 * @param weightDecay     AdamW's decoupled weight decay (matrices only)
 * @param clip            global gradient-norm clip (0: none)
 * @param logEvery        steps between lines of metrics.jsonl
 * @param evalEvery       steps between validations (0: only at the end)
 * @param evalSegments    segments (of B rows) per validation, 0: the whole validation split
 * @param checkpointEvery steps between checkpoints (0: only at the end)
 * @param seed            parameter init, data order, dropout: everything random in the run
 * @param validation      fraction of documents held out for validation
 */
public record TrainOptions(int batch, int accumulate, long steps, String optimizer, String schedule, double lr,
                           double minLr, long warmup, double weightDecay, double beta1, double beta2, double clip,
                           int logEvery, int evalEvery, int evalSegments, int checkpointEvery, long seed,
                           double validation) {
    public TrainOptions {
        if (batch <= 0) throw new IllegalArgumentException("batch must be positive, got " + batch);
        if (accumulate <= 0) throw new IllegalArgumentException("accumulate must be positive, got " + accumulate);
        if (steps <= 0) throw new IllegalArgumentException("steps must be positive, got " + steps);
        if (!optimizer.equals("adamw") && !optimizer.equals("adafactor")) {
            throw new IllegalArgumentException("optimizer must be adamw or adafactor, got " + optimizer);
        }
        if (!schedule.equals("rsqrt") && !schedule.equals("cosine") && !schedule.equals("constant")) {
            throw new IllegalArgumentException("schedule must be rsqrt, cosine or constant, got " + schedule);
        }
        if (!(lr > 0)) throw new IllegalArgumentException("lr must be positive, got " + lr);
        if (clip < 0) throw new IllegalArgumentException("clip must be >= 0, got " + clip);
        if (!(minLr >= 0 && minLr <= lr)) throw new IllegalArgumentException("min-lr must be in [0, lr = " + lr + "], got " + minLr);
        if (warmup < 0) throw new IllegalArgumentException("warmup must be >= 0, got " + warmup);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight-decay must be >= 0, got " + weightDecay);
        if (!(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("betas must be in [0, 1), got " + beta1 + " and " + beta2);
        }
        if (logEvery <= 0) throw new IllegalArgumentException("log-every must be positive, got " + logEvery);
        if (evalEvery < 0) throw new IllegalArgumentException("eval-every must be >= 0 (0: only at the end), got " + evalEvery);
        if (evalSegments < 0) throw new IllegalArgumentException("eval-segments must be >= 0 (0: the whole split), got " + evalSegments);
        if (checkpointEvery < 0) {
            throw new IllegalArgumentException("checkpoint-every must be >= 0 (0: only at the end), got " + checkpointEvery);
        }
        if (!(validation >= 0 && validation < 1)) throw new IllegalArgumentException("validation fraction must be in [0, 1), got " + validation);
    }

    // Laptop defaults (AdamW 3e-3 with cosine decay), constants so that brt train's help can show them.
    public static final int BATCH = 8, ACCUMULATE = 1, LOG_EVERY = 10, EVAL_EVERY = 200, EVAL_SEGMENTS = 16,
            CHECKPOINT_EVERY = 200;
    public static final long STEPS = 1000, WARMUP = 100, SEED = 1;
    public static final String OPTIMIZER = "adamw", SCHEDULE = "cosine";
    public static final double LR = 3e-3, MIN_LR = 3e-4, WEIGHT_DECAY = 0.01, CLIP = 1.0, VALIDATION = 0.05;

    public static TrainOptions defaults() {
        return new TrainOptions(BATCH, ACCUMULATE, STEPS, OPTIMIZER, SCHEDULE, LR, MIN_LR, WARMUP, WEIGHT_DECAY, 0.9, 0.98,
                CLIP, LOG_EVERY, EVAL_EVERY, EVAL_SEGMENTS, CHECKPOINT_EVERY, SEED, VALIDATION);
    }

    public TrainOptions withSteps(long s) {
        return new TrainOptions(batch, accumulate, s, optimizer, schedule, lr, minLr, warmup, weightDecay, beta1, beta2, clip,
                logEvery, evalEvery, evalSegments, checkpointEvery, seed, validation);
    }

    public TrainOptions withBatch(int b) {
        return new TrainOptions(b, accumulate, steps, optimizer, schedule, lr, minLr, warmup, weightDecay, beta1, beta2, clip,
                logEvery, evalEvery, evalSegments, checkpointEvery, seed, validation);
    }

    /** The learning rate of optimizer step {@code step} (counting from 1). */
    public double learningRate(long step) {
        return switch (schedule) {
            case "rsqrt" -> LearningRate.rsqrt(step, warmup, lr);
            case "cosine" -> LearningRate.cosine(step, warmup, steps, lr, minLr);
            default -> warmup > 0 ? lr * Math.min(1.0, (double) step / warmup) : lr;
        };
    }
}
