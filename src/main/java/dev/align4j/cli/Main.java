package dev.align4j.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * {@code align4j <command> [options]}: the command line. {@link #execute} runs one command in-process and returns
 * its exit code (the tests call it); {@link #main} exits with it.
 *
 * <p>Exit codes: 0 success; 2 bad usage — an unknown option, a bad value, a missing or unreadable file, bad data,
 * an unknown or bad {@code --config} key, {@code --device cuda} without a GPU, or an IllegalArgumentException /
 * IOException (DataFormatException included) while a command sets itself up; 1 a failure while training or running (e.g.
 * TrainingDivergedException). Errors are ONE line on stderr, {@code align4j <cmd>: message}; {@code --stacktrace}
 * adds the stack trace. An unknown command is one line listing the commands (exit 2). Nothing below this class
 * exits the JVM: {@link #main} alone calls {@code System.exit}.
 */
@Command(name = "align4j", mixinStandardHelpOptions = true, version = "align4j 0.1.0-SNAPSHOT",
        description = "LLM post-training on the JVM: pre-training, SFT, reward models, PPO, DPO.",
        footer = {"", "Every command takes --help, --config FILE, --device cpu|cuda, --seed N, --quiet;",
                "add --stacktrace to see stack traces."})
public final class Main implements Runnable {
    /**
     * The subcommands, in the order of the help. To add one, add its constructor here (one line); a class
     * extending {@link BaseCommand} gets the common options, the streams and the exit-code rules.
     */
    static final List<Supplier<Object>> COMMANDS = List.of(
            PretrainCommand::new,
            SftCommand::new,
            RmCommand::new,
            PpoCommand::new,
            GrpoCommand::new,
            DpoCommand::new,
            MergeCommand::new,
            GenerateCommand::new,
            ScoreCommand::new,
            EvalCommand::new,
            BenchCommand::new,
            DemoCommand::new,
            ReportCommand::new,
            SelfCheckCommand::new,
            TrainLmCommand::new,
            PostTrainCommand::new
    );

    @Option(names = "--stacktrace", scope = ScopeType.INHERIT, description = "print stack traces of errors (debugging)")
    boolean stacktrace;

    private PrintStream out = System.out;

    public static void main(String[] args) {
        int code = execute(args, System.out, System.err);
        if (code != 0 && Launch.size() > 1) {
            // one rank's failure ends the job: the others would otherwise wait in their next collective forever
            try {
                dev.align4j.tensor.Collectives.world().abort(code);
            } catch (RuntimeException | Error e) {
                System.err.println("align4j" + Launch.label() + ": could not abort the MPI job: " + e.getMessage());
            }
        }
        System.exit(code);
    }

    @Override
    public void run() {
        // no command: the usage
        new CommandLine(this).usage(out);
    }

    /** Runs {@code args} in-process with {@code out} and {@code err} as stdout and stderr; returns the exit code. */
    public static int execute(String[] args, PrintStream out, PrintStream err) {
        boolean trace = Arrays.asList(args).contains("--stacktrace");
        Main main = new Main();
        main.out = out;
        CommandLine cl = new CommandLine(main);
        java.util.Map<String, Supplier<Object>> fresh = new java.util.HashMap<>();
        for (Supplier<Object> s : COMMANDS) {
            Object c = s.get();
            if (c instanceof BaseCommand b) b.streams(out, err);
            CommandLine sub = new CommandLine(c);
            cl.addSubcommand(sub);
            fresh.put(sub.getCommandName(), s);
        }
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        cl.setParameterExceptionHandler((ex, a) -> {
            String label = "align4j" + (ex.getCommandLine() == cl ? "" : " " + ex.getCommandLine().getCommandName());
            String command = ex.getCommandLine() == cl ? unknownCommand(ex) : null;
            if (command != null)
                err.println("align4j: unknown command '" + command + "' (commands: " + String.join(", ", cl.getSubcommands().keySet())
                        + "; see align4j --help)");
            else err.println(label + ": " + ConfigDefaults.oneLine(ex.getMessage()) + " (see " + label + " --help)");
            if (trace) ex.printStackTrace(err);
            return CliException.USAGE;
        });
        cl.setExecutionExceptionHandler((ex, sub, parse) -> {
            boolean running = sub.getCommand() instanceof BaseCommand b && b.running();
            return report(err, "align4j " + sub.getCommandName(), ex, exitCode(ex, running), trace);
        });

        // --config FILE: the values become the subcommand's picocli defaults, so the command line overrides them
        String subName = subcommand(cl, args);
        Path config = configFile(args);
        if (config != null) {
            String label = subName == null ? "align4j" : "align4j " + subName;
            if (subName == null) {
                err.println(label + ": --config goes with a command (align4j <command> --config FILE)");
                return CliException.USAGE;
            }
            try {
                CommandLine sub = cl.getSubcommands().get(subName);
                sub.setDefaultValueProvider(ConfigDefaults.load(config, sub.getCommandSpec(), fresh.get(subName)));
            } catch (CliException e) {
                return report(err, label, e, e.exitCode(), trace);
            }
        }
        return cl.execute(args);
    }

    /** The exit code of an exception thrown by a command; {@code running}: after {@link BaseCommand#beginTraining()}. */
    static int exitCode(Throwable e, boolean running) {
        if (e instanceof CliException c) return c.exitCode();
        if (e instanceof CommandLine.ParameterException) return CliException.USAGE;
        if (running) return CliException.FAILURE;
        // while setting up: bad values, and files that are missing, unreadable or malformed (DataFormatException,
        // a damaged model file, ...) are the user's to fix
        if (e instanceof IllegalArgumentException || e instanceof IOException) return CliException.USAGE;
        return CliException.FAILURE;
    }

    /** One line on {@code err} (plus the trace with --stacktrace); returns {@code code}. */
    static int report(PrintStream err, String label, Throwable e, int code, boolean trace) {
        err.println(label + Launch.label() + ": " + message(e));
        if (trace) e.printStackTrace(err);
        err.flush();
        return code;
    }

    static String message(Throwable e) {
        String m = ConfigDefaults.oneLine(e.getMessage());
        if (e instanceof NoSuchFileException) return "no such file: " + m;
        if (e instanceof AccessDeniedException) return "permission denied: " + m;
        if (e instanceof CliException || e instanceof IllegalArgumentException || e instanceof IOException
                || e instanceof IllegalStateException || e instanceof dev.align4j.train.TrainingDivergedException)
            return m.isEmpty() ? e.getClass().getSimpleName() : m;
        // an unexpected exception: its type says more than its message
        return e.getClass().getSimpleName() + (m.isEmpty() ? "" : ": " + m) + " (run with --stacktrace for details)";
    }

    /** The word given where a command belongs when it names none (null for other errors, e.g. an unknown option). */
    private static String unknownCommand(CommandLine.ParameterException ex) {
        if (!(ex instanceof CommandLine.UnmatchedArgumentException u) || u.getUnmatched().isEmpty()) return null;
        String first = u.getUnmatched().get(0);
        return first.startsWith("-") ? null : first;
    }

    /** The first argument naming a subcommand (null when none). */
    private static String subcommand(CommandLine cl, String[] args) {
        for (String a : args) if (cl.getSubcommands().containsKey(a)) return a;
        return null;
    }

    /** The value of {@code --config FILE} or {@code --config=FILE}, or null. */
    private static Path configFile(String[] args) {
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--config") && i + 1 < args.length) return Path.of(args[i + 1]);
            if (args[i].startsWith("--config=")) return Path.of(args[i].substring("--config=".length()));
        }
        return null;
    }
}
