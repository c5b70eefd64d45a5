package dev.align4j.cli;

/**
 * This process's place in a job that Open MPI's {@code mpirun} launched, from the environment it sets
 * ({@code OMPI_COMM_WORLD_RANK}, {@code OMPI_COMM_WORLD_SIZE}), read without loading MPI: so that only rank 0 prints
 * progress and writes files, and an error names its rank even when MPI itself failed to start. A process not
 * launched by mpirun is rank 0 of 1.
 */
final class Launch {
    private Launch() {}

    static int rank() {
        return number("OMPI_COMM_WORLD_RANK", 0);
    }

    static int size() {
        return number("OMPI_COMM_WORLD_SIZE", 1);
    }

    /** The rank among the job's processes on this machine (OMPI_COMM_WORLD_LOCAL_RANK): which GPU is this rank's. */
    static int localRank() {
        return number("OMPI_COMM_WORLD_LOCAL_RANK", 0);
    }

    /** Rank 0: the one that prints and writes. */
    static boolean primary() {
        return rank() == 0;
    }

    /** " (rank k of n)" in a job of several processes, else "". */
    static String label() {
        return size() > 1 ? " (rank " + rank() + " of " + size() + ")" : "";
    }

    private static int number(String name, int dflt) {
        String v = System.getenv(name);
        if (v == null) return dflt;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            return dflt;
        }
    }
}
