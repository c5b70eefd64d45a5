package dev.align4j.rl.reward;

import dev.align4j.model.RewardModel;
import dev.align4j.tensor.Device;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The {@value #FLAG} flag: reward functions and their weights, e.g. {@code gold,format:0.2,length=8:-0.01,rm=DIR}.
 *
 * <p><b>Syntax.</b> Comma-separated items {@code name[=argument][:weight]}; the weight defaults to 1 and is any
 * finite decimal number (0 computes and logs the function without training on it, e.g. {@code rm=DIR,gold:0}). The
 * names:
 * <ul>
 *   <li>{@code gold} — the task's exact checker, 1/0 ({@link RewardFunctions#gold});
 *   <li>{@code format} — 1 when the completion is one answer line then EOS ({@link RewardFunctions#format()});
 *   <li>{@code length[=T]} — completion tokens beyond T (default 0); give it a negative weight:
 *       {@code length=8:-0.01} costs 0.01 per token beyond 8 ({@link RewardFunctions#length(int, double)});
 *   <li>{@code rm=DIR} — a learned reward model loaded from DIR by the {@link Context} ({@link ModelReward}). A DIR
 *       may hold ':' unless what follows its last ':' is a number (then that is the weight); it cannot hold ','.
 * </ul>
 * Each name at most once. A bad spec throws an {@link IllegalArgumentException} with a one-line message naming
 * {@value #FLAG} and the offending item.
 *
 * @param items the parsed items, in order
 */
public record RewardSpec(List<Item> items) {
    /** The command-line flag this spec is given with, named in every error. */
    public static final String FLAG = "--reward";
    /** The built-in names. */
    public static final List<String> NAMES = List.of("gold", "format", "length", "rm");
    private static final Pattern NUMBER = Pattern.compile("[+-]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][+-]?\\d+)?");

    /**
     * One item.
     *
     * @param name     one of {@link #NAMES}
     * @param argument what follows '=' (rm's directory, length's target), or null
     * @param weight   the weight
     */
    public record Item(String name, String argument, double weight) {
        @Override
        public String toString() {
            return name + (argument == null ? "" : "=" + argument)
                    + (weight == 1 ? "" : ":" + java.math.BigDecimal.valueOf(weight).stripTrailingZeros().toPlainString());
        }
    }

    public RewardSpec {
        if (items == null || items.isEmpty()) throw new IllegalArgumentException(FLAG + ": no reward functions");
        items = List.copyOf(items);
    }

    /** Loads what a spec names beyond the built-ins: the CLI's reward model, on its device with its checks. */
    @FunctionalInterface
    public interface Context {
        /**
         * The {@code rm=DIR} function, named "rm"; when it is {@link AutoCloseable}, the {@link CombinedReward} built
         * closes it. The CLI checks the model fits and shares the policy's vocabulary, and may wrap it (a
         * {@link dev.align4j.rl.RewardScale}, standardised on the policy's samples).
         */
        RewardFunction rewardModel(Path dir) throws IOException;

        /** Loads {@code rm=DIR} with {@link RewardModel#load} on {@code device}: raw scores, owned by the reward built. */
        static Context loading(Device device) {
            if (device == null) throw new IllegalArgumentException("device must not be null");
            return dir -> ModelReward.owning(RewardModel.load(dir, device));
        }

        /** A context for specs without {@code rm}: naming {@code rm} fails. */
        static Context none() {
            return dir -> {
                throw new IllegalArgumentException(FLAG + ": rm=" + dir + " needs a reward model loader (none given here)");
            };
        }
    }

    /** Parses {@code spec} (see the class comment); the error names {@value #FLAG} and the item. */
    public static RewardSpec parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException(FLAG + ": empty; give e.g. gold,format:0.2");
        String[] raw = spec.split(",", -1);
        List<Item> items = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (int k = 0; k < raw.length; k++) {
            String it = raw[k].strip();
            if (it.isEmpty())
                throw new IllegalArgumentException(FLAG + " " + spec + ": item " + (k + 1) + " is empty (two commas in a row, or one at an end?)");
            Item item = item(it);
            if (!seen.add(item.name())) throw new IllegalArgumentException(FLAG + ": '" + it + "': " + item.name() + " appears twice");
            items.add(item);
        }
        return new RewardSpec(items);
    }

    private static Item item(String it) {
        String name, arg = null, weight = null;
        int eq = it.indexOf('=');
        if (eq >= 0) {
            name = it.substring(0, eq).strip();
            String rest = it.substring(eq + 1);
            int c = rest.lastIndexOf(':');
            if (c >= 0 && NUMBER.matcher(rest.substring(c + 1).strip()).matches()) {
                arg = rest.substring(0, c).strip();
                weight = rest.substring(c + 1).strip();
            } else if (c >= 0 && c == rest.length() - 1) {
                throw bad(it, "the weight after ':' is empty");
            } else {
                arg = rest.strip();
            }
            if (arg.isEmpty()) throw bad(it, "nothing after '='" + (name.equals("rm") ? " (rm=DIR)" : ""));
        } else {
            int c = it.indexOf(':');
            name = (c < 0 ? it : it.substring(0, c)).strip();
            if (c >= 0) {
                weight = it.substring(c + 1).strip();
                if (!NUMBER.matcher(weight).matches())
                    throw bad(it, weight.isEmpty() ? "the weight after ':' is empty" : "the weight '" + weight + "' is not a number");
            }
        }
        if (!NAMES.contains(name))
            throw bad(it, "unknown reward function '" + name + "' (known: gold, format, length[=T], rm=DIR)");
        switch (name) {
            case "rm" -> {
                if (arg == null) throw bad(it, "rm needs its model directory: rm=DIR[:weight]");
            }
            case "length" -> {
                if (arg != null && !arg.matches("\\d{1,6}")) throw bad(it, "length's target '" + arg + "' is not a token count (length=T, T >= 0)");
            }
            default -> {
                if (arg != null) throw bad(it, name + " takes no '=' argument");
            }
        }
        double w = weight == null ? 1 : Double.parseDouble(weight);
        if (!Double.isFinite(w)) throw bad(it, "the weight '" + weight + "' is not finite");
        return new Item(name, arg, w);
    }

    private static IllegalArgumentException bad(String item, String why) {
        return new IllegalArgumentException(FLAG + ": '" + item + "': " + why);
    }

    /** The items' names, in order. */
    public List<String> names() {
        return items.stream().map(Item::name).toList();
    }

    /** True when the spec names {@code rm} (a reward model must be loaded). */
    public boolean needsRewardModel() {
        return names().contains("rm");
    }

    /**
     * The functions with their weights, thread-safe ones on {@code threads} threads. A reward model comes from
     * {@code context} and is closed with the result when it is {@link AutoCloseable}; a failed load closes what was
     * loaded and names the item.
     */
    public CombinedReward build(Context context, int threads) throws IOException {
        if (context == null) throw new IllegalArgumentException("context must not be null (Context.none() for none)");
        List<CombinedReward.Weighted> fs = new ArrayList<>();
        List<AutoCloseable> owned = new ArrayList<>();
        try {
            for (Item it : items) {
                RewardFunction f = switch (it.name()) {
                    case "gold" -> RewardFunctions.gold();
                    case "format" -> RewardFunctions.format();
                    case "length" -> RewardFunctions.length(it.argument() == null ? 0 : Integer.parseInt(it.argument()), 1);
                    case "rm" -> {
                        RewardFunction m;
                        try {
                            m = context.rewardModel(Path.of(it.argument()));
                        } catch (IOException e) {
                            throw new IOException(FLAG + ": '" + it + "': " + e.getMessage(), e);
                        }
                        if (m == null) throw new IllegalStateException(FLAG + ": '" + it + "': the context returned no function");
                        if (m instanceof AutoCloseable c) owned.add(c);
                        yield m;
                    }
                    default -> throw new IllegalStateException("unhandled reward " + it.name());
                };
                fs.add(new CombinedReward.Weighted(f, it.weight()));
            }
            return new CombinedReward(fs, threads, owned);
        } catch (IOException | RuntimeException | Error e) {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    /** The spec in its own syntax ({@code gold,format:0.2,rm=DIR}). */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (Item it : items) sb.append(sb.length() == 0 ? "" : ",").append(it);
        return sb.toString();
    }
}
