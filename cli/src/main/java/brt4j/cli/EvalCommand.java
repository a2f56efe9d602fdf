package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.data.Corpus;
import brt4j.data.Split;
import brt4j.data.TextTokenizer;
import brt4j.data.TokenCache;
import brt4j.eval.EvalResult;
import brt4j.eval.Evaluator;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import brt4j.model.ModelConfig;
import brt4j.train.Trainer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code brt eval}: bits per token and per byte on held-out documents, and the loss by position in the document. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Evaluate a checkpoint on held-out documents.")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = CheckpointPath.DESCRIPTION)
    Path checkpoint;
    @Option(names = "--data", required = true, description = "held-out corpus: folder, .jsonl[.gz], .zip")
    Path data;
    @Option(names = "--split", defaultValue = "all", description = "all: every document of --data; validation: the validation split the run trained beside; default ${DEFAULT-VALUE}")
    String split;
    @Option(names = "--tokenizer", description = "must match the checkpoint's; default: the one saved in it")
    String tokenizer;
    @Option(names = "--batch", defaultValue = "8", description = "document streams evaluated together (default: ${DEFAULT-VALUE})")
    int batch;
    @Option(names = "--bucket", description = "position bucket width in tokens (default: the window W)")
    Integer bucket;
    @Option(names = "--max-segments", defaultValue = "0", description = "stop after this many segments (0: every document to its end)")
    int maxSegments;
    @Mixin DeviceOptions devices;
    @Option(names = "--cache-dir", description = "token cache directory (default: <data>.brt4j-cache beside the data)") Path cacheDir;
    @Option(names = "--json", description = "also write the result as JSON here") Path json;

    @Override public Integer call() throws Exception {
        if (batch <= 0) throw new IllegalArgumentException("--batch must be positive, got " + batch);
        if (maxSegments < 0) throw new IllegalArgumentException("--max-segments must be >= 0 (0: every document to its end), got " + maxSegments);
        if (json != null) {
            Path parent = json.toAbsolutePath().getParent();
            if (Files.isDirectory(json)) throw new IllegalArgumentException("--json " + json + " is a directory; give a file name");
            if (parent != null && !Files.isDirectory(parent)) throw new IllegalArgumentException("--json " + json + ": no folder " + parent);
        }
        Path ck = CheckpointPath.resolve(checkpoint);
        Path dir = CheckpointDirectory.locate(ck);
        ModelConfig cfg = ModelConfig.load(dir.resolve(ModelCheckpoint.CONFIG));
        TextTokenizer saved = Tokenizers.fromCheckpoint(dir);
        TextTokenizer tok = tokenizer != null ? Tokenizers.load(tokenizer) : saved != null ? saved : Tokenizers.load("bytes");
        Tokenizers.check(tok, cfg.vocabSize(), "the checkpoint " + dir);
        Tokenizers.checkSame(tok, saved, dir);
        if (!split.equals("all") && !split.equals("validation")) throw new IllegalArgumentException("--split must be all or validation, got " + split);
        Corpus.files(data);
        Backend be = devices.open();
        BrtModel model = ModelCheckpoint.load(dir, be);
        try (TokenCache cache = TokenCache.open(data, tok, cacheDir, System.err::println)) {
            int[] docs;
            if (split.equals("validation")) {
                var o = Trainer.options(dir);
                docs = Split.of(cache, o.validation(), o.seed()).validation();
            } else {
                docs = Split.all(cache);
            }
            int w = bucket != null ? bucket : cfg.window();
            long t0 = System.nanoTime();
            EvalResult r;
            long targets = 0;                               // each document scores all its tokens but the first
            for (int d : docs) targets += Math.max(0, cache.length(d) - 1);
            if (maxSegments > 0) targets = Math.min(targets, (long) maxSegments * Math.min(batch, docs.length) * cfg.segment());
            try (ProgressBar bar = Progress.tokens("eval", targets)) {
                r = Evaluator.evaluate(model, cache, docs, batch, maxSegments, w, bar::stepTo);
                bar.maxHint(r.tokens());                    // the estimate counted a few tokens the loss mask skips
                bar.stepTo(r.tokens());
            }
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("%d documents, %,d tokens counted (%.1f s, %,.0f tok/s)%n", r.documents(), r.tokens(), s, r.tokens() / s);
            System.out.printf("bits per token %.4f%nbits per byte  %.4f%n%nloss by position in the document:%n%s",
                    r.bitsPerToken(), r.bitsPerByte(), r.bucketTable());
            if (json != null) {
                ObjectMapper m = new ObjectMapper();
                ObjectNode o = m.createObjectNode();
                o.put("checkpoint", dir.toString()).put("data", data.toString()).put("bits_per_token", r.bitsPerToken())
                        .put("bits_per_byte", r.bitsPerByte()).put("tokens", r.tokens()).put("documents", r.documents()).put("bucket", w);
                var arr = o.putArray("buckets");
                for (int k = 0; k < r.bucketBits().length; k++) {
                    if (r.bucketTokens()[k] > 0) arr.addObject().put("from", (long) k * w).put("bits_per_token", r.bucketBits()[k]).put("tokens", r.bucketTokens()[k]);
                }
                Files.writeString(json, m.writerWithDefaultPrettyPrinter().writeValueAsString(o));
            }
            List<double[]> pts = new ArrayList<>();
            for (int k = 0; k < r.bucketBits().length; k++) if (r.bucketTokens()[k] > 0) pts.add(new double[]{(double) k * w, r.bucketBits()[k]});
            if (json != null) {
                Path png = json.resolveSibling(json.getFileName().toString().replaceFirst("\\.json$", "") + "-by-position.png");
                Plots.lines("Loss by position in the document", "position (tokens)", "bits per token",
                        java.util.Map.of(dir.getFileName().toString(), Plots.points(pts)), png);
            }
        }
        return 0;
    }
}
