package brt4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The `brt` command: each job is a subcommand in its own file. */
@Command(name = "brt", mixinStandardHelpOptions = true, version = "brt4j 0.1.0",
        description = "The Block-Recurrent Transformer on the JVM.",
        subcommands = {
                CommandLine.HelpCommand.class,
                TokenizerCommand.class,
                TrainCommand.class,
                EvalCommand.class,
                DemoCommand.class,
                TraceCommand.class,
                CheckCommand.class,
                GenerateCommand.class,
        })
public final class Brt implements Runnable {
    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(System.out); }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured picocli command line; user errors print one sentence, not a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Brt());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof java.io.IOException
                    || ex instanceof IllegalStateException || ex instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("brt: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl;
    }
}
