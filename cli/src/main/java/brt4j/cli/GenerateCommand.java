package brt4j.cli;

import brt4j.backend.Backend;
import brt4j.checkpoint.CheckpointDirectory;
import brt4j.data.TextTokenizer;
import brt4j.generate.Generator;
import brt4j.generate.Sampling;
import brt4j.generate.StopStrings;
import brt4j.model.BrtModel;
import brt4j.model.ModelCheckpoint;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code brt generate}: streams text from a checkpoint. The prompt is consumed a block at a time, then tokens are
 * drawn one by one; the recurrent state advances every W tokens, so memory stays constant however long it runs.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = "Generate text from a checkpoint, streaming; constant memory however long the text grows.")
public final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = CheckpointPath.DESCRIPTION)
    Path checkpoint;

    @Option(names = "--prompt", description = "The prompt text.")
    String prompt;

    @Option(names = "--prompt-file", description = "Read the prompt from this file (UTF-8).")
    Path promptFile;

    @Option(names = "--max-tokens", defaultValue = "256", description = "Tokens to generate (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temperature", defaultValue = "0.8", description = "0 = greedy (default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--greedy", description = "Always take the most likely token (same as --temperature 0).")
    boolean greedy;

    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely tokens; 0 = off.")
    int topK;

    @Option(names = "--top-p", defaultValue = "0.95", description = "Nucleus sampling mass; 1 = off (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--stop", description = "Stop when this text is generated (repeatable).")
    List<String> stops = List.of();

    @Option(names = "--interactive", description = "A conversation: each line you type is fed in and answered; the state carries between turns.")
    boolean interactive;

    @Mixin DeviceOptions devices;

    @Option(names = "--int8", description = "Quantize the weights to int8 (per-row scales) as they load: a quarter of the memory.")
    boolean int8;

    @Option(names = "--stats", description = "Print prompt and generation speed to stderr at the end.")
    boolean stats;

    @Override
    public Integer call() throws IOException {
        checkpoint = CheckpointPath.resolve(checkpoint);
        if (!interactive && (prompt == null) == (promptFile == null)) {
            throw new IllegalArgumentException("give exactly one of --prompt TEXT or --prompt-file FILE (or --interactive)");
        }
        if (maxTokens < 0) throw new IllegalArgumentException("--max-tokens must be >= 0, got " + maxTokens);
        String text = promptFile != null ? readPrompt(promptFile) : prompt;
        Sampling sampling = new Sampling(greedy ? 0 : temperature, topK, topP, seed);
        try (Backend backend = devices.open()) {
            BrtModel model = ModelCheckpoint.load(checkpoint, backend, int8);
            TextTokenizer codec = Tokenizers.fromCheckpoint(CheckpointDirectory.locate(checkpoint));
            if (codec == null) {
                throw new IllegalArgumentException(checkpoint + " has no " + Tokenizers.SPM_FILE + " or " + Tokenizers.BYTES_FILE
                        + ": cannot turn text into tokens");
            }
            Tokenizers.check(codec, model.config().vocabSize(), checkpoint.toString());
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            // a tokenizer smaller than the model's vocabulary: draw only ids it can decode
            int vocab = Math.min(model.config().vocabSize(), codec.vocabSize());
            try (Generator gen = new Generator(model, sampling, vocab)) {
                int window = model.config().window();
                if (!interactive) {
                    turn(gen, codec, text, out, window);
                    out.println();
                    return 0;
                }
                BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
                if (text != null) turn(gen, codec, text, out, window);
                while (true) {
                    out.print("\n> ");
                    String line = in.readLine();
                    if (line == null) return 0;
                    turn(gen, codec, line + "\n", out, window);
                }
            }
        }
    }

    /** Prompts of at least this many blocks are read under a progress bar (a book can take minutes on a laptop). */
    static final int PROGRESS_BLOCKS = 8;

    private void turn(Generator gen, TextTokenizer codec, String text, PrintStream out, int window) {
        int[] ids = codec.encode(text.getBytes(StandardCharsets.UTF_8));
        if (ids.length == 0 && gen.position() == 0) throw new IllegalArgumentException("the prompt is empty");
        long t0 = System.nanoTime();
        if (ids.length < PROGRESS_BLOCKS * window) {
            gen.feed(ids);
        } else {
            try (ProgressBar bar = Progress.tokens("prompt", ids.length)) {
                gen.feed(ids, bar::stepTo);
            }
        }
        long t1 = System.nanoTime();
        TextStreamer streamer = new TextStreamer(codec);
        StopStrings stop = new StopStrings(stops);
        int made = 0;
        while (made < maxTokens && !stop.stopped()) {
            out.print(stop.accept(streamer.accept(gen.next())));
            made++;
            if (out.checkError()) break;     // flushes each token's text; true once the reader is gone (| head)
        }
        out.print(stop.accept(streamer.flush()));
        out.print(stop.flush());
        out.flush();
        long t2 = System.nanoTime();
        if (stats) {
            System.err.printf(Locale.ROOT, "%nprompt: %d tokens at %.1f tokens/s; generated: %d tokens at %.1f tokens/s%n",
                    ids.length, ids.length / ((t1 - t0) / 1e9), made, made / ((t2 - t1) / 1e9));
        }
    }

    private static String readPrompt(Path f) throws IOException {
        if (!Files.isRegularFile(f)) throw new IllegalArgumentException(f + ": no such file");
        return Files.readString(f, StandardCharsets.UTF_8);
    }
}
