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
        try {
            System.exit(commandLine().execute(args));
        } catch (OutOfMemoryError e) {
            // e.g. a --batch far beyond the heap: a sentence instead of a stack trace (the frames are gone by now)
            System.err.printf("brt: out of Java heap memory (%,d MiB); lower --batch or the model's size, or give the JVM"
                    + " more, e.g. BRT_JAVA_OPTS=-Xmx16g%n", Runtime.getRuntime().maxMemory() >> 20);
            System.exit(3);
        }
    }

    /** The configured picocli command line; user errors print one sentence, not a stack trace. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Brt());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof java.io.IOException
                    || ex instanceof IllegalStateException || ex instanceof java.io.UncheckedIOException) {
                cmd.getErr().println("brt: " + sentence(ex));
                return 2;
            }
            throw ex;
        });
        return cl;
    }

    /**
     * The error as one sentence. A file system exception's message is often only the path ("run" for a run directory
     * that exists as a file): the kind of failure is added.
     */
    static String sentence(Exception ex) {
        Throwable t = ex instanceof java.io.UncheckedIOException u && u.getCause() instanceof java.nio.file.FileSystemException ? u.getCause() : ex;
        if (!(t instanceof java.nio.file.FileSystemException f)) return ex.getMessage();
        String what = f.getReason() != null ? f.getReason() : switch (f) {
            case java.nio.file.NoSuchFileException e -> "no such file or directory";
            case java.nio.file.AccessDeniedException e -> "permission denied";
            case java.nio.file.FileAlreadyExistsException e -> "already exists (a file where a directory was expected?)";
            case java.nio.file.NotDirectoryException e -> "not a directory";
            case java.nio.file.DirectoryNotEmptyException e -> "directory not empty";
            default -> f.getClass().getSimpleName();
        };
        return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "") + ": " + what;
    }
}
