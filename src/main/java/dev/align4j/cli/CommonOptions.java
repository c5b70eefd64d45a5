package dev.align4j.cli;

import java.nio.file.Path;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/** Options every command takes (a picocli mixin). */
public final class CommonOptions {
    @Option(names = "--config", paramLabel = "FILE",
            description = "YAML (.yaml/.yml) or JSON (.json) file of option values, keys = long option names without "
                    + "dashes (steps: 300, lr: 1e-4); options on the command line override it")
    Path config;

    @Option(names = "--device", paramLabel = "cpu|cuda", converter = DeviceName.class,
            description = "cpu (default), cuda (= cuda:0) or cuda:K")
    String device = "cpu";

    @Option(names = "--seed", paramLabel = "N", description = "seed of model init, data order and sampling (default: the trainer's)")
    Long seed;

    @Option(names = "--quiet", description = "no progress bars or informational lines; results only")
    boolean quiet;

    /** Checks the syntax only: whether CUDA is usable is checked when the command runs (one clear line, exit 2). */
    static final class DeviceName implements ITypeConverter<String> {
        @Override
        public String convert(String value) {
            String v = value.trim().toLowerCase(java.util.Locale.ROOT);
            if (v.equals("cpu") || v.equals("cuda") || v.equals("gpu") || v.matches("cuda:\\d+")) return v;
            throw new TypeConversionException("expected cpu, cuda or cuda:K, got '" + value + "'");
        }
    }
}
