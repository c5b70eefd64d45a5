package dev.align4j.cli;

import dev.align4j.kernels.SelfCheck;
import dev.align4j.tensor.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code align4j selfcheck}: the kernel self-check ({@link SelfCheck}); exit 1 when a check fails. */
@Command(name = "selfcheck", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Kernel self-check against hand-computed values, then kernel timings.",
                "Each kernel family on a case with a known answer, then the kernels timed at",
                "realistic shapes on --device (a table). Exit code 1 when a check fails."})
public final class SelfCheckCommand extends BaseCommand {
    @Option(names = "--quick", description = "smaller timing shapes and fewer repetitions")
    boolean quick;

    @Override
    protected int run() {
        Device device = device();
        result("align4j selfcheck on %s (CUDA: %s)", device, Device.cudaAvailable() ? "available" : Device.cudaUnavailableReason());
        beginTraining();
        int failures = SelfCheck.run(device, quick, out());
        result("%s", failures == 0 ? "selfcheck passed" : "selfcheck FAILED: " + failures + " check(s)");
        return failures == 0 ? 0 : CliException.FAILURE;
    }
}
