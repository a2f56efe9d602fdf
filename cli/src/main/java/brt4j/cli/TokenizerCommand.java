package brt4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code brt tokenizer}: SentencePiece-compatible tokenizers: train a model, encode and decode text. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true,
        description = "Train SentencePiece-compatible unigram/BPE models, and encode or decode text with any .model file.",
        subcommands = {TokenizerTrainCommand.class, TokenizerEncodeCommand.class, TokenizerDecodeCommand.class})
public final class TokenizerCommand implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }
}
