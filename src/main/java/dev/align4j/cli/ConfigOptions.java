package dev.align4j.cli;

import dev.align4j.config.Knob;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.TypeConversionException;

/**
 * The one binder between config records and a command: every {@link Knob} of the command's defaults record
 * ({@link BaseCommand#configDefaults()}, walked into nested records) becomes an option {@code --name} whose help line
 * shows the record's default, and a key of {@code --config} files ({@link ConfigDefaults} reads the same options).
 * {@link #apply} builds the record back: each option given replaces the default, the rest stay as the record says —
 * so a default is written once, in the record, and cannot drift from the help or the CLI. A record's validation
 * error comes back naming the options, not the Java components.
 *
 * <p>A knob whose option the command already declares (the common {@code --seed}) takes that option's value.
 */
public final class ConfigOptions implements IModelTransformer {
    @Override
    public CommandSpec transform(CommandSpec spec) {
        if (spec.userObject() instanceof BaseCommand c && c.configDefaults() != null) add(spec, c.configDefaults());
        return spec;
    }

    /** Adds an option for every knob of {@code defaults} that {@code spec} does not already have. */
    static void add(CommandSpec spec, Record defaults) {
        for (Leaf leaf : leaves(defaults)) {
            if (spec.findOption(leaf.option()) != null) continue;
            Class<?> type = boxed(leaf.component().getType());
            List<String> names = new ArrayList<>(List.of(leaf.option()));
            for (String a : leaf.knob().aliases()) names.add("--" + a);
            OptionSpec.Builder b = OptionSpec.builder(names.toArray(String[]::new)).type(type)
                    .paramLabel(label(leaf.knob(), type))
                    .description(leaf.knob().doc() + " (default: " + show(leaf.value()) + ")");
            if (type == Boolean.class) b.arity("0..1");
            if (type.isEnum()) b.converters(v -> enumValue(type, v));
            spec.addOption(b.build());
        }
    }

    /** {@code base} with every option given on the command line or in {@code --config} put in its place. */
    static <R extends Record> R apply(CommandSpec spec, R base) {
        Map<String, String> flags = new LinkedHashMap<>();
        for (Leaf leaf : leaves(base)) flags.put(leaf.component().getName(), leaf.option());
        @SuppressWarnings("unchecked")
        R r = (R) rebuild(spec, base, flags);
        return r;
    }

    /** The value of option {@code name} (null when it was not given). */
    static <T> T value(CommandSpec spec, String name) {
        OptionSpec o = spec.findOption(name);
        if (o == null) throw new IllegalArgumentException("no option " + name);
        return o.getValue();
    }

    private record Leaf(RecordComponent component, Knob knob, Object value) {
        String option() {
            return "--" + name(component, knob);
        }
    }

    private static List<Leaf> leaves(Record r) {
        List<Leaf> out = new ArrayList<>();
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            Knob k = c.getAnnotation(Knob.class);
            Object v = get(c, r);
            if (k != null) out.add(new Leaf(c, k, v));
            else if (v instanceof Record nested) out.addAll(leaves(nested));
        }
        return out;
    }

    private static Object rebuild(CommandSpec spec, Record base, Map<String, String> flags) {
        RecordComponent[] cs = base.getClass().getRecordComponents();
        Object[] args = new Object[cs.length];
        for (int i = 0; i < cs.length; i++) {
            Knob k = cs[i].getAnnotation(Knob.class);
            Object v = get(cs[i], base);
            if (k == null) args[i] = v instanceof Record nested ? rebuild(spec, nested, flags) : v;
            else {
                Object given = value(spec, "--" + name(cs[i], k));
                args[i] = given != null ? narrow(given, cs[i].getType()) : v;
            }
        }
        for (int i = 0; i < cs.length; i++) { // a knob that follows another's ratio, when only the other is given
            Knob k = cs[i].getAnnotation(Knob.class);
            if (k == null || k.ratioTo().isEmpty() || value(spec, "--" + name(cs[i], k)) != null) continue;
            int j = index(cs, k.ratioTo());
            double was = ((Number) get(cs[j], base)).doubleValue(), now = ((Number) args[j]).doubleValue();
            if (now != was) args[i] = narrow(((Number) args[i]).doubleValue() * (now / was), cs[i].getType());
        }
        try {
            Constructor<?> ctor = base.getClass().getDeclaredConstructor(Arrays.stream(cs).map(RecordComponent::getType).toArray(Class[]::new));
            return ctor.newInstance(args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof IllegalArgumentException bad) throw CliException.usage(flags(bad.getMessage(), flags));
            throw new IllegalStateException(e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(base.getClass() + " has no canonical constructor", e);
        }
    }

    private static final Pattern WORD = Pattern.compile("\\b[a-z][A-Za-z0-9]*\\b");

    /** The message with each knob's Java name replaced by its option ({@code minLr} → {@code --min-lr}). */
    static String flags(String message, Map<String, String> flags) {
        if (message == null) return "invalid setting";
        Matcher m = WORD.matcher(message);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String f = flags.get(m.group());
            m.appendReplacement(sb, Matcher.quoteReplacement(f != null ? f : m.group()));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static int index(RecordComponent[] cs, String knobName) {
        for (int i = 0; i < cs.length; i++) {
            Knob k = cs[i].getAnnotation(Knob.class);
            if (k != null && name(cs[i], k).equals(knobName)) return i;
        }
        throw new IllegalStateException("ratioTo '" + knobName + "': no such knob in " + cs[0].getDeclaringRecord());
    }

    static String name(RecordComponent c, Knob k) {
        return k.name().isEmpty() ? c.getName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT) : k.name();
    }

    private static Object get(RecordComponent c, Record r) {
        try {
            return c.getAccessor().invoke(r);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Class<?> boxed(Class<?> t) {
        if (t == long.class) return Long.class;
        if (t == int.class) return Integer.class;
        if (t == double.class) return Double.class;
        if (t == float.class) return Float.class;
        if (t == boolean.class) return Boolean.class;
        return t;
    }

    private static Object narrow(Object v, Class<?> t) {
        if (v instanceof Number n) {
            if (t == long.class || t == Long.class) return n.longValue();
            if (t == int.class || t == Integer.class) return n.intValue();
            if (t == double.class || t == Double.class) return n.doubleValue();
            if (t == float.class || t == Float.class) return n.floatValue();
        }
        return v;
    }

    private static String label(Knob k, Class<?> type) {
        if (!k.label().isEmpty()) return k.label();
        if (type.isEnum()) return choices(type);
        if (type == Long.class || type == Integer.class) return "N";
        if (type == Boolean.class) return "true|false";
        return "X";
    }

    /** A default as the user would type it: 0.001 not 1.0E-3, k1 not K1. */
    static String show(Object v) {
        if (v instanceof Enum<?> e) return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
        if (v instanceof Double || v instanceof Float) {
            BigDecimal d = new BigDecimal(v.toString()).stripTrailingZeros();
            return (d.scale() > 6 ? d.toString() : d.toPlainString()).toLowerCase(Locale.ROOT); // 1e-8, not 0.00000001
        }
        return String.valueOf(v);
    }

    /** {@code ln-dpo}, {@code LN_DPO} and {@code lndpo} all name {@code LN_DPO}. */
    private static Object enumValue(Class<?> type, String v) {
        String want = v.trim().replaceAll("[-_]", "").toLowerCase(Locale.ROOT);
        for (Object c : type.getEnumConstants()) if (show(c).replace("-", "").equals(want)) return c;
        throw new TypeConversionException("expected " + choices(type) + ", got '" + v + "'");
    }

    private static String choices(Class<?> enumType) {
        return String.join("|", Arrays.stream(enumType.getEnumConstants()).map(ConfigOptions::show).toList());
    }
}
