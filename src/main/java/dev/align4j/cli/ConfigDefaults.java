package dev.align4j.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.align4j.io.StrictUtf8;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/**
 * Option values from a {@code --config} file, as picocli default values: an option given on the command line
 * overrides the file. The file is a YAML ({@code .yaml}, {@code .yml}) or JSON ({@code .json}) mapping whose keys
 * are the command's long option names without the dashes ({@code steps: 300}, {@code lr: 1e-4}; {@code min_lr}
 * is read as {@code min-lr}); a list becomes a comma-separated value. Every key and value is checked when the
 * file is loaded, so an unknown or duplicate key or a bad value is reported naming the file and the key.
 */
final class ConfigDefaults implements IDefaultValueProvider {
    private final Path file;
    private final Map<String, String> values;

    private ConfigDefaults(Path file, Map<String, String> values) {
        this.file = file;
        this.values = values;
    }

    /**
     * Reads {@code file} for the command {@code spec}; {@code fresh} makes a new instance of that command, on which
     * each value is test-parsed (so a value is converted exactly as on the command line).
     */
    static ConfigDefaults load(Path file, CommandSpec spec, Supplier<Object> fresh) {
        String name = file.getFileName() == null ? file.toString() : file.getFileName().toString().toLowerCase(Locale.ROOT);
        ObjectMapper mapper;
        if (name.endsWith(".yaml") || name.endsWith(".yml")) mapper = new ObjectMapper(new YAMLFactory());
        else if (name.endsWith(".json")) mapper = new ObjectMapper();
        else throw CliException.usage("--config " + file + ": expected a .yaml, .yml or .json file");
        // a key given twice is a mistake to report, not a value to silently take the last of (as the data readers)
        mapper.enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION.mappedFeature());
        JsonNode root;
        try {
            root = mapper.readTree(StrictUtf8.read(file));
        } catch (NoSuchFileException e) {
            throw CliException.usage("--config: no such file: " + file);
        } catch (StreamReadException e) {
            JsonParser parser = e.getProcessor();
            String key = parser == null || parser.getParsingContext() == null ? null : parser.getParsingContext().getCurrentName();
            String line = e.getLocation() == null ? "" : " (line " + e.getLocation().getLineNr() + ")";
            if (key != null && e.getOriginalMessage().startsWith("Duplicate"))
                throw CliException.usage("--config " + file + ": duplicate key '" + key + "'" + line);
            throw CliException.usage("--config " + file + ": cannot read it: " + oneLine(e.getOriginalMessage()) + line);
        } catch (IOException e) {
            throw CliException.usage("--config " + file + ": cannot read it: " + oneLine(e.getMessage()));
        }
        if (root == null || root.isMissingNode() || root.isNull()) return new ConfigDefaults(file, Map.of());
        if (!root.isObject())
            throw CliException.usage(file + ": expected a mapping of option names to values, got " + root.getNodeType());
        Map<String, String> values = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String key = e.getKey().replace('_', '-');
            OptionSpec o = spec.findOption("--" + key);
            if (o == null || o.longestName().equals("--config") || o.usageHelp() || o.versionHelp())
                throw CliException.usage(file + ": unknown key '" + e.getKey() + "' (not an option of align4j " + spec.name()
                        + "; see align4j " + spec.name() + " --help)");
            if (e.getValue().isArray() && o.splitRegex().isEmpty())
                throw CliException.usage(file + ": key '" + e.getKey() + "': a list is not supported for this option"
                        + " (give one value, or repeat the option on the command line)");
            String value = text(file, e.getKey(), e.getValue());
            check(file, e.getKey(), o, value, fresh);
            values.put(o.longestName(), value);
        }
        return new ConfigDefaults(file, values);
    }

    private static String text(Path file, String key, JsonNode v) {
        if (v.isValueNode() && !v.isNull()) return v.asText();
        if (v.isArray()) {
            List<String> parts = new ArrayList<>();
            for (JsonNode x : v) {
                if (!x.isValueNode() || x.isNull()) throw CliException.usage(file + ": key '" + key + "': bad value " + v);
                parts.add(x.asText());
            }
            return String.join(",", parts);
        }
        throw CliException.usage(file + ": key '" + key + "': bad value " + (v.isNull() ? "null" : v.toString()));
    }

    /** Parses {@code --key=value} on a fresh command: a conversion error names the file and the key. */
    private static void check(Path file, String key, OptionSpec o, String value, Supplier<Object> fresh) {
        if (o.arity().max() == 0) {
            if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false"))
                throw CliException.usage(file + ": key '" + key + "': bad value '" + value + "' (expected true or false)");
            return;
        }
        try {
            new CommandLine(fresh.get()).parseArgs(o.longestName() + "=" + value);
        } catch (CommandLine.MissingParameterException e) {
            // another option is required: not this value's fault
        } catch (CommandLine.ParameterException e) {
            throw CliException.usage(file + ": key '" + key + "': bad value '" + value + "' (" + oneLine(e.getMessage()) + ")");
        }
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec o)) return null;
        return values.get(o.longestName());
    }

    Path file() {
        return file;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s*\\R\\s*", " ").trim();
    }
}
