package dev.align4j.bench;

import dev.align4j.tensor.Device;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The JMH settings of the kernel families, inherited by each {@code <Name>Bench} (JMH's annotations are
 * {@code @Inherited}; a family that needs another value annotates itself): average time in µs, one fork
 * with a 1 GB heap and the parallel GC, 3×1 s warm-up, 5×1 s measurement. Also the trial states of the
 * small families, which differ only in their case.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-XX:+UseParallelGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public abstract class JmhDefaults {
    /** JMH's seed for the inputs (the report's is {@code --seed}). */
    static final long SEED = 42;

    /** The case of one trial on {@code device}; a family's subclass says how to open it. */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public abstract static class Trial<C extends BenchCase> {
        /** cpu, cuda or cuda:K (the naive methods run on the host whatever this is). */
        @Param({"cpu"})
        public String device;

        C c;

        abstract C open(Device device);

        @Setup(Level.Trial)
        public void setup() {
            c = open(Device.parse(device));
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            c.close();
        }
    }

    /** A trial at [B, T] = 256×1024 unless {@code -p B=… -p T=…}. */
    public abstract static class BtTrial<C extends BenchCase> extends Trial<C> {
        @Param({"256"})
        public int B;

        @Param({"1024"})
        public int T;
    }

    /** A trial over B preference pairs, 64 and 1024 unless {@code -p B=…}. */
    public abstract static class PairsTrial<C extends BenchCase> extends Trial<C> {
        @Param({"64", "1024"})
        public int B;
    }
}
