package dev.align4j.cli;

import dev.align4j.tensor.Device;
import dev.align4j.train.ProgressListener;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every subcommand shares: the {@link CommonOptions}, the streams, and the phase. A command sets itself up
 * (reads files, builds configs, loads models; a failure there is a usage error, exit 2), then calls
 * {@link #beginTraining()}: any failure after it is a run failure (exit 1), see {@link Main}.
 */
public abstract class BaseCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    CommonOptions common = new CommonOptions();

    private PrintStream out = System.out, err = System.err;
    private volatile boolean running;

    /** Called by {@link Main} before the command runs. */
    void streams(PrintStream out, PrintStream err) {
        this.out = out;
        this.err = err;
    }

    @Override
    public final Integer call() throws Exception {
        return run();
    }

    private final Record configDefaults;

    protected BaseCommand() {
        this(null);
    }

    /**
     * {@code configDefaults}: the defaults of the config record this command trains with, whose knobs
     * {@link ConfigOptions} makes options of (for commands whose {@code @Command} names it as model transformer).
     */
    protected BaseCommand(Record configDefaults) {
        this.configDefaults = configDefaults;
    }

    /** The defaults of the command's config record; null for a command without one. */
    Record configDefaults() {
        return configDefaults;
    }

    /** The config record of this run: {@link #configDefaults()}'s kind from {@code base}, with the options given applied. */
    protected <R extends Record> R config(R base) {
        return ConfigOptions.apply(spec, base);
    }

    /** The command; returns the exit code. */
    protected abstract int run() throws Exception;

    /** From here on a failure is a run failure (exit 1), not a usage error. */
    protected void beginTraining() {
        running = true;
    }

    /** Whether {@link #beginTraining()} was called. */
    boolean running() {
        return running;
    }

    protected PrintStream out() {
        return out;
    }

    protected PrintStream err() {
        return err;
    }

    /** The command's name ("sft"). */
    protected String name() {
        return spec == null ? getClass().getSimpleName() : spec.name();
    }

    /** An informational line on stdout (suppressed by --quiet). */
    protected void info(String format, Object... args) {
        if (!common.quiet && Launch.primary()) out.println(name() + ": " + String.format(Locale.ROOT, format, args));
    }

    /** A result line on stdout (always printed). */
    protected void result(String format, Object... args) {
        if (Launch.primary()) out.println(String.format(Locale.ROOT, format, args));
    }

    /** The device of --device; CUDA without a usable GPU is a usage error with the reason. */
    protected Device device() {
        try {
            // one GPU per rank: under mpirun a plain "cuda" is the rank's GPU among its machine's (its local rank; modulo
            // the GPUs there, so that more ranks than GPUs share them, which NCCL refuses and the host path allows)
            String spec = common.device.trim();
            if (Launch.size() > 1 && (spec.equalsIgnoreCase("cuda") || spec.equalsIgnoreCase("gpu")) && Device.cudaDeviceCount() > 0)
                return Device.parse("cuda:" + Launch.localRank() % Device.cudaDeviceCount());
            return Device.parse(common.device);
        } catch (IllegalStateException e) {
            throw CliException.usage("--device " + common.device + ": " + e.getMessage());
        }
    }

    /** --seed, or {@code fallback} when it was not given. */
    protected long seed(long fallback) {
        return common.seed != null ? common.seed : fallback;
    }

    protected boolean quiet() {
        return common.quiet;
    }

    /** A progress bar for one training stage on stderr (nothing with --quiet). */
    protected ProgressListener progress(String stage) {
        return ProgressBar.create(stage, err, common.quiet || !Launch.primary(), System.console() != null);
    }

    /** Reads what a resumed run needs from its folder; no checkpoint there is a usage error naming --out. */
    protected static <T> T resumed(Path out, java.util.concurrent.Callable<T> read) {
        if (out == null) throw CliException.usage("--resume needs --out, the run folder to continue");
        try {
            return read.call();
        } catch (Exception e) {
            throw CliException.usage("--resume: cannot continue " + out + ": " + e.getMessage());
        }
    }

    /**
     * Creates the folder {@code dir} of {@code option} (with its parents) once the inputs are validated, so that bad
     * input leaves no folder behind; one that cannot be created or written is a usage error naming the option and
     * the path (not the "no such file" of the ancestor the file system refused).
     */
    protected static Path createFolder(Path dir, String option) {
        String cannot = option + ": cannot create the folder " + dir;
        try {
            Files.createDirectories(dir);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw CliException.usage(cannot + ": " + e.getFile() + " is a file");
        } catch (java.nio.file.AccessDeniedException e) {
            throw CliException.usage(cannot + ": permission denied on " + e.getFile());
        } catch (java.nio.file.FileSystemException e) {
            throw CliException.usage(cannot + ": the file system refused to create " + e.getFile()
                    + (e.getReason() == null ? "" : " (" + e.getReason() + ")"));
        } catch (java.io.IOException e) {
            throw CliException.usage(cannot + ": " + e.getMessage());
        }
        if (!Files.isWritable(dir)) throw CliException.usage(option + ": cannot write to the folder " + dir);
        return dir;
    }

    /** {@code file} must be a readable regular file: otherwise a usage error naming {@code option} and the path. */
    protected static Path requireFile(Path file, String option) {
        if (file == null) throw CliException.usage(option + " is required");
        if (!Files.exists(file)) throw CliException.usage(option + ": no such file: " + file);
        if (!Files.isRegularFile(file)) throw CliException.usage(option + ": not a file: " + file);
        if (!Files.isReadable(file)) throw CliException.usage(option + ": cannot read " + file);
        return file;
    }
}
